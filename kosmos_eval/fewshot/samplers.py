"""Demo samplers. Every draw depends only on the run seed and the query's id (never on processing order),
so a resumed, re-batched or sharded run shows each query exactly the demos an uninterrupted run shows.

* `random`   (default; the paper's "randomly sample demonstrations from the training set"): k distinct pool
             examples drawn per query, never the query itself.
* `fixed`    one draw of k examples shared by every query (a query that is itself in the pool gets a
             replacement, drawn the same way).
* `rices`    the k pool examples whose images are most similar to the query's, by the backend's own vision
             features (cosine similarity), most similar last, i.e. closest to the query (see rices.py).
* `balanced` k examples spread as evenly as possible over the task's classes, classes in a seeded order.

"Never the query itself" is decided by the caller (`exclude_query`): ids are unique within a split only
(SuperGLUE's `idx` restarts at 0 in every split), so a pool example sharing the query's id *is* the query only
when the pool is the evaluated split (Winograd; StoryCloze scored on validation). Every sampler draws k + 1
candidates either way and keeps the first k that qualify, so a draw without exclusion equals the excluding
draw wherever no pool id equals the query's.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

from kosmos_eval.core.seeding import seeded_rng
from kosmos_eval.core.types import Example
from kosmos_eval.errors import UserError

SAMPLERS = {
    "random": "k random training examples per query, seeded by the query id (the paper's setting)",
    "fixed": "the same k training examples for every query",
    "rices": "the k training examples whose images are most similar to the query's (backend vision features)",
    "balanced": "k random training examples spread evenly over the task's classes (classification tasks)",
}


class DemoSampler(Protocol):
    name: str
    exclude_query: bool  # whether a pool example with the query's id is left out (it is the query itself)

    def sample(self, query: Example, k: int) -> list[Example]:
        """k demonstrations for `query`, in the order they are shown."""
        ...


def _draw_excluding(pool: Sequence[Example], k: int, rng: random.Random, exclude: str | None) -> list[Example]:
    """k distinct pool examples, none with id `exclude` (None: no exclusion). Draws k+1 indices whether or not
    one is excluded, so one exclusion never redraws and a draw without exclusion is the same draw."""
    if k == 0:
        return []
    if k + 1 > len(pool):
        chosen = [e for e in pool if exclude is None or e.id != exclude]
        if len(chosen) < k:
            raise UserError(f"--shots {k}: the demo pool holds only {len(chosen)} usable examples")
        rng.shuffle(chosen)
        return chosen[:k]
    picks = [pool[i] for i in rng.sample(range(len(pool)), k + 1)]
    return [e for e in picks if exclude is None or e.id != exclude][:k]


class RandomSampler:
    name = "random"

    def __init__(self, pool: Sequence[Example], seed: int, exclude_query: bool = True) -> None:
        self.pool = list(pool)
        self.seed = seed
        self.exclude_query = exclude_query

    def sample(self, query: Example, k: int) -> list[Example]:
        exclude = query.id if self.exclude_query else None
        return _draw_excluding(self.pool, k, seeded_rng(self.seed, "demos", query.id), exclude)


class FixedSampler:
    name = "fixed"

    def __init__(self, pool: Sequence[Example], seed: int, exclude_query: bool = True) -> None:
        self.pool = list(pool)
        self.seed = seed
        self.exclude_query = exclude_query

    def sample(self, query: Example, k: int) -> list[Example]:
        # one ordering of the pool per seed; the first k that are not the query
        rng = seeded_rng(self.seed, "fixed-demos")
        if k == 0:
            return []
        head = [self.pool[i] for i in rng.sample(range(len(self.pool)), min(len(self.pool), k + 1))]
        chosen = [e for e in head if not (self.exclude_query and e.id == query.id)][:k]
        if len(chosen) < k:
            raise UserError(f"--shots {k}: the demo pool holds only {len(chosen)} usable examples")
        return chosen


class BalancedSampler:
    name = "balanced"

    def __init__(
        self, pool: Sequence[Example], seed: int, label_of: Callable[[Example], str], exclude_query: bool = True
    ) -> None:
        self.seed = seed
        self.exclude_query = exclude_query
        self.by_label: dict[str, list[Example]] = defaultdict(list)
        for example in pool:
            self.by_label[str(label_of(example))].append(example)
        self.labels = sorted(self.by_label)

    def sample(self, query: Example, k: int) -> list[Example]:
        rng = seeded_rng(self.seed, "balanced-demos", query.id)
        labels = list(self.labels)
        rng.shuffle(labels)  # which classes get the extra demo when k is not a multiple of the class count
        quota = {label: k // len(labels) + (1 if i < k % len(labels) else 0) for i, label in enumerate(labels)}
        chosen: list[Example] = []
        exclude = query.id if self.exclude_query else None
        for label in labels:
            chosen += _draw_excluding(self.by_label[label], quota[label], rng, exclude)
        rng.shuffle(chosen)  # no class-ordered blocks in the prompt
        return chosen


def make_sampler(
    name: str,
    pool: Sequence[Example],
    seed: int,
    label_of: Callable[[Example], str] | None = None,
    rices: Callable[[], DemoSampler] | None = None,
    exclude_query: bool = True,
) -> DemoSampler:
    """The sampler `name` over `pool`. `label_of` enables `balanced`; `rices` builds the similarity sampler
    lazily because it needs the backend's vision features. `exclude_query`: leave out the pool example whose
    id is the query's; true only when the pool is the evaluated split (`Task.demo_pool_is(split)`), since ids
    repeat across splits and a train example sharing a validation query's id is another example. The default
    (true) keeps the earlier behaviour for callers that do not say."""
    if not pool:
        raise UserError("few-shot needs a demo pool, but the task's demo split has no examples")
    if name == "random":
        return RandomSampler(pool, seed, exclude_query)
    if name == "fixed":
        return FixedSampler(pool, seed, exclude_query)
    if name == "balanced":
        if label_of is None:
            raise UserError("--sampler balanced needs a classification task (this task has no classes)")
        return BalancedSampler(pool, seed, label_of, exclude_query)
    if name == "rices":
        if rices is None:
            raise UserError("--sampler rices needs a task whose examples have an image")
        sampler = rices()
        sampler.exclude_query = exclude_query  # the factory is the caller's; the rule is decided here
        return sampler
    raise UserError(f"Unknown --sampler {name!r} (choose from: {', '.join(SAMPLERS)})")
