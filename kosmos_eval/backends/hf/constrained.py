"""Beam search restricted to a prefix tree of allowed answers (KOSMOS-1 §4.6.1: ImageNet "with constraints",
beam size 2 over the 1,000 class names).

Each candidate is tokenised exactly as a ranking continuation of the same context (`continuation_ids`), and
the tree holds those token sequences. At every step each live beam may only continue with a token that keeps
it inside the tree; a beam that completes a candidate is finished with the summed log-probability of that
candidate's tokens: no end-of-sequence token and no length penalty, which is exactly the score ranking gives
the candidate. Hence: the output is always one of the candidates, and with a beam at least as wide as the
number of candidates nothing is ever pruned, so the search returns the ranking argmax.

Log-probabilities are the model's full-vocabulary softmax (the constraint only filters which continuations
are kept, it does not renormalise). They never increase along a path, so the search stops as soon as the
best finished candidate scores at least as high as every live beam.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from kosmos_eval.backends.hf.adapters import Adapter, Encoded


@dataclass
class _Node:
    children: dict[int, _Node] = field(default_factory=dict)
    ends: list[int] = field(default_factory=list)  # candidates whose token sequence ends here


def build_tree(sequences: Sequence[Sequence[int]]) -> _Node:
    """The prefix tree of token sequences; sequence i is recorded at the node where it ends."""
    root = _Node()
    for index, tokens in enumerate(sequences):
        if not tokens:
            raise ValueError(f"candidate {index} tokenises to nothing")
        node = root
        for token in tokens:
            node = node.children.setdefault(token, _Node())
        node.ends.append(index)
    return root


@dataclass(frozen=True)
class ConstrainedResult:
    index: int  # the chosen candidate (the first of equal token sequences)
    logprob: float  # its summed log-probability
    steps: int  # forward passes made


def constrained_beam_search(
    adapter: Adapter, context: Encoded, sequences: Sequence[Sequence[int]], num_beams: int
) -> ConstrainedResult:
    """The best candidate reachable by a beam of `num_beams` live prefixes inside the tree of `sequences`."""
    if num_beams < 1:
        raise ValueError("num_beams must be at least 1")
    root = build_tree(sequences)
    beams: list[tuple[tuple[int, ...], _Node, float]] = [((), root, 0.0)]
    finished: list[tuple[float, int]] = []
    steps = 0
    while beams:
        rows = [context.extended(prefix) for prefix, _, _ in beams]
        positions = torch.tensor([len(row.ids) - 1 for row in rows], device=adapter.device)
        logits = adapter.logits_at(rows, torch.arange(len(rows), device=adapter.device), positions)
        logprobs = torch.log_softmax(logits.float(), dim=-1).double().cpu()
        steps += 1
        expansions: list[tuple[tuple[int, ...], _Node, float]] = []
        for row, (prefix, node, score) in enumerate(beams):
            for token, child in node.children.items():
                total = score + float(logprobs[row, token])
                finished.extend((total, index) for index in child.ends)
                if child.children:
                    expansions.append(((*prefix, token), child, total))
        # stable sort: equal scores keep tree order, so the result never depends on anything but the model
        expansions.sort(key=lambda beam: -beam[2])
        beams = expansions[:num_beams]
        best = max(finished, key=lambda item: (item[0], -item[1]), default=None)
        if best is not None and (not beams or best[0] >= beams[0][2]):
            break
    score, index = max(finished, key=lambda item: (item[0], -item[1]))
    return ConstrainedResult(index=index, logprob=score, steps=steps)
