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

import numpy as np
import torch


@dataclass(frozen=True)
class PackItem:
    """One rank request as token sequences: its context (ids and matching keys) and its continuations."""

    request: int
    context_keys: Sequence[Hashable]
    context_ids: Sequence[int]
    continuations: Sequence[Sequence[int]]


@dataclass
class Pack:
    """One packed sequence, as arrays (a pack may hold thousands of tokens; nothing here is per-token Python)."""

    ids: np.ndarray
    positions: np.ndarray  # depth from the root: the position the token has in its own plain sequence
    subtree_end: np.ndarray  # one past the last descendant, in depth-first order
    special: list[tuple[int, Hashable]]  # (index, key) of tokens whose key is not their id: image slots
    predictors: np.ndarray  # per scored token: the index whose output predicts it
    targets: np.ndarray  # per scored token: its id
    spans: list[tuple[int, int, int]]  # (request, continuation, tokens) in the order of `targets`
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

    def layout(self) -> tuple[list[int], dict[int, int], dict[int, int]]:
        """Nodes in depth-first order, with each node's depth and subtree end (in that order's indices)."""
        order: list[int] = []
        depth_of: dict[int, int] = {}
        end_of: dict[int, int] = {}
        stack: list[tuple[int, int, bool]] = [(child, 0, False) for child in reversed(self.children[0].values())]
        while stack:
            node, depth, done = stack.pop()
            if done:
                end_of[node] = len(order)
                continue
            depth_of[node] = depth
            order.append(node)
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in reversed(self.children[node].values()))
        return order, depth_of, end_of


def _trie_pack(trie: _Trie, scored: list[tuple[int, int, list[int], list[int]]], requests: list[int]) -> Pack:
    """A pack from a trie and its scored paths (request, continuation, predictor nodes, targets)."""
    order, depth_of, end_of = trie.layout()
    new_index = {node: i for i, node in enumerate(order)}
    keys = [trie.keys[n] for n in order]
    return Pack(
        ids=np.array([trie.ids[n] for n in order], dtype=np.int64),
        positions=np.array([depth_of[n] for n in order], dtype=np.int64),
        subtree_end=np.array([end_of[n] for n in order], dtype=np.int64),
        special=[(i, key) for i, key in enumerate(keys) if not isinstance(key, int)],
        predictors=np.array([new_index[p] for _, _, path, _ in scored for p in path], dtype=np.int64),
        targets=np.array([t for _, _, _, targets in scored for t in targets], dtype=np.int64),
        spans=[(request, index, len(targets)) for request, index, _, targets in scored],
        requests=requests,
    )


@dataclass(frozen=True)
class _Forest:
    """Part of a continuation set laid out below a context, positions relative to the context's end
    (predictor -1 is the context's last token). Computed once per set: ImageNet repeats one set 50,000 times."""

    ids: np.ndarray
    depth: np.ndarray
    end: np.ndarray
    predictors: np.ndarray
    targets: np.ndarray
    spans: list[tuple[int, int]]  # (continuation, tokens)


_FORESTS: dict[tuple, list[_Forest]] = {}


def _forests(continuations: Sequence[Sequence[int]], budget: int) -> list[_Forest]:
    key = (budget, tuple(map(tuple, continuations)))
    cached = _FORESTS.get(key)
    if cached is not None:
        return cached
    forests: list[_Forest] = []
    pending = list(enumerate(continuations))
    while pending:
        trie, scored = _Trie(), []
        for index, tokens in pending:
            if scored and trie.size + trie.missing(0, tokens) > budget:
                break
            path = trie.insert(0, tokens, tokens)
            scored.append((0, index, [0, *path[:-1]], list(tokens)))
        pending = pending[len(scored) :]
        laid = _trie_pack(trie, [(r, i, [p for p in path if p], t) for r, i, path, t in scored], [])
        # the root (node 0) is not in the layout: a first token's predictor is the context's last token
        first = np.cumsum([0] + [n for _, _, n in laid.spans])[:-1]
        inner = np.ones(len(laid.targets), dtype=bool)
        inner[first] = False
        predictors = np.full(len(laid.targets), -1, dtype=np.int64)
        predictors[inner] = laid.predictors
        forests.append(
            _Forest(
                laid.ids, laid.positions, laid.subtree_end, predictors, laid.targets, [(i, n) for _, i, n in laid.spans]
            )
        )
    if len(_FORESTS) > 64:
        _FORESTS.clear()
    _FORESTS[key] = forests
    return forests


def _context_packs(item: PackItem, max_tokens: int) -> list[Pack]:
    """The context as a plain chain with a cached continuation forest below it, repeated per forest."""
    size = len(item.context_ids)
    context = np.asarray(item.context_ids, dtype=np.int64)
    special = [(i, key) for i, key in enumerate(item.context_keys) if not isinstance(key, int)]
    packs = []
    for forest in _forests(item.continuations, max(1, max_tokens - size)):
        total = size + len(forest.ids)
        packs.append(
            Pack(
                ids=np.concatenate([context, forest.ids]),
                positions=np.concatenate([np.arange(size), size + forest.depth]),
                subtree_end=np.concatenate([np.full(size, total), size + forest.end]),
                special=special,
                predictors=np.where(forest.predictors < 0, size - 1, size + forest.predictors),
                targets=forest.targets,
                spans=[(item.request, index, n) for index, n in forest.spans],
                requests=[item.request],
            )
        )
    return packs


def pack(
    items: Sequence[PackItem], max_tokens: int, share_across_requests: bool = True, shared_limit: int = 256
) -> list[Pack]:
    """Packs of at most `max_tokens` tokens (more only when one context plus one continuation is longer).

    Requests with at most `shared_limit` continuation tokens go into one trie, so contexts that share a
    prefix (Raven's panels, few-shot demonstrations) share it; a request with more (ImageNet's 1,000 names)
    gets packs of its own, its context as a chain above a cached layout of its continuations. With
    `share_across_requests` off, every request gets packs of its own (models whose image inputs belong to a
    row, not to tokens, need this).
    """
    packs: list[Pack] = []
    trie, scored, requests = _Trie(), [], []

    def flush() -> None:
        nonlocal trie, scored, requests
        if scored:
            packs.append(_trie_pack(trie, scored, requests))
        trie, scored, requests = _Trie(), [], []

    for item in items:
        if not item.context_ids:
            raise ValueError(f"request {item.request}: an empty context cannot be scored (no token predicts the first)")
        if not share_across_requests or sum(map(len, item.continuations)) > shared_limit:
            packs.extend(_context_packs(item, max_tokens))
            continue
        pending = list(enumerate(item.continuations))
        while pending:
            needed = trie.missing(0, item.context_keys) + len(pending[0][1])
            if trie.size and trie.size + needed > max_tokens:
                flush()
            tail = trie.insert(0, item.context_keys, item.context_ids)[-1]
            requests.append(item.request)
            taken = 0
            for index, tokens in pending:
                if taken and trie.size + trie.missing(tail, tokens) > max_tokens:
                    break
                path = trie.insert(tail, tokens, tokens)
                scored.append((item.request, index, [tail, *path[:-1]], list(tokens)))
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
    ids = np.full((len(packs), width), pad_id, dtype=np.int64)
    positions = np.zeros((len(packs), width), dtype=np.int64)
    # ancestor test per row: key j is visible from query i iff start_j <= i < end_j (start_j = j for real tokens)
    starts = np.tile(np.arange(width), (len(packs), 1))
    ends = starts + 1  # padding: only itself
    offsets = []
    for row, p in enumerate(packs):
        offset = width - len(p) if padding_side == "left" else 0
        offsets.append(offset)
        span = slice(offset, offset + len(p))
        ids[row, span] = p.ids
        positions[row, span] = p.positions
        ends[row, span] = p.subtree_end + offset
    ids, positions = torch.from_numpy(ids), torch.from_numpy(positions)
    starts, ends = torch.from_numpy(starts), torch.from_numpy(ends)
    starts, ends = starts.to(device), ends.to(device)
    query = torch.arange(width, device=device)[None, :, None]
    visible = (starts[:, None, :] <= query) & (query < ends[:, None, :])
    attention = torch.zeros(visible.shape, dtype=dtype, device=device)
    attention.masked_fill_(~visible, torch.finfo(dtype).min)
    return PackedBatch(ids.to(device), positions.to(device), attention[:, None], offsets, packs)
