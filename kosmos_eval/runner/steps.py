"""Steps: the pieces a run is computed and saved in, cut so that a record never depends on the run's history.

A backend's numbers can depend, in the last bits, on which other requests share a batch (padding, kernel
choice by shape) and on which images are encoded together. So a record is reproducible only if the requests
around it are: an example is always computed in the same step, beside the same neighbours, whatever ran before
it in the process. Hence:

* Steps are fixed windows of the run's example list (the task's split in its order, or a suite's fixed
  slice): window k holds examples [k*L, (k+1)*L), with L from the batch size and the first example's request
  count (`step_length`). They do not move when `--limit` changes or when a run resumes.
* A window is always computed whole. Where only some of its examples are wanted (the window straddles
  `--limit`, or some of its examples are already saved), the others are computed as neighbours and their
  records are not written: a `--limit 10` run and a `--limit 20` run give examples 8 and 9 the same neighbours.
* Every step starts from a clean backend (`Backend.start_step`: no image features carried over from another
  step), and RICES embeds each window's queries by itself.
* Data-parallel ranks take whole windows, so a sharded run computes each record as one process would.

A resumed or extended run is therefore byte-identical to an uninterrupted one (tests/test_resume_bytes.py),
with the default thread count, unless a batch ran out of memory (the back-off changes later batches).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from tqdm import tqdm

from kosmos_eval.core.types import Example, RankResult, Request
from kosmos_eval.fewshot import DemoSampler
from kosmos_eval.metrics.base import StreamingMetric
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.records import make_record
from kosmos_eval.tasks.base import Task
from kosmos_eval.tasks.capabilities import follow_up

EXAMPLES_PER_STEP_MIN = 4
BATCHES_PER_STEP = 4  # a step is built, run and saved together: several batches, so image decoding overlaps


@dataclass(frozen=True)
class Step:
    """One window of the example list: `examples` are computed together; records are written for `keep`."""

    examples: list[Example]
    keep: frozenset[str]

    @property
    def kept(self) -> list[Example]:
        return [example for example in self.examples if example.id in self.keep]


def step_length(requests_per_example: int, batch_size: int) -> int:
    """Examples per window: at least a few, and enough requests to fill a few batches."""
    return max(EXAMPLES_PER_STEP_MIN, math.ceil(BATCHES_PER_STEP * batch_size / max(1, requests_per_example)))


def plan_steps(examples: Sequence[Example], wanted: set[str], length: int) -> list[Step]:
    """The windows of `examples` (the whole ordered list, before any --limit) that hold a wanted example."""
    steps = []
    for start in range(0, len(examples), length):
        window = list(examples[start : start + length])
        keep = frozenset(example.id for example in window if example.id in wanted)
        if keep:
            steps.append(Step(window, keep))
    return steps


def first_request_count(task: Task, sampler: DemoSampler | None, shots: int, example: Example) -> int:
    """How many first-stage requests an example asks for (the list's first example decides the window)."""
    demos = sampler.sample(example, shots) if sampler is not None else []
    return len(task.build(example, demos))


def compute_steps(
    task: Task,
    batcher: Batcher,
    sampler: DemoSampler | None,
    shots: int,
    steps: Sequence[Step],
    save: Callable[[list[dict[str, Any]]], None],
    progress: bool,
    metrics: Sequence[StreamingMetric] = (),
) -> None:
    """Build, run and score each step whole, and hand the records of its kept examples to `save`, in example
    order. Each record is made as soon as the batch that completes its example returns, and that batch's
    records are fed to the streaming `metrics` at once: they work on one batch while the model computes the
    next, and at the end of a run only the last batch is left to them, not the last step."""
    prepare = getattr(sampler, "prepare", None)
    bar = tqdm(total=sum(len(step.keep) for step in steps), desc=f"{task.name}", unit="ex", disable=not progress)
    try:
        for step in steps:
            batcher.backend.start_step()
            if prepare is not None:
                prepare(step.examples)  # RICES: this window's query features, embedded together
            demos = [sampler.sample(example, shots) if sampler is not None else [] for example in step.examples]
            records = _compute_step(task, batcher, step, demos, metrics)
            save(records)
            bar.update(len(records))
    finally:
        bar.close()


def _compute_step(
    task: Task, batcher: Batcher, step: Step, demos: list[list[Example]], metrics: Sequence[StreamingMetric]
) -> list[dict[str, Any]]:
    """The records of the step's kept examples, in example order, each fed to `metrics` as it is made."""
    requests = [task.build(example, own) for example, own in zip(step.examples, demos, strict=True)]
    made: dict[int, dict[str, Any]] = {}

    def finished(indices: list[int], outputs: list[list[RankResult | str]]) -> None:
        new = []
        for index in indices:
            if step.examples[index].id not in step.keep:
                continue  # neighbours computed for their company are not the run's
            own = requests[index]
            rendered = batcher.backend.rendered_prompt(own[0].context) if own else None
            made[index] = make_record(task, step.examples[index], own, demos[index], outputs[index], rendered)
            new.append(made[index])
        if new:
            for metric in metrics:
                metric.feed(new)

    run_stages(task, batcher, step.examples, demos, requests, finished)
    return [made[index] for index in sorted(made)]


def run_stages(
    task: Task,
    batcher: Batcher,
    examples: list[Example],
    demos: list[list[Example]],
    first_requests: list[list[Request]],
    finished: Callable[[list[int], list[list[RankResult | str]]], None] | None = None,
) -> list[list[RankResult | str]]:
    """Outputs per example for the first requests and every follow-up the task asks for (a multi-stage task
    such as chain-of-thought builds its second prompt from the first stage's output). Each stage is batched
    across all examples of the step; an example is done when the task asks for nothing more.

    `finished(indices, outputs)` is told, after each batch, which examples that batch completed (their last
    stage is in and `follow_up` asks for nothing more; examples without requests at the start), with the
    outputs so far (the list this returns): their records need not wait for the rest of the step. An example's
    `follow_up` is asked as soon as its stage is complete; it sees exactly what it would after the stage."""
    outputs: list[list[RankResult | str]] = [[] for _ in examples]
    requests = first_requests
    idle = [index for index, own in enumerate(requests) if not own]
    if idle and finished is not None:
        finished(idle, outputs)
    while any(requests):
        flat = [request for own in requests for request in own]
        batcher.backend.check_requests(flat)  # e.g. a server without prompt log-probs refuses ranking up front
        owner = [index for index, own in enumerate(requests) for _ in own]
        starts = [0, *accumulate(len(own) for own in requests)]  # each example's first place in `flat`
        waiting = [len(own) for own in requests]
        stage: list[Any] = [None] * len(flat)
        following: list[list[Request]] = [[] for _ in examples]
        for positions, results in batcher.batches(flat):
            done = []
            for position, result in zip(positions, results, strict=True):
                stage[position] = result
                index = owner[position]
                waiting[index] -= 1
                if waiting[index] == 0:  # the example's stage is complete
                    outputs[index].extend(stage[starts[index] : starts[index] + len(requests[index])])
                    following[index] = follow_up(task, examples[index], demos[index], outputs[index])
                    if not following[index]:
                        done.append(index)
            if done and finished is not None:
                finished(done, outputs)
        requests = following
    return outputs
