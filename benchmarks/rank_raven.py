"""Raven ranking benchmark: eight panels + one candidate per context, six contexts per problem, " Yes" / " No".

The prompt is the Raven task's (prompts/raven.yaml, kosmos_eval/tasks/raven.py): "Here are eight images:", the
eight panels one by one, " The following image is:", one candidate, " Is it correct?", scored with the
continuations " Yes" and " No". The panels recur (same keys) in all six contexts of a problem, which is what
a fast path can exploit.

Measures problems/s (and images/s) of `Batcher(backend, B).run` over N problems, the naive path on a small
subset (one full forward of the model per context and continuation, all nine images through the vision
tower each time), the speed-up, and the largest |fast - naive| log-probability on that subset.

Run from the repository root: `python benchmarks/rank_raven.py` (GPU) or `... --tiny` (CPU smoke test).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import Any

import yaml

from benchmarks.cli import parser, print_table, run_script, write_result
from benchmarks.common import (
    REPO_ROOT,
    build_bench,
    image_size,
    max_abs_diff,
    naive_logprob,
    noise_images,
    peak_memory_gib,
    require_finite,
    reset_peak_memory,
    timed,
)
from kosmos_eval.core.types import Context, RankRequest
from kosmos_eval.runner.batcher import Batcher

NAME = "rank_raven"
PANELS = 8
CANDIDATES = 6  # IQ50, the paper's Raven set, has six candidates per problem


def raven_template() -> tuple[dict[int, str], tuple[str, str]]:
    """Number words and the (positive, negative) answers, read from the task's own template."""
    data = yaml.safe_load((REPO_ROOT / "prompts" / "raven.yaml").read_text())
    words = {int(k): v for k, v in data["number_words"].items()}
    return words, (data["answers"]["positive"], data["answers"]["negative"])


def make_problems(bench: Any, count: int, seed: int, stream: int = 0) -> list[list[RankRequest]]:
    """`count` problems of noise images, each as its CANDIDATES rank requests (one per candidate)."""
    words, answers = raven_template()
    per_problem = PANELS + CANDIDATES
    images = noise_images(count * per_problem, seed, f"raven-{stream}", image_size(bench), stream)
    problems = []
    for p in range(count):
        own = images[p * per_problem : (p + 1) * per_problem]
        panels, candidates = own[:PANELS], own[PANELS:]
        problems.append(
            [
                RankRequest(
                    Context.of(
                        f"Here are {words[PANELS]} images:", panels, " The following image is:", c, " Is it correct?"
                    ),
                    answers,
                )
                for c in candidates
            ]
        )
    return problems


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--problems", type=int, default=32, help="problems timed on the fast path (default 32)")
    p.add_argument("--batch-size", type=int, default=24, help="requests (contexts) per backend call (default 24)")
    p.add_argument("--naive-problems", type=int, default=2, help="problems scored the naive way (default 2)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    bench = build_bench(args.tiny, args.seed)

    problems = make_problems(bench, args.problems, args.seed)
    requests = [r for problem in problems for r in problem]
    # warm-up (kernels, allocator) on other problems, so no vision feature of the timed set is cached
    warm_up = make_problems(bench, -(-args.batch_size // CANDIDATES), args.seed, stream=1)
    Batcher(bench.backend, args.batch_size).run([r for problem in warm_up for r in problem][: args.batch_size])
    reset_peak_memory(bench)
    results, fast_seconds = timed(bench, lambda: Batcher(bench.backend, args.batch_size).run(requests))
    memory = peak_memory_gib(bench)
    require_finite([v for r in results for v in r.logprobs], "fast path log-probs")

    subset = [r for problem in problems[: min(args.naive_problems, args.problems)] for r in problem]
    naive, naive_seconds = timed(
        bench, lambda: [[naive_logprob(bench, r.context.segments, c) for c in r.continuations] for r in subset]
    )
    require_finite([v for row in naive for v in row], "naive log-probs")
    max_diff = max_abs_diff(results, naive)

    naive_problems = len(subset) // CANDIDATES
    fast_pps = args.problems / fast_seconds
    naive_pps = naive_problems / naive_seconds
    tolerance = 1e-4 if bench.tiny else 1e-1
    out = {
        "problems": args.problems,
        "contexts_per_problem": CANDIDATES,
        "images_per_problem": PANELS + CANDIDATES,
        "batch_size": args.batch_size,
        "fast_seconds": fast_seconds,
        "fast_problems_per_s": fast_pps,
        "fast_images_per_s": fast_pps * (PANELS + CANDIDATES),
        "naive_problems": naive_problems,
        "naive_seconds": naive_seconds,
        "naive_problems_per_s": naive_pps,
        "speedup_vs_naive": fast_pps / naive_pps,
        "peak_memory_gib": memory,
        "max_abs_diff_vs_naive": max_diff,
        "parity_tolerance": tolerance,
        "parity_ok": max_diff <= tolerance,
    }
    size = "TINY smoke run, not a benchmark" if bench.tiny else f"real size, {bench.dtype_name}"
    print_table(
        f"{NAME}: {args.problems} problems x {CANDIDATES} contexts of {PANELS + 1} images ({size})",
        [
            ("fast path problems/s", fast_pps, f"{out['fast_images_per_s']:.3g} distinct images/s"),
            ("naive problems/s", naive_pps, f"({naive_problems} problems, one forward per context and answer)"),
            ("speed-up vs naive", out["speedup_vs_naive"], "(higher is better)"),
            ("peak GPU memory GiB", memory, "torch.cuda.max_memory_allocated"),
            ("max |fast - naive| log-prob", max_diff, f"<= {tolerance:g} ({bench.dtype_name})"),
        ],
    )
    write_result(NAME, bench, args, argv, out)
    return out


if __name__ == "__main__":
    run_script(main)
