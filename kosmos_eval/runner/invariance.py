"""Does a result depend on the batch size? Re-score a slice at batch size 1 and at the run's batch size.

Batched inference pads sequences to a common length, and padding that leaks into attention or position ids,
a loss taken over the wrong tokens, or kernels that pick another reduction order for another shape all make a
model's score of a prompt depend on which other prompts share its batch. Such a result cannot be reproduced
with another batch size, and users of every evaluation harness have been bitten by it. This check builds the
slice's requests from the plan `kosmos-eval run` builds (runner/plan.py: same task, data, demos, prompts and
step windows), sends them through the one batcher twice, once one request at a time and once at the batch
size a run would use, and compares what came back:

* ranking outputs continuation by continuation (the largest absolute difference of summed log-likelihoods,
  and where it is), and each request's top-scoring continuation;
* generated texts, exactly;
* the task's own scored record per example (`Task.score`), field by field, floats within the tolerance, so
  a changed prediction, tie-break or derived score shows up by the name the samples file uses.

Nothing is written to a run folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm import tqdm

from kosmos_eval.config import RunConfig
from kosmos_eval.core.types import Example, RankRequest, RankResult, Request
from kosmos_eval.errors import UserError
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.plan import BackendSource
from kosmos_eval.runner.run import plan_run
from kosmos_eval.runner.steps import Step, run_stages
from kosmos_eval.tasks import capabilities
from kosmos_eval.tasks.base import Task

# Float32 noise between batched and unbatched kernels is tiny (1.4e-6 on a summed log-likelihood of the tiny test
# model on CPU); a padding or masking bug typically moves it far more. 1e-3 passes the first and catches the
# second; bf16/fp16 need a looser bound.
DEFAULT_TOLERANCE = 1e-3

Output = RankResult | str


@dataclass(frozen=True)
class LogprobDifference:
    """One continuation's summed log-likelihood at batch size 1 and batched (the largest difference found)."""

    example_id: str
    request: int  # position among the example's requests, every stage in order
    continuation: str
    at_one: float
    at_batch: float
    difference: float


@dataclass(frozen=True)
class ArgmaxChange:
    """A ranking request whose top-scoring continuation (first on exact ties) differs between the passes."""

    example_id: str
    request: int
    at_one: str
    at_batch: str


@dataclass(frozen=True)
class GenerationChange:
    example_id: str
    request: int
    at_one: str
    at_batch: str


@dataclass(frozen=True)
class RecordChange:
    """The fields of `Task.score`'s record that differ (list positions collapsed: `candidates[].logprob_yes`)."""

    example_id: str
    fields: tuple[str, ...]


@dataclass
class InvarianceReport:
    task: str
    split: str
    shots: int
    seed: int
    backend: str
    examples: int
    batch_size: int  # the batched pass's size at the end (auto halves it on out-of-memory)
    tolerance: float
    rank_requests: int = 0
    generate_requests: int = 0
    continuations: int = 0  # log-likelihoods compared
    not_compared: int = 0  # outputs of a later stage whose prompt already differed between the passes
    max_logprob_difference: float = 0.0
    largest: LogprobDifference | None = None
    argmax_changes: list[ArgmaxChange] = field(default_factory=list)
    generation_changes: list[GenerationChange] = field(default_factory=list)
    record_changes: list[RecordChange] = field(default_factory=list)
    # ids, in slice order, of examples whose prediction changed in any way (ranking, generated text, record)
    changed_examples: list[str] = field(default_factory=list)

    @property
    def invariant(self) -> bool:
        return self.max_logprob_difference <= self.tolerance and not self.changed_examples

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["max_logprob_difference"] = _json_float(self.max_logprob_difference)
        data["invariant"] = self.invariant
        return data


def check_invariance(
    config: RunConfig,
    backend: BackendSource = None,
    batch_size: int | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool = True,
) -> InvarianceReport:
    """Score `config`'s slice (its `limit` first examples, or its `example_ids`) at batch size 1 and at
    `batch_size` (None: the backend's default, halved on out-of-memory as a run does) and compare.

    `backend` is a loaded backend, or a factory called once the slice is known to be valid (so bad data fails
    before a model loads); None builds the one `config` names.
    """
    if not tolerance >= 0:
        raise UserError(f"--tolerance must be a non-negative number, got {tolerance}")
    if batch_size is not None and batch_size < 2:
        raise UserError(f"--batch-size {batch_size} would compare batch size 1 with itself; give 2 or more, or auto")
    plan = plan_run(config, backend)
    task, examples = plan.task, plan.examples
    loaded = plan.backend()
    batched = Batcher(loaded, batch_size)
    if batched.batch_size < 2:
        raise UserError(
            f"backend {loaded.name!r} batches 1 request by default, so there is nothing to compare; give "
            "--batch-size 2 or more"
        )

    steps = plan.step_plan(batched, progress)
    # the run's windows, so the batched pass sees the batches a run would see (the slice's last window without
    # the neighbours past --limit that a run would compute beside it)
    windows = steps.windows(examples, {e.id for e in examples})
    demos = [own for window in windows for own in steps.demos(window.examples)]
    first = [task.build(example, own) for example, own in zip(examples, demos, strict=True)]

    at_one = _score_slice(task, Batcher(loaded, 1), windows, demos, first, progress)
    at_batch = _score_slice(task, batched, windows, demos, first, progress)

    report = InvarianceReport(
        task=task.name,
        split=plan.split,
        shots=config.shots,
        seed=config.seed,
        backend=loaded.name,
        examples=len(examples),
        batch_size=batched.batch_size,
        tolerance=tolerance,
    )
    for example, own_demos, own_first, one, many in zip(examples, demos, first, at_one, at_batch, strict=True):
        changes_before = _change_count(report)
        requests = _all_requests(task, example, own_demos, own_first, one)
        _compare_outputs(report, example.id, requests, one, many)
        changed = sorted(_differing_fields(task.score(example, one), task.score(example, many), tolerance))
        if changed:
            report.record_changes.append(RecordChange(example.id, tuple(changed)))
        if _change_count(report) > changes_before:
            report.changed_examples.append(example.id)
    return report


def _change_count(report: InvarianceReport) -> int:
    return len(report.argmax_changes) + len(report.generation_changes) + len(report.record_changes)


def _score_slice(
    task: Task,
    batcher: Batcher,
    steps: list[Step],
    demos: list[list[Example]],
    first: list[list[Request]],
    progress: bool,
) -> list[list[Output]]:
    """Every example's outputs, step by step as a run computes them, each step from a clean backend (no image
    features kept from the other pass or an earlier step)."""
    outputs: list[list[Output]] = []
    bar = tqdm(total=len(first), desc=f"{task.name} at batch size {batcher.batch_size}", disable=not progress)
    try:
        start = 0
        for step in steps:
            end = start + len(step.examples)
            batcher.backend.start_step()
            outputs += run_stages(task, batcher, step.examples, demos[start:end], first[start:end])
            bar.update(end - start)
            start = end
    finally:
        bar.close()
    return outputs


def _all_requests(
    task: Task, example: Example, demos: Sequence[Example], first: list[Request], outputs: list[Output]
) -> list[Request]:
    """The example's requests of every stage, in output order: follow-ups are rebuilt from the outputs exactly
    as `run_stages` asked for them (the task sees the outputs so far after each stage)."""
    requests = list(first)
    stage = first
    while stage and len(requests) <= len(outputs):
        stage = capabilities.follow_up(task, example, demos, outputs[: len(requests)])
        requests += stage
    return requests


def _compare_outputs(
    report: InvarianceReport, example_id: str, requests: list[Request], one: list[Output], many: list[Output]
) -> None:
    """Add one example's outputs to the report. Once a generated text differs, the outputs of later stages
    answer different prompts in the two passes, so they are counted as not compared rather than compared."""
    diverged = False
    for index, (a, b) in enumerate(zip(one, many, strict=False)):  # lengths differ when stages diverge
        if isinstance(a, RankResult):
            report.rank_requests += 1
        else:
            report.generate_requests += 1
        if diverged:
            report.not_compared += 1
        elif isinstance(a, str) and isinstance(b, str):
            if a != b:
                report.generation_changes.append(GenerationChange(example_id, index, a, b))
                diverged = True
        elif isinstance(a, RankResult) and isinstance(b, RankResult) and len(a.logprobs) == len(b.logprobs):
            request = requests[index] if index < len(requests) else None
            names = request.continuations if isinstance(request, RankRequest) else ()
            _compare_rank(report, example_id, index, a, b, names)
        else:  # different kinds or shapes: the passes asked different things
            report.not_compared += 1
            diverged = True
    report.not_compared += abs(len(one) - len(many))


def _compare_rank(
    report: InvarianceReport, example_id: str, index: int, a: RankResult, b: RankResult, names: Sequence[str]
) -> None:
    def name(position: int) -> str:
        return names[position] if position < len(names) else f"#{position}"

    for position, (x, y) in enumerate(zip(a.logprobs, b.logprobs, strict=True)):
        report.continuations += 1
        difference = _difference(x, y)
        if difference > report.max_logprob_difference:
            report.max_logprob_difference = difference
            report.largest = LogprobDifference(example_id, index, name(position), x, y, difference)
    if a.logprobs:
        best_one, best_batch = _argmax(a.logprobs), _argmax(b.logprobs)
        if best_one != best_batch:
            report.argmax_changes.append(ArgmaxChange(example_id, index, name(best_one), name(best_batch)))


def _argmax(values: Sequence[float]) -> int:
    """Index of the largest value, the first on exact ties (NaN never wins)."""
    best = 0
    for index, value in enumerate(values):
        if value > values[best] or (math.isnan(values[best]) and not math.isnan(value)):
            best = index
    return best


def _difference(x: float, y: float) -> float:
    """|x - y| where equal values (two -inf included) differ by 0 and a NaN against a number by infinity."""
    if x == y or (math.isnan(x) and math.isnan(y)):
        return 0.0
    if math.isnan(x) or math.isnan(y):
        return math.inf
    return abs(x - y)


def _differing_fields(a: Any, b: Any, tolerance: float, path: str = "") -> set[str]:
    """Dotted paths (list positions as `[]`) where two records differ: numbers that are not both integers by
    more than `tolerance`, everything else exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: set[str] = set()
        for key in dict.fromkeys([*a, *b]):
            inner = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                found.add(inner)
            else:
                found |= _differing_fields(a[key], b[key], tolerance, inner)
        return found
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return {path or "<record>"}
        found = set()
        for x, y in zip(a, b, strict=True):
            found |= _differing_fields(x, y, tolerance, f"{path}[]")
        return found
    if _is_real(a) and _is_real(b) and (isinstance(a, float) or isinstance(b, float)):
        return set() if _difference(float(a), float(b)) <= tolerance else {path or "<record>"}
    return set() if a == b else {path or "<record>"}


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_float(value: float) -> float | str:
    """JSON has no infinity: a NaN against a number is written as the string "inf"."""
    return value if math.isfinite(value) else str(value)
