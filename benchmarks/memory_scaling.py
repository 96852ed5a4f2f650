"""Peak memory of running, resuming and re-scoring a ROC AUC task as the data set grows (issue 27, item 6).

Why: the harness holds one record per example, so memory must grow with n only as fast as the records do.
A bootstrap that materialises (resamples x n) numbers at once does not: at 100k HatefulMemes-format memes
the ROC AUC interval drew a 2000 x 100k index matrix (1.6 GB), then chunks of 256 resamples of it, and a
run, a resume and `kosmos-eval score` each peaked at 3.4-3.6 GB (this script, on the code before the draw came
in blocks). This measures each of those paths, at each size, in a fresh Python process:

* run: `evaluate` of hateful_memes (binary, metrics ROC AUC and accuracy with bootstrap CIs) with the chance
  backend on a generated data folder of N memes (the release's dev_seen.jsonl layout; the images are hard
  links to a pool of tiny PNGs, so writing 100k of them takes seconds).
* resume: the same command again on the finished run folder: every record is read back, nothing is
  computed, the metrics are aggregated and summary.json is rewritten.
* examples: only the task's data read (`task.load`), which a run, a resume and `score` all hold.
* records: only the run's records read, as `kosmos-eval score` reads them (reporting.runs.load_run).
* aggregate: the same records, then `task.aggregate` (the metrics, bootstrap intervals included): what it
  adds over `records` is what the metrics cost.
* score: `kosmos-eval score RUN_DIR` (reporting.rescore.rescore): every record re-scored against the data,
  aggregated, and the re-scored samples and summary written beside the old ones.
* imports: a process that imports the same modules and does nothing else, for scale.

The peak resident set size of each process is the kernel's high-water mark of its memory (VmHWM in
/proc/self/status, read as the stage ends; imports included), in MB of 10^6 bytes; the target is under 500 MB
at 100k examples. Not ru_maxrss: Linux carries it across exec from the forking parent, so a child would
report at least this script's own peak. Elsewhere than Linux, os.wait4's ru_maxrss stands in.

    python benchmarks/memory_scaling.py [--sizes 10000,100000] [--stages run,resume,aggregate,score]
                                        [--out results/benchmarks/memory_scaling.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "results" / "benchmarks" / "memory_scaling.json"
STAGES = ("imports", "run", "resume", "examples", "records", "aggregate", "score")  # the order they run in
TARGET_MB = 500.0
TARGET_SIZE = 100_000
IMAGE_POOL = 64  # distinct PNGs; every meme's image is a hard link to one of them
TASK = "hateful_memes"


# ------------------------------------------------------------------------------------ data and the stages
def write_memes(root: Path, n: int) -> None:
    """N memes in the release layout (dev_seen.jsonl + img/), both labels, text of about the real length: the
    generators' N-example writer, with every image a hard link to one of IMAGE_POOL pool images."""
    from kosmos_eval.generators.scaled import hateful_memes_data

    hateful_memes_data(root, n, 0, image_pool=IMAGE_POOL)


def run_config(workdir: Path) -> Any:
    from kosmos_eval.config import RunConfig

    return RunConfig(task=TASK, backend="chance", data_dir=str(workdir / "data"), output_dir=str(workdir / "runs"))


def run_folder(workdir: Path) -> Path:
    folders = sorted((workdir / "runs").glob(f"{TASK}_*"))
    if len(folders) != 1:
        raise RuntimeError(f"expected one run folder under {workdir / 'runs'}, found {len(folders)}")
    return folders[0]


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {name: value if isinstance(value, dict) else value.to_dict() for name, value in metrics.items()}


def stage(name: str, workdir: Path) -> dict[str, Any]:
    """Do one stage in this process; returns what it saw (records, metrics) for the report."""
    from kosmos_eval.backends.chance import ChanceBackend
    from kosmos_eval.reporting.rescore import rescore
    from kosmos_eval.reporting.runs import load_run
    from kosmos_eval.runner.run import evaluate, make_task

    if name == "imports":
        return {}
    if name in ("run", "resume"):
        config = run_config(workdir)
        outcome = evaluate(config, backend=ChanceBackend(seed=config.seed), progress=False)
        return {"computed": outcome.computed, "resumed": outcome.resumed, "metrics": _metrics(outcome.metrics)}
    if name == "examples":
        return {"examples": len(make_task(run_config(workdir)).load("dev_seen", workdir / "data"))}
    if name == "records":
        return {"records": len(load_run(run_folder(workdir)).records)}
    if name == "aggregate":
        records = load_run(run_folder(workdir)).records
        scores = make_task(run_config(workdir)).aggregate(records)
        return {"records": len(records), "metrics": _metrics(scores.metrics)}
    if name == "score":
        _, run = rescore(run_folder(workdir))
        return {"records": run.summary["n"], "per_sample": run.summary["rescored"]["per_sample"],
                "metrics": _metrics(run.summary["metrics"])}  # fmt: skip
    raise ValueError(f"unknown stage {name!r}")


def peak_rss_kb() -> int | None:
    """This process's peak resident set size so far (VmHWM), None where /proc is not there."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None


def measure(name: str, workdir: Path) -> dict[str, Any]:
    """Run stage `name` in a fresh interpreter and read its peak RSS (see the module's docstring)."""
    report = workdir / f"{name}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--workdir", str(workdir)]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"stage {name} failed (exit status {child.returncode}): {shlex.join(command)}")
    result = json.loads(report.read_text())
    peak_kb = result.pop("vm_hwm_kb", None)
    if peak_kb is None:
        peak_kb = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss  # macOS: bytes
    peak_mb = peak_kb * 1024 / 1e6
    return {"stage": name, "peak_rss_mb": round(peak_mb, 1), "seconds": round(seconds, 2)} | result


def measure_size(n: int, stages: list[str], workdir: Path) -> list[dict[str, Any]]:
    started = time.perf_counter()
    write_memes(workdir / "data", n)
    written = time.perf_counter() - started
    rows = []
    for name in stages:
        row = {"size": n} | measure(name, workdir)
        if name == "run":
            row["write_data_seconds"] = round(written, 2)
        if n >= TARGET_SIZE and name != "imports":
            row["passed"] = row["peak_rss_mb"] < TARGET_MB
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------- report and CLI
def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'examples':>9}  {'stage':<10}{'peak RSS MB':>12}{'seconds':>9}  {'ROC AUC (95% CI)':<24}  target"]
    for row in rows:
        auc = row.get("metrics", {}).get("roc_auc")
        shown = f"{auc['value']:.4f} ({auc['ci_low']:.4f}-{auc['ci_high']:.4f})" if auc else ""
        target = f"< {TARGET_MB:g} MB " + ("pass" if row["passed"] else "FAIL") if "passed" in row else ""
        lines.append(
            f"{row['size']:>9}  {row['stage']:<10}{row['peak_rss_mb']:>12.1f}{row['seconds']:>9.2f}  "
            f"{shown:<24}  {target}"
        )
    return "\n".join(lines)


def run_benchmark(sizes: list[int], stages: list[str], out: Path, argv: list[str]) -> dict[str, Any]:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"memory-scaling-{n}-") as workdir:
            rows += measure_size(n, stages, Path(workdir))
    report = {
        "benchmark": "memory_scaling",
        "command": shlex.join(["python", "benchmarks/memory_scaling.py", *argv]),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"sizes": sizes, "stages": stages, "task": TASK, "backend": "chance", "target_mb": TARGET_MB},
        "note": "peak RSS of each stage in a fresh process (os.wait4 ru_maxrss), MB = 10^6 bytes",
        "results": rows,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes such as 10000,100000, got {text!r}") from None
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"every size must be at least 2 (both labels), got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python benchmarks/memory_scaling.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_ints, default=[10_000, 100_000], help="examples (default 10000,100000)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"some of {','.join(STAGES)} (in this order)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON report (default {DEFAULT_OUT})")
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)  # one stage, in this process
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = stage(args.child, args.workdir) | {"vm_hwm_kb": peak_rss_kb()}
        (args.workdir / f"{args.child}.json").write_text(json.dumps(result))
        return 0
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    stages = [s for s in STAGES if s in stages]
    if any(s in stages for s in ("resume", "records", "aggregate", "score")) and "run" not in stages:
        stages.insert(1 if stages[0] == "imports" else 0, "run")  # they need a finished run folder
    report = run_benchmark(args.sizes, stages, args.out, argv)
    print(format_table(report["results"]))
    print(f"\nreport: {args.out}")
    return 0 if all(row.get("passed", True) for row in report["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
