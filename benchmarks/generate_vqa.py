"""VQA benchmark: greedy decoding of at most 10 new tokens after "Question: ... Answer:" with questions of
varying lengths, at batch size 1 and at larger batch sizes.

Questions of different lengths give prompts of different lengths, so this measures how well batching holds
up when rows are not all alike. For each batch size: questions/s of `Batcher(backend, B).run` over all
questions (after a one-batch warm-up), and how many outputs equal those at batch size 1 (they must: an
output may not depend on its batch-mates).

Run from the repository root: `python benchmarks/generate_vqa.py` (GPU) or `... --tiny` (CPU smoke test).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import Any

import numpy as np
import torch

from benchmarks.cli import int_list, parser, print_table, run_script, write_result
from benchmarks.common import (
    build_bench,
    image_size,
    noise_images,
    peak_memory_gib,
    prompt_layout,
    random_phrases,
    reset_peak_memory,
    timed,
)
from kosmos_eval.core.types import Context, GenerateRequest
from kosmos_eval.errors import UserError
from kosmos_eval.runner.batcher import Batcher

NAME = "generate_vqa"
STOP = ("\n", "Question:")  # prompts/vqav2.yaml decoding.stop


def make_questions(bench: Any, count: int, max_words: int, seed: int) -> list[str]:
    """`count` prompts "Question: <1..max_words random words>? Answer:" (template of prompts/vqav2.yaml)."""
    rng = np.random.default_rng(seed)
    return [f"Question: {q}? Answer:" for q in random_phrases(bench.tokenizer, rng, count, max_words)]


def make_requests(bench: Any, prompts: list[str], max_new_tokens: int, seed: int, stream: int) -> list[GenerateRequest]:
    """One fresh noise image per prompt: each measurement gets its own `stream` of images, so the backend's
    vision-feature cache holds nothing from an earlier measurement."""
    images = noise_images(len(prompts), seed, f"vqa-{stream}", image_size(bench), stream)
    return [
        GenerateRequest(Context.of(image, prompt), max_new_tokens=max_new_tokens, stop=STOP)
        for image, prompt in zip(images, prompts, strict=True)
    ]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--questions", type=int, default=128, help="questions timed per batch size (default 128)")
    p.add_argument("--batch-sizes", type=int_list, default=[16, 64], help="compared with batch 1 (default 16,64)")
    p.add_argument("--max-question-words", type=int, default=16, help="questions have 1..this words (default 16)")
    p.add_argument("--max-new-tokens", type=int, default=10, help="default 10")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    bench = build_bench(args.tiny, args.seed)

    prompts = make_questions(bench, args.questions, args.max_question_words, args.seed)
    baseline_requests = make_requests(bench, prompts, args.max_new_tokens, args.seed, stream=0)
    prompt_lengths = [len(prompt_layout(bench, r.context.segments)[0]) for r in baseline_requests]
    per_batch: list[dict[str, Any]] = []
    baseline: list[str] = []
    for n, batch in enumerate(sorted({1, *args.batch_sizes})):
        # batch 1 is timed on the baseline set; every other size on fresh images with the same questions
        requests = (
            baseline_requests if batch == 1 else make_requests(bench, prompts, args.max_new_tokens, args.seed, 2 * n)
        )
        warm_up = make_requests(bench, prompts[:batch], args.max_new_tokens, args.seed, 2 * n + 1)
        try:
            Batcher(bench.backend, batch).run(warm_up)  # kernels, allocator
            reset_peak_memory(bench)
            outputs, seconds = timed(bench, lambda b=batch, r=requests: Batcher(bench.backend, b).run(r))
            memory = peak_memory_gib(bench)
            # the same requests as batch 1 (untimed), for the equality check
            same = outputs if batch == 1 else Batcher(bench.backend, batch).run(baseline_requests)
        except (torch.OutOfMemoryError, UserError) as exc:  # the Batcher reports OOM at a fixed size as UserError
            per_batch.append({"batch_size": batch, "error": str(exc).splitlines()[0]})
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        baseline = baseline or same  # batch size 1 runs first
        per_batch.append(
            {
                "batch_size": batch,
                "seconds": seconds,
                "questions_per_s": len(requests) / seconds,
                "peak_memory_gib": memory,
                "outputs_equal_to_batch_1": sum(a == b for a, b in zip(same, baseline, strict=True)),
            }
        )
    done = [m for m in per_batch if "error" not in m]
    if not done or done[0]["batch_size"] != 1:
        raise UserError(f"{NAME}: batch size 1 failed ({per_batch[0].get('error')}); nothing to compare with")
    best = max(done, key=lambda m: m["questions_per_s"])
    compared = len(prompts) * len(done)
    equal = sum(m["outputs_equal_to_batch_1"] for m in done)
    out = {
        "questions": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "prompt_tokens": {"min": min(prompt_lengths), "max": max(prompt_lengths), "distinct": len(set(prompt_lengths))},
        "per_batch_size": per_batch,
        "batch_1_questions_per_s": done[0]["questions_per_s"],
        "best_questions_per_s": best["questions_per_s"],
        "best_batch_size": best["batch_size"],
        "speedup_best_vs_batch_1": best["questions_per_s"] / done[0]["questions_per_s"],
        "all_outputs_equal_to_batch_1": equal == compared,
        "empty_outputs_at_batch_1": sum(1 for o in baseline if not o),
        "distinct_outputs_at_batch_1": len(set(baseline)),  # alike outputs make the equality check weaker
        "sample_outputs": [{"prompt": p, "answer": a} for p, a in zip(prompts[:3], baseline, strict=False)],
    }
    size = "TINY smoke run, not a benchmark" if bench.tiny else f"real size, {bench.dtype_name}"
    rows: list[tuple[str, Any, str]] = []
    for m in per_batch:
        if "error" in m:
            rows.append((f"B={m['batch_size']}", "failed", m["error"][:60]))
            continue
        rows.append((f"B={m['batch_size']} questions/s", m["questions_per_s"], ""))
        rows.append((f"B={m['batch_size']} equal to B=1", f"{m['outputs_equal_to_batch_1']}/{len(prompts)}", "all"))
    rows.append(("speed-up best vs B=1", out["speedup_best_vs_batch_1"], f"at B={best['batch_size']}"))
    lengths = out["prompt_tokens"]
    print_table(
        f"{NAME}: greedy, {args.max_new_tokens} new tokens, prompts of {lengths['min']}-{lengths['max']} tokens "
        f"({lengths['distinct']} lengths; {size})",
        rows,
    )
    write_result(NAME, bench, args, argv, out)
    return out


if __name__ == "__main__":
    run_script(main)
