"""Seeded randomness that never depends on processing order.

Every random choice in the harness (demo draws, candidate order, tie-breaks) comes from a generator keyed by
the run seed and the example it concerns, so resumed, re-batched and sharded runs draw exactly what an
uninterrupted run draws.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """A generator that depends only on the run seed and the given parts (e.g. a purpose and an example id)."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))


def argmax_random_ties(scores: Sequence[float], rng: random.Random) -> tuple[int, list[int]]:
    """Index of the largest score; exact ties are broken uniformly at random. Returns (index, tied)."""
    best = max(scores)
    tied = [i for i, s in enumerate(scores) if s == best]
    return (tied[0] if len(tied) == 1 else rng.choice(tied)), tied
