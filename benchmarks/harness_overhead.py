"""Harness overhead: examples/s of the whole pipeline on the CPU with the chance backend, per task (issue 7).

Why: a GPU run must never wait on the harness. For each registered task this writes a synthetic data set of N
examples in the task's official on-disk format (or a local format its loader accepts), then times
`evaluate(RunConfig(...), backend=ChanceBackend(...))` end to end: reading, demo sampling, prompts, batching,
scoring, samples.jsonl (fsync per step), aggregation with confidence intervals, exports and summary.json.

The chance backend's own work (a hash and a seeded draw per continuation) stands in for the model; in a real run
that slot is GPU time. Its time is measured separately and subtracted: `harness_examples_per_s` is N divided by
(wall time - backend time) and is what the overhead share uses; `end_to_end_examples_per_s` keeps it in.
overhead share = GPU rate / harness rate x 100 = harness time as a percentage of GPU wall time; target < 5%.

GPU rates (issue 7): 40 images/s for ImageNet's 1,000-way ranking, 250/s for generation (captioning-like) and
for every other ranking task. Not measured here: image decoding and tokenisation, which the hf backend does.

The data are written by kosmos_eval/generators/scaled.py (the same layout code as the bundled samples and the
tests). Language tasks and Rendered SST-2 normally come from the hub; here they are written as the local files
their loaders also accept. A warm-up run on a tenth of N first pays one-time imports;
memoised functions are emptied before every timed run; per-run fixed costs (git and package look-ups) stay in.
The caption scoring process (and its METEOR) is one per Python process, started when a captioning run checks
its environment so that it loads during model loading (seconds on any GPU): the warm-up run starts it here.

The GPU's time is simulated (default; `--no-gpu-wait` turns it off): after each batch the runner thread sleeps
as long as a GPU at the rates above would take for it (the step's examples' time, shared by its requests),
counted as backend time. A real run waits on the GPU there, and work done meanwhile in another thread or
process (the step writer; captioning scores its captions in a process, each batch's as it returns) overlaps
it; without the wait, that work would compete with nothing and be charged in full at the end.
Each size is timed `--repeat` times (fastest kept), and a second size (N/10)
splits harness time into a fixed part and a per-example part (`fixed_seconds`, `steady_overhead_pct`).
Timings are machine dependent (fsync latency above all): compare numbers from one machine only.

    python benchmarks/harness_overhead.py [--examples 500] [--tasks a,b] [--shots 0] [--repeat 3] [--profile]
                                          [--no-gpu-wait]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import kosmos_eval.runner.run as run_module  # noqa: E402 (after the sys.path line)
import kosmos_eval.runner.steps as steps_module  # noqa: E402
from kosmos_eval.backends.chance import ChanceBackend  # noqa: E402
from kosmos_eval.config import RunConfig  # noqa: E402
from kosmos_eval.core.backend import Backend  # noqa: E402
from kosmos_eval.core.registry import TASKS  # noqa: E402
from kosmos_eval.core.types import GenerateRequest, RankRequest  # noqa: E402
from kosmos_eval.errors import UserError  # noqa: E402
from kosmos_eval.generators.scaled import SCALED_WRITERS, ScaledWriter  # noqa: E402
from kosmos_eval.runner.run import evaluate  # noqa: E402

TARGET_PCT = 5.0
GPU_RATES = {"1000-way ranking": 40.0, "generation": 250.0, "ranking": 250.0}
DEFAULT_OUT = ROOT / "results" / "benchmarks" / "harness_overhead.json"
DEFAULT_BATCH = 32  # the hf backend's start batch size on a GPU: the same step size and fsync cadence
STAGES = ("read", "build", "backend", "score", "write", "aggregate", "export", "provenance")
TASK_STAGES = {"load": "read", "build": "build", "follow_up": "build", "score": "score"}
TASK_STAGES |= {"aggregate": "aggregate", "export": "export"}
WIDE_RANKING = 64  # candidates per request above which a ranking is priced as ImageNet's 1000-way one
WRITERS: dict[str, ScaledWriter] = dict(SCALED_WRITERS.items())


def workload_kind(task: str, data_dir: Path, split: str, options: dict[str, str]) -> str:
    """The GPU rate (GPU_RATES) a task's examples are compared with, read from what its first example asks of a
    model: text to generate, a wide ranking (ImageNet's 1,000 names), or a ranking of a few candidates. Read
    from the task itself, so a new task needs no entry here."""
    instance = TASKS.get(task)(seed=1, options=options)
    example = instance.load(split, data_dir)[0]
    requests = instance.build(example, [])
    if any(isinstance(request, GenerateRequest) for request in requests):
        return "generation"
    widest = max((len(request.continuations) for request in requests if isinstance(request, RankRequest)), default=0)
    return "1000-way ranking" if widest > WIDE_RANKING else "ranking"


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


def _profile_top(profile: cProfile.Profile, count: int = 12) -> list[str]:
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


def _timed_run(
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


def _harness_seconds(run: tuple[int, float, dict[str, float]]) -> float:
    return run[1] - run[2]["backend"]


def measure_task(
    task: str,
    examples: int,
    shots: int,
    workdir: Path,
    batch_size: int = DEFAULT_BATCH,
    repeat: int = 1,
    profile: bool = False,
    simulate_gpu: bool = True,
) -> dict[str, Any]:
    """Write `examples` synthetic examples of `task` under `workdir` and time one fresh evaluation of them.

    Returns the task's row: counts, seconds per stage, end-to-end and harness-only examples/s, the GPU rate it is
    compared with, the overhead share and pass/fail; or a row with `skipped` (the reason) where it cannot run.
    A second, smaller data set (a tenth) is timed too, so the harness time splits into a per-run fixed part and a
    per-example part (a straight line through the two runs): `steady_overhead_pct` is the share a data set much
    larger than N would see, where fixed costs (git and package look-ups, the last captions still being scored)
    no longer count.
    Each size is timed `repeat` times and the fastest harness time kept (the usual best-of against noise such as
    fsync latency and JVM start-up); `profile` adds one more, untimed run of N under cProfile. `simulate_gpu`:
    each step waits as long as the GPU would (`stage_clock`), so background work is credited as overlapped;
    without it, every second the harness spends counts, whether or not a GPU would have been busy meanwhile.
    """
    row: dict[str, Any] = {"task": task}
    if task not in WRITERS:
        return row | {"skipped": "no synthetic data writer for this task (add one to kosmos_eval/generators/scaled.py)"}
    writer = WRITERS[task]
    if shots not in TASKS.get(task).shots:
        return row | {"skipped": f"no {shots}-shot setting"}
    small = max(1, examples // 10)
    started = time.perf_counter()
    split, options = writer(workdir / "data" / task, examples, examples if shots else 0)
    writer(workdir / "small" / task, small, small if shots else 0)
    kind = workload_kind(task, workdir / "data" / task, split, options)
    wait_rate = GPU_RATES[kind] if simulate_gpu else None
    row |= {"kind": kind, "split": split, "write_data_seconds": time.perf_counter() - started}

    def config(data: str, output: str, limit: int) -> RunConfig:
        return RunConfig(
            task=task, shots=shots, split=split, backend="chance", data_dir=str(workdir / data / task), limit=limit,
            output_dir=str(workdir / output / task), batch_size=batch_size, task_options=options,
        )  # fmt: skip

    try:
        evaluate(config("small", "warmup", small), backend=ChanceBackend(seed=1234), progress=False)  # imports
        small_runs = [_timed_run(config("small", f"small-run-{r}", small), None, wait_rate) for r in range(repeat)]
        small_done, small_wall, small_stages = min(small_runs, key=_harness_seconds)
        runs = [_timed_run(config("data", f"run-{r}", examples), None, wait_rate) for r in range(repeat)]
        done, wall, stages = min(runs, key=_harness_seconds)
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            _timed_run(config("data", "profiled-run", examples), profiler, wait_rate)
    except UserError as exc:
        return row | {"skipped": str(exc)}
    harness = wall - stages["backend"]
    small_harness = small_wall - small_stages["backend"]
    per_example = max(0.0, (harness - small_harness) / (done - small_done)) if done > small_done else harness / done
    harness_rate, gpu_rate = done / harness, GPU_RATES[kind]
    row |= {
        "examples": done,
        "wall_seconds": wall,
        "backend_seconds": stages["backend"],
        "harness_seconds": harness,
        "stage_seconds": stages,
        "slowest_stage": max((s for s in stages if s != "backend"), key=stages.__getitem__),
        "end_to_end_examples_per_s": done / wall,
        "harness_examples_per_s": harness_rate,
        "gpu_examples_per_s": GPU_RATES[kind],
        "gpu_time_simulated": simulate_gpu,
        "overhead_pct": gpu_rate / harness_rate * 100.0,
        "passed": gpu_rate / harness_rate * 100.0 < TARGET_PCT,
        "small_run_examples": small_done,
        "small_run_harness_seconds": small_harness,
        "fixed_seconds": max(0.0, harness - done * per_example),
        "per_example_ms": per_example * 1000.0,
        "steady_overhead_pct": gpu_rate * per_example * 100.0,
    }
    if profiler is not None:
        row["profile_top"] = _profile_top(profiler)
    return row


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def run_benchmark(
    tasks: list[str],
    examples: int = 500,
    shots: int = 0,
    out: Path = DEFAULT_OUT,
    batch_size: int = DEFAULT_BATCH,
    repeat: int = 1,
    profile: bool = False,
    argv: list[str] | None = None,
    simulate_gpu: bool = True,
) -> dict[str, Any]:
    """Measure every task in `tasks` (each in its own temporary folder) and write the JSON report to `out`."""
    rows = []
    for task in tasks:
        with tempfile.TemporaryDirectory(prefix=f"overhead-{task}-") as workdir:
            rows.append(measure_task(task, examples, shots, Path(workdir), batch_size, repeat, profile, simulate_gpu))
    report = {
        "command": shlex.join(argv if argv is not None else [Path(sys.executable).name, *sys.argv]),  # no local path
        "machine": machine(),
        "settings": {
            "examples": examples,
            "shots": shots,
            "batch_size": batch_size,
            "repeat": repeat,
            "target_pct": TARGET_PCT,
            "simulate_gpu": simulate_gpu,
        },
        "tasks": {row["task"]: row for row in rows},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_table(report: dict[str, Any]) -> str:
    """One line per task: the all-in numbers at N, then the fixed/steady split and the slowest harness stage."""
    header = ("task", "kind", "split", "n", "wall s", "e2e/s", "harness/s", "GPU/s", "overhead", "", "fixed s")
    header += ("steady", "slowest stage")
    lines = ["{:<17}{:<17}{:<11}{:>5}{:>7}{:>8}{:>10}{:>6}{:>10}  {:<5}{:>8}{:>8}  {}".format(*header)]
    for row in report["tasks"].values():
        if "skipped" in row:
            lines.append(f"{row['task']:<17}skipped: {row['skipped']}")
            continue
        slowest = row["slowest_stage"]
        lines.append(
            f"{row['task']:<17}{row['kind']:<17}{row['split']:<11}{row['examples']:>5}{row['wall_seconds']:>7.2f}"
            f"{row['end_to_end_examples_per_s']:>8.0f}{row['harness_examples_per_s']:>10.0f}"
            f"{row['gpu_examples_per_s']:>6.0f}{row['overhead_pct']:>9.2f}%  {'pass' if row['passed'] else 'FAIL':<5}"
            f"{row['fixed_seconds']:>8.2f}{row['steady_overhead_pct']:>7.2f}%  "
            f"{slowest} {row['stage_seconds'][slowest] / row['wall_seconds']:.0%}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="synthetic examples per task (default 500)")
    parser.add_argument("--tasks", help="comma-separated task names (default: every registered task)")
    parser.add_argument("--shots", type=int, default=0, help="demonstrations per example (default 0)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"default {DEFAULT_BATCH}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON report (default {DEFAULT_OUT})")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size, fastest kept (default 3)")
    parser.add_argument("--profile", action="store_true", help="one more run per task under cProfile; print its top")
    parser.add_argument(
        "--no-gpu-wait", action="store_true",
        help="do not wait as a GPU would after each batch: count background work as if nothing overlapped it",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if min(args.examples, args.batch_size, args.repeat) < 1 or args.shots < 0:
        parser.error("--examples, --batch-size and --repeat must be at least 1, --shots at least 0")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else TASKS.names()
    for task in tasks:
        TASKS.get(task)  # an unknown name fails here, with a suggestion, before any work
    report = run_benchmark(
        tasks, args.examples, args.shots, args.out, args.batch_size, args.repeat, args.profile,
        simulate_gpu=not args.no_gpu_wait,
    )  # fmt: skip
    print(format_table(report))
    if args.profile:
        for row in report["tasks"].values():
            if "profile_top" in row:
                print(f"\n{row['task']}: cProfile, top by own time\n" + "\n".join(row["profile_top"]))
    rows = [row for row in report["tasks"].values() if "skipped" not in row]
    failed = [row["task"] for row in rows if not row["passed"]]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} measured tasks under {TARGET_PCT:g}% of GPU wall time; "
          f"report: {args.out}" + (f"; over target: {', '.join(failed)}" if failed else ""))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
