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
from typing import Any

from tqdm import tqdm

from kosmos_eval.core.types import Example, RankResult, Request
from kosmos_eval.fewshot import DemoSampler
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.records import make_record
from kosmos_eval.tasks.base import Task

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
) -> None:
    """Build, run and score each step whole, and hand the records of its kept examples to `save`."""
    prepare = getattr(sampler, "prepare", None)
    bar = tqdm(total=sum(len(step.keep) for step in steps), desc=f"{task.name}", unit="ex", disable=not progress)
    try:
        for step in steps:
            batcher.backend.start_step()
            if prepare is not None:
                prepare(step.examples)  # RICES: this window's query features, embedded together
            demos = [sampler.sample(example, shots) if sampler is not None else [] for example in step.examples]
            requests = [task.build(example, own) for example, own in zip(step.examples, demos, strict=True)]
            outputs = run_stages(task, batcher, step.examples, demos, requests, step.keep)
            backend = batcher.backend
            records = [
                make_record(
                    task,
                    example,
                    own_requests,
                    own_demos,
                    own_outputs,
                    backend.rendered_prompt(own_requests[0].context) if own_requests else None,
                )
                for example, own_requests, own_demos, own_outputs in zip(
                    step.examples, requests, demos, outputs, strict=True
                )
                if example.id in step.keep
            ]
            save(records)
            bar.update(len(records))
    finally:
        bar.close()


def run_stages(
    task: Task,
    batcher: Batcher,
    examples: list[Example],
    demos: list[list[Example]],
    first_requests: list[list[Request]],
    observed: frozenset[str] | None = None,
) -> list[list[RankResult | str]]:
    """Outputs per example for the first requests and every follow-up the task asks for (a multi-stage task
    such as chain-of-thought builds its second prompt from the first stage's output). Each stage is batched
    across all examples of the step; an example is done when the task asks for nothing more. Only examples
    in `observed` (all when None) are shown to `Task.observe_outputs`: neighbours computed for their company
    are not the run's."""
    outputs: list[list[RankResult | str]] = [[] for _ in examples]
    requests = first_requests
    while any(requests):
        flat = [request for own in requests for request in own]
        batcher.backend.check_requests(flat)  # e.g. a server without prompt log-probs refuses ranking up front
        flat = batcher.run(flat, _output_observer(task, examples, requests, observed))
        cursor = 0
        for index, own in enumerate(requests):
            outputs[index].extend(flat[cursor : cursor + len(own)])
            cursor += len(own)
        requests = [
            task.follow_up(example, example_demos, outputs[index]) if own else []
            for index, (example, example_demos, own) in enumerate(zip(examples, demos, requests, strict=True))
        ]
    return outputs


def _output_observer(
    task: Task, examples: list[Example], requests: list[list[Request]], observed: frozenset[str] | None
) -> Callable[[list[int], list[RankResult | str]], None]:
    """`Task.observe_outputs` for the batcher's positions in the flattened requests of one stage."""
    flat = [(example, request) for example, own in zip(examples, requests, strict=True) for request in own]

    def observe(positions: list[int], outputs: list[RankResult | str]) -> None:
        seen = [
            (*flat[position], output)
            for position, output in zip(positions, outputs, strict=True)
            if observed is None or flat[position][0].id in observed
        ]
        if seen:
            task.observe_outputs(seen)

    return observe
