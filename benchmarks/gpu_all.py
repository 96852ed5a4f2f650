"""Every GPU benchmark in one command, sized to finish in minutes on one H100/H200: one table, one JSON.

Runs, in one process (the random-weight Kosmos-2 is built once and shared), with sizes chosen for time:

1. rank_imagenet: 1 image + 1,000 names per request, fast path vs one full forward per name;
2. rank_raven: 8 panels + candidate, six contexts per problem, vs one forward per context and answer;
3. generate_caption: beam 5, 20 new tokens, the backend vs `model.generate`, each at its best batch size;
4. generate_vqa: greedy, 10 new tokens, questions of mixed length, batched vs batch 1;
5. rank_real_families: ImageNet-style ranking on LLaVA-1.5-7B- and Qwen2.5-VL-7B-shaped models.

Each benchmark also writes its own results/benchmarks/<name>.json; this script writes
results/benchmarks/gpu_all.json with the device name, the headline numbers, every equality check, each
benchmark's seconds and the total. `--budget-s` (default 420) is a time cap: a benchmark that would start after
it is skipped and marked so, rather than running past it. `--tiny` runs everything on the tiny CPU models
(a smoke test, as tests/test_benchmarks.py runs it; not a benchmark).

Run from the repository root on the GPU machine: `python benchmarks/gpu_all.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import platform
import shlex
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks import generate_caption, generate_vqa, rank_imagenet, rank_raven, rank_real_families
from benchmarks.cli import RESULTS_DIR, TINY_NOTE, print_table, run_script
from kosmos_eval.errors import UserError

NAME = "gpu_all"
# (benchmark, its main, real-size arguments, tiny arguments): sizes that fit the time cap on one GPU
PLAN: list[tuple[str, Callable[[list[str] | None], Any], list[str], list[str]]] = [
    ("rank_imagenet", rank_imagenet.main, ["--images", "32", "--naive-images", "1"], ["--images", "2"]),
    ("rank_raven", rank_raven.main, ["--problems", "16", "--naive-problems", "1"], ["--problems", "2"]),
    (
        "generate_caption",
        generate_caption.main,
        ["--batch-sizes", "16,64,128", "--rounds", "1", "--min-images", "32"],
        ["--batch-sizes", "1,4", "--rounds", "1", "--min-images", "4"],
    ),
    ("generate_vqa", generate_vqa.main, ["--questions", "64", "--batch-sizes", "16,64"], ["--questions", "8"]),
    (
        "rank_real_families",
        rank_real_families.main,
        ["--images", "8", "--naive-candidates", "20"],
        ["--images", "1", "--candidates", "40", "--naive-candidates", "8"],
    ),
]


def headline(name: str, result: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """The rows this benchmark contributes to the combined table: speed, target, equality check."""
    if name == "rank_imagenet":
        return [
            ("rank_imagenet images/s", result["fast_images_per_s"], ">= 40"),
            ("rank_imagenet speed-up vs naive", result["speedup_vs_naive"], ">= 40x"),
            ("rank_imagenet max |diff| vs naive", result["max_abs_diff_vs_naive"], f"<= {result['parity_tolerance']}"),
        ]
    if name == "rank_raven":
        return [
            ("rank_raven problems/s", result["fast_problems_per_s"], ""),
            ("rank_raven speed-up vs naive", result["speedup_vs_naive"], ""),
            ("rank_raven max |diff| vs naive", result["max_abs_diff_vs_naive"], f"<= {result['parity_tolerance']}"),
        ]
    if name == "generate_caption":
        return [
            ("generate_caption images/s", result["best_backend_images_per_s"], ">= 250"),
            ("generate_caption vs model.generate", result["ratio_best_vs_best"], ">= 3x"),
            ("generate_caption equal outputs", f"{result['outputs_equal']}/{result['outputs_compared']}", "all"),
        ]
    if name == "generate_vqa":
        return [
            ("generate_vqa speed-up vs batch 1", result["speedup_best_vs_batch_1"], ""),
            ("generate_vqa equal to batch 1", str(result["all_outputs_equal_to_batch_1"]), "True"),
        ]
    rows = []
    for family in result["families"]:
        label = f"rank {family['family']}"
        rows.append((f"{label} images/s", family["packed_images_per_s"], ""))
        rows.append((f"{label} speed-up vs naive", family["speedup_vs_naive"], ""))
        tolerance = f"<= {family['parity_tolerance']}"
        rows.append((f"{label} max |diff| vs naive", family["max_abs_diff_vs_naive"], tolerance))
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog=f"python benchmarks/{NAME}.py", description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="tiny fp32 models on CPU: a smoke test, not a benchmark")
    p.add_argument("--budget-s", type=float, default=420.0, help="skip benchmarks that would start later (420)")
    p.add_argument("--only", default=None, help="comma-separated benchmark names (default: all)")
    p.add_argument("--out", type=Path, default=None, help=f"JSON path (default results/benchmarks/{NAME}.json)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    if not args.tiny and not torch.cuda.is_available():
        raise UserError("no CUDA GPU is visible: run this on the GPU machine, or add --tiny for the smoke test")
    chosen = args.only.split(",") if args.only else [name for name, *_ in PLAN]
    unknown = sorted(set(chosen) - {name for name, *_ in PLAN})
    if unknown:
        raise UserError(f"--only: unknown benchmark {unknown[0]!r} (have {', '.join(name for name, *_ in PLAN)})")
    started = time.perf_counter()
    runs: dict[str, Any] = {}
    table: list[tuple[str, Any, str]] = []
    for name, run, real_args, tiny_args in PLAN:
        if name not in chosen:
            continue
        elapsed = time.perf_counter() - started
        if elapsed > args.budget_s:
            runs[name] = {"skipped": f"time cap: {elapsed:.0f} s had passed (--budget-s {args.budget_s:g})"}
            table.append((name, "skipped", "time cap"))
            continue
        extra = ["--tiny", *tiny_args] if args.tiny else real_args
        begun = time.perf_counter()
        result = run(extra)
        runs[name] = {"arguments": extra, "seconds": time.perf_counter() - begun, "results": result}
        table += headline(name, result)
    total = time.perf_counter() - started
    table.append(("total seconds", total, f"< {args.budget_s + 60:g} (cap + last benchmark)"))
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine()
    size = "TINY smoke run, not a benchmark" if args.tiny else f"real size, bfloat16, {device}"
    print_table(f"{NAME}: every GPU benchmark ({size})", table)
    import transformers

    from kosmos_eval.runner.provenance import harness_commit

    payload = {
        "benchmark": NAME,
        "tiny": args.tiny,
        "note": TINY_NOTE if args.tiny else "random-weight models at real size; absolute numbers for this GPU",
        "command": shlex.join(["python", f"benchmarks/{NAME}.py", *argv]),
        "environment": {
            "device_name": device,
            "cuda": torch.version.cuda if cuda else None,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "harness": harness_commit(),
        },
        "table": [{"metric": m, "value": v, "target": t} for m, v, t in table],
        "benchmarks": runs,
        "total_seconds": total,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = args.out or RESULTS_DIR / (f"{NAME}.tiny.json" if args.tiny else f"{NAME}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nwrote {path}")
    return payload


if __name__ == "__main__":
    run_script(main)
