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
The timing itself (the timed backend and its GPU wait, the per-stage clock, one timed run) is in
benchmarks/overhead_clock.py; this file writes the data, prices each task's examples at its GPU rate and reports.

    python benchmarks/harness_overhead.py [--examples 500] [--tasks a,b] [--shots 0] [--repeat 3] [--profile]
                                          [--no-gpu-wait]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.overhead_clock import profile_top, timed_run  # noqa: E402 (after the sys.path line)
from kosmos_eval.backends.chance import ChanceBackend  # noqa: E402
from kosmos_eval.config import RunConfig  # noqa: E402
from kosmos_eval.core.registry import TASKS  # noqa: E402
from kosmos_eval.core.types import GenerateRequest, RankRequest  # noqa: E402
from kosmos_eval.errors import UserError  # noqa: E402
from kosmos_eval.generators.scaled import SCALED_WRITERS, ScaledWriter  # noqa: E402
from kosmos_eval.runner.run import evaluate  # noqa: E402

TARGET_PCT = 5.0
GPU_RATES = {"1000-way ranking": 40.0, "generation": 250.0, "ranking": 250.0}
DEFAULT_OUT = ROOT / "results" / "benchmarks" / "harness_overhead.json"
DEFAULT_BATCH = 32  # the hf backend's start batch size on a GPU: the same step size and fsync cadence
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
        small_runs = [timed_run(config("small", f"small-run-{r}", small), None, wait_rate) for r in range(repeat)]
        small_done, small_wall, small_stages = min(small_runs, key=_harness_seconds)
        runs = [timed_run(config("data", f"run-{r}", examples), None, wait_rate) for r in range(repeat)]
        done, wall, stages = min(runs, key=_harness_seconds)
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            timed_run(config("data", "profiled-run", examples), profiler, wait_rate)
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
        row["profile_top"] = profile_top(profiler)
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
