"""Timing one evaluation from the outside, for benchmarks/harness_overhead.py.

The overhead benchmark must see where a run's time goes without the runner knowing it is being timed, so this
module wraps the runner's own pieces for the length of one run: the backend (`TimedBackend`, which also waits as
long as a GPU would take for each batch when the GPU is simulated), the task's methods, the run folder's writes
and the provenance look-ups (`stage_clock`), and adds their seconds to a per-stage clock. `timed_run` is one such
evaluation in a fresh folder, after `clear_caches` has emptied the harness's memoised functions. Kept apart from
the benchmark's own file (which writes the data, prices each task's examples at a GPU rate and reports) because
this is the part that depends on the runner's internals and must change with them.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kosmos_eval.runner.run as run_module
import kosmos_eval.runner.steps as steps_module
from kosmos_eval.backends.chance import ChanceBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.core.backend import Backend
from kosmos_eval.runner.run import evaluate

STAGES = ("read", "build", "backend", "score", "write", "aggregate", "export", "provenance")
TASK_STAGES = {"load": "read", "build": "build", "follow_up": "build", "score": "score"}
TASK_STAGES |= {"aggregate": "aggregate", "export": "export"}


class TimedBackend(Backend):
    """Delegates to the chance backend and adds up the seconds spent inside it (the model's slot).

    `seconds_per_request` (set per step by `stage_clock` when the GPU is simulated): each rank or generate
    call then also waits as long as the GPU would take for its batch, so outputs come back batch by batch
    at the GPU's pace, as they do in a real run."""

    def __init__(self, inner: ChanceBackend, clock: dict[str, float]) -> None:
        self.inner, self.clock, self.name = inner, clock, inner.name
        self.seconds_per_request = 0.0

    def _timed(self, method: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return getattr(self.inner, method)(*args)
        finally:
            self.clock["backend"] = self.clock.get("backend", 0.0) + time.perf_counter() - started

    def _timed_batch(self, method: str, requests: list) -> Any:
        outputs = self._timed(method, requests)
        if self.seconds_per_request:
            started = time.perf_counter()
            time.sleep(self.seconds_per_request * len(requests))
            self.clock["backend"] = self.clock.get("backend", 0.0) + time.perf_counter() - started
        return outputs

    def rank(self, requests: list) -> list:
        return self._timed_batch("rank", requests)

    def generate(self, requests: list) -> list[str]:
        return self._timed_batch("generate", requests)

    def embed_images(self, images: list) -> Any:
        return self._timed("embed_images", images)

    def prefetch(self, requests: list) -> None:
        self.inner.prefetch(requests)

    def fingerprint(self) -> dict[str, Any]:
        return self.inner.fingerprint()

    def default_batch_size(self) -> int:
        return self.inner.default_batch_size()


def _timer(function: Callable, stage: str, clock: dict[str, float]) -> Callable:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            clock[stage] = clock.get(stage, 0.0) + time.perf_counter() - started

    return timed


@contextmanager
def stage_clock(clock: dict[str, float], gpu_rate: float | None = None) -> Iterator[None]:
    """Times the task's and the run folder's methods from the outside, for the stage breakdown.

    Replaces the runner's `make_task`, `RunFolder`, `BackgroundAppender` and `start_provenance` for the duration
    (they are looked up at call time) with versions whose calls add to `clock` (for the steps' writes and the
    provenance look-ups, which run in threads, the time the main thread waits for them); nested calls inside a
    task are not double counted, since only the instance attributes the runner calls are wrapped. Restored on
    exit.

    `gpu_rate` (examples/s): each backend call also sleeps as long as a GPU at that rate would take for its
    share of the step's examples, counted as backend time, so that work done in the background while the model
    computes (captioning's scoring process, the step writer) is seen to overlap it, as in a real run, where
    this thread waits on the GPU, and outputs arrive batch by batch.
    """
    wrapped = ("make_task", "RunFolder", "BackgroundAppender", "start_provenance")
    originals = {name: getattr(run_module, name) for name in wrapped}
    original_make_task, original_folder = originals["make_task"], originals["RunFolder"]
    original_run_stages = steps_module.run_stages

    def make_task(config: RunConfig) -> Any:
        task = original_make_task(config)
        for method, stage in TASK_STAGES.items():
            if hasattr(task, method):  # follow_up and export are capabilities only some tasks have
                setattr(task, method, _timer(getattr(task, method), stage, clock))
        return task

    class TimedFolder(original_folder):  # type: ignore[misc, valid-type]
        def write_summary(self, summary: dict[str, Any], timing: dict[str, Any]) -> Path:
            return _timer(super().write_summary, "write", clock)(summary, timing)

    class TimedAppender(originals["BackgroundAppender"]):  # type: ignore[misc, valid-type]
        def wait(self) -> None:  # steps are written by a thread: what counts is the main thread's wait for it
            _timer(super().wait, "write", clock)()

    def run_stages(task: Any, batcher: Any, examples: list, demos: list, first_requests: list, *rest: Any) -> Any:
        if gpu_rate is not None:  # the step's GPU time, spread over its requests (TimedBackend waits it)
            requests = sum(len(own) for own in first_requests)
            batcher.backend.seconds_per_request = len(examples) / gpu_rate / max(1, requests)
        return original_run_stages(task, batcher, examples, demos, first_requests, *rest)

    def start_provenance() -> Callable[[], dict[str, Any]]:  # git commit and package versions for summary.json
        return _timer(originals["start_provenance"](), "provenance", clock)

    run_module.make_task, run_module.RunFolder, steps_module.run_stages = make_task, TimedFolder, run_stages
    run_module.BackgroundAppender, run_module.start_provenance = TimedAppender, start_provenance
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(run_module, name, original)
        steps_module.run_stages = original_run_stages


def profile_top(profile: cProfile.Profile, count: int = 12) -> list[str]:
    stream = io.StringIO()
    pstats.Stats(profile, stream=stream).sort_stats("tottime").print_stats(count)
    lines = [line.rstrip() for line in stream.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [line for line in lines[start:] if line.strip()]


def clear_caches() -> None:
    """Empty the harness's memoised functions (parsed web pages, .npz arrays, prompt files), so every timed run
    pays what a fresh process pays; otherwise a repeat would find the previous run's pages already parsed."""
    for name, module in list(sys.modules.items()):
        if name.startswith("kosmos_eval"):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def timed_run(
    config: RunConfig, profiler: cProfile.Profile | None = None, gpu_rate: float | None = None
) -> tuple[int, float, dict[str, float]]:
    """(examples computed, wall seconds, seconds per stage) of one evaluation with the timed chance backend, in a
    fresh output folder (`config.output_dir` must not hold the run, or it would resume instead of compute)."""
    clear_caches()
    clock: dict[str, float] = {}
    with stage_clock(clock, gpu_rate):
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        outcome = evaluate(config, backend=TimedBackend(ChanceBackend(seed=config.seed), clock), progress=False)
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - started
    stages = {stage: clock.get(stage, 0.0) for stage in STAGES}
    stages["other"] = max(0.0, wall - sum(stages.values()))
    return outcome.computed, wall, stages
