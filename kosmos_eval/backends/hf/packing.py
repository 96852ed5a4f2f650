"""Shared-prefix packing: many ranking continuations scored in one sequence, each context computed once.

Ranking asks for log P(continuation | context) for many (context, continuation) pairs that share long
prefixes: one image and prompt with 1,000 class names (ImageNet), six candidate contexts after the same eight
panels (Raven), the same few-shot demonstrations in front of every candidate. Running one padded row per pair
recomputes the shared prefix for every pair; that is what made earlier harnesses take hours.

Here the token sequences of a batch are inserted into a prefix tree (a trie) and the tree is laid out as one
flat sequence in depth-first order. Each token attends to exactly its ancestors and itself, and gets the
position it would have in its own plain sequence (its depth), so the model computes for every token the same
function as in the plain row-per-pair forward pass; only the shared prefixes are no longer repeated. In
depth-first order the descendants of a token form a contiguous range, so "b is an ancestor-or-self of a" is
`b <= a < subtree_end[b]`, and the whole attention mask is built with two comparisons on the device.

Tokens are matched by a key, not just by id: image slots carry the identity of their image, so two different
images (whose slot ids are equal) are never merged. A pack is bounded in length (attention cost grows with
the square of it); a request whose continuations do not fit is split over several packs, each repeating the
context. Tree building is plain Python over the continuation tokens only: a context is inserted once per
request, never once per continuation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class PackItem:
    """One rank request as token sequences: its context (ids and matching keys) and its continuations."""

    request: int
    context_keys: Sequence[Hashable]
    context_ids: Sequence[int]
    continuations: Sequence[Sequence[int]]


@dataclass(frozen=True)
class Scored:
    """Where continuation `continuation` of request `request` is read from a pack: the pack positions whose
    output predicts each of its tokens, and the tokens themselves."""

    request: int
    continuation: int
    predictors: list[int]
    targets: list[int]


@dataclass
class Pack:
    ids: list[int]
    keys: list[Hashable]
    positions: list[int]  # depth from the root: the position the token has in its own plain sequence
    subtree_end: list[int]  # one past the last descendant, in depth-first order
    scored: list[Scored]
    requests: list[int]  # requests with at least one continuation in this pack, in order

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class _Trie:
    ids: list[int] = field(default_factory=lambda: [-1])
    keys: list[Hashable] = field(default_factory=lambda: [None])
    children: list[dict[Hashable, int]] = field(default_factory=lambda: [{}])

    @property
    def size(self) -> int:
        return len(self.ids) - 1  # node 0 is the root, not a token

    def missing(self, node: int, keys: Sequence[Hashable]) -> int:
        """How many new nodes inserting `keys` below `node` would create."""
        for depth, key in enumerate(keys):
            child = self.children[node].get(key)
            if child is None:
                return len(keys) - depth
            node = child
        return 0

    def insert(self, node: int, keys: Sequence[Hashable], ids: Sequence[int]) -> list[int]:
        """The nodes of the path for `keys` below `node`, created where missing."""
        path = []
        for key, token in zip(keys, ids, strict=True):
            child = self.children[node].get(key)
            if child is None:
                child = len(self.ids)
                self.ids.append(token)
                self.keys.append(key)
                self.children.append({})
                self.children[node][key] = child
            path.append(child)
            node = child
        return path


def _layout(trie: _Trie, scored: list[Scored], requests: list[int]) -> Pack:
    """Depth-first order of the trie's tokens, with depths and subtree ends, and `scored` renumbered."""
    order: list[int] = []
    depth_of: dict[int, int] = {}
    end_of: dict[int, int] = {}
    stack: list[tuple[int, int, bool]] = [(child, 0, False) for child in reversed(trie.children[0].values())]
    while stack:
        node, depth, done = stack.pop()
        if done:
            end_of[node] = len(order)
            continue
        depth_of[node] = depth
        order.append(node)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(trie.children[node].values()))
    new_index = {node: i for i, node in enumerate(order)}
    return Pack(
        ids=[trie.ids[n] for n in order],
        keys=[trie.keys[n] for n in order],
        positions=[depth_of[n] for n in order],
        subtree_end=[end_of[n] for n in order],
        scored=[Scored(s.request, s.continuation, [new_index[p] for p in s.predictors], s.targets) for s in scored],
        requests=requests,
    )


def pack(items: Sequence[PackItem], max_tokens: int, share_across_requests: bool = True) -> list[Pack]:
    """Packs of at most `max_tokens` tokens (more only when one context plus one continuation is longer).

    With `share_across_requests` off, every pack holds continuations of one request only (models whose image
    inputs are tied to a row, not to tokens, need this).
    """
    packs: list[Pack] = []
    trie, scored, requests = _Trie(), [], []

    def flush() -> None:
        nonlocal trie, scored, requests
        if scored:
            packs.append(_layout(trie, scored, requests))
        trie, scored, requests = _Trie(), [], []

    for item in items:
        if not item.context_ids:
            raise ValueError(f"request {item.request}: an empty context cannot be scored (no token predicts the first)")
        if not share_across_requests:
            flush()
        pending = list(enumerate(item.continuations))
        while pending:
            first = pending[0][1]
            needed = trie.missing(0, item.context_keys) + len(first)
            if trie.size and trie.size + needed > max_tokens:
                flush()
            context_path = trie.insert(0, item.context_keys, item.context_ids)
            tail = context_path[-1]
            requests.append(item.request)
            taken = 0
            for index, tokens in pending:
                if taken and trie.size + trie.missing(tail, tokens) > max_tokens:
                    break
                path = trie.insert(tail, tokens, tokens)
                scored.append(Scored(item.request, index, [tail, *path[:-1]], list(tokens)))
                taken += 1
            pending = pending[taken:]
            if pending:
                flush()
    flush()
    return packs


@dataclass(frozen=True)
class PackedBatch:
    """Packs padded to one width. `attention` is additive (0 where attended, the dtype's minimum elsewhere),
    shape (B, 1, L, L); `offsets[b]` is where pack b's first token sits after padding."""

    ids: torch.Tensor
    positions: torch.Tensor
    attention: torch.Tensor
    offsets: list[int]
    packs: list[Pack]


def batch_packs(
    packs: list[Pack], pad_id: int, dtype: torch.dtype, device: str | torch.device, padding_side: str = "right"
) -> PackedBatch:
    """One padded batch. Padding tokens attend only to themselves (a row with nothing to attend would give
    NaN), and no real token attends to them, so padding on either side changes no real token's output."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be left or right, not {padding_side!r}")
    width = max(len(p) for p in packs)
    ids = torch.full((len(packs), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(packs), width), dtype=torch.long)
    # ancestor test per row: key j is visible from query i iff start_j <= i < end_j (start_j = j for real tokens)
    starts = torch.arange(width).repeat(len(packs), 1)
    ends = starts + 1  # padding: only itself
    offsets = []
    for row, p in enumerate(packs):
        offset = width - len(p) if padding_side == "left" else 0
        offsets.append(offset)
        span = slice(offset, offset + len(p))
        ids[row, span] = torch.tensor(p.ids)
        positions[row, span] = torch.tensor(p.positions)
        ends[row, span] = torch.tensor(p.subtree_end) + offset
    starts, ends = starts.to(device), ends.to(device)
    query = torch.arange(width, device=device)[None, :, None]
    visible = (starts[:, None, :] <= query) & (query < ends[:, None, :])
    attention = torch.zeros(visible.shape, dtype=dtype, device=device)
    attention.masked_fill_(~visible, torch.finfo(dtype).min)
    return PackedBatch(ids.to(device), positions.to(device), attention[:, None], offsets, packs)
