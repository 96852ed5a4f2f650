"""Seeded randomness that never depends on processing order.

Every random choice in the harness (demo draws, candidate order, tie-breaks) comes from a generator keyed by
the run seed and the example it concerns, so resumed, re-batched and sharded runs draw exactly what an
uninterrupted run draws.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """A generator that depends only on the run seed and the given parts (e.g. a purpose and an example id)."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))


# Scores within this many nats of the best count as tied. A backend's numbers depend on batch composition in
# the last bits (float32: about 1e-6 on a summed log-probability), so two candidates a model scores equally
# come out a hair apart in one batch and the other way round in another; treating them as tied and letting the
# seeded rule choose keeps the prediction the same however a run is batched, resumed or extended. A real gap
# this small is far below anything a model distinguishes. (In bfloat16 the batch noise can reach 1e-2: there
# only float32 runs are stable; docs/footguns.md.)
TIE_TOLERANCE = 1e-4


def argmax_random_ties(
    scores: Sequence[float],
    rng: random.Random | Callable[[], random.Random],
    tolerance: float = TIE_TOLERANCE,
) -> tuple[int, list[int]]:
    """Index of the largest score; scores within `tolerance` of it are ties, broken uniformly at random by
    `rng` (seeded per example). Returns (index, tied).

    `rng` may be a function that makes the generator: it is then called only when there is a tie, since
    seeding a generator costs more than the whole argmax and most rankings have no tie (the draw is the same
    either way: the generator is fresh when it is used)."""
    best = max(scores)
    tied = [i for i, s in enumerate(scores) if best - s <= tolerance]
    if len(tied) == 1:
        return tied[0], tied
    generator = rng if isinstance(rng, random.Random) else rng()
    return generator.choice(tied), tied
