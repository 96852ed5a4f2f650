"""ImageNet-style ranking benchmark: one image, "The photo of the", 1,000 candidate names of 1-8 tokens.

Measures, in one run:
* fast path: images/s of `Batcher(backend, B).run(requests)` over N images (one RankRequest per image);
* MFU of the fast path: 2 x decoder non-embedding parameters x useful tokens / time / measured matmul peak,
  where useful tokens per image = the prompt once (image slots included) + every candidate token, i.e. the
  work an ideal prefix-sharing implementation cannot avoid (vision tower, attention scores and the output
  head are not counted, so this is a lower bound);
* naive path on a small subset: one full forward of the model per candidate (vision tower included, full
  logits), and the speed-up of the fast path over it;
* parity: largest |fast - naive| summed log-probability on that subset.

Run from the repository root: `python benchmarks/rank_imagenet.py` (GPU) or `... --tiny` (CPU smoke test).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import math
from typing import Any

import numpy as np

from benchmarks.cli import parser, print_table, run_script, write_result
from benchmarks.common import (
    build_bench,
    continuation_ids,
    decoder_non_embedding_params,
    image_size,
    matmul_peak,
    max_abs_diff,
    naive_logprob,
    noise_images,
    peak_memory_gib,
    prompt_layout,
    random_phrases,
    require_finite,
    reset_peak_memory,
    timed,
)
from kosmos_eval.core.types import Context, RankRequest
from kosmos_eval.runner.batcher import Batcher

NAME = "rank_imagenet"
PROMPT = "The photo of the"  # prompts/imagenet.yaml: the image, then this text
TARGET_IMAGES_PER_S = 40.0
TARGET_SPEEDUP = 40.0


def make_candidates(tokenizer: Any, tail: str, count: int, max_tokens: int, seed: int) -> list[str]:
    """`count` candidate names whose continuation token counts cycle through 1..max_tokens.

    Names are random vocabulary pieces glued into words. Each is measured with the same split the backend
    uses (tokens of tail+name after those of tail). Short lengths have few distinct names in a small
    vocabulary, so a length bucket may repeat names; repeats cost the same as distinct names.
    """
    rng = np.random.default_rng(seed)
    head = tokenizer(tail, add_special_tokens=False)["input_ids"]
    per_length = math.ceil(count / max_tokens)
    buckets: dict[int, list[str]] = {n: [] for n in range(1, max_tokens + 1)}
    seen: set[str] = set()
    for _ in range(20):
        short = [n for n, b in buckets.items() if len(b) < per_length]
        before = sum(len(buckets[n]) for n in short)
        phrases = [" " + p for p in random_phrases(tokenizer, rng, 1000, max_words=4)]
        wholes = tokenizer([tail + p for p in phrases], add_special_tokens=False)["input_ids"]
        for phrase, whole in zip(phrases, wholes, strict=True):
            n = len(whole) - len(head)
            if whole[: len(head)] == head and n in buckets and phrase not in seen:
                seen.add(phrase)
                buckets[n].append(phrase)
        if not short or sum(len(buckets[n]) for n in short) == before:
            break  # every length has enough names, or the short ones have run out of new names
    empty = [n for n, b in buckets.items() if not b]
    if empty:
        raise RuntimeError(f"no candidate of {empty} tokens could be made from this tokenizer's vocabulary")
    ordered = [buckets[n][i % len(buckets[n])] for i in range(per_length) for n in buckets]
    return ordered[:count]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=64, help="images timed on the fast path (default 64)")
    p.add_argument("--candidates", type=int, default=1000, help="candidate names per image (default 1000)")
    p.add_argument("--max-candidate-tokens", type=int, default=8, help="candidate lengths 1..this (default 8)")
    p.add_argument("--batch-size", type=int, default=8, help="requests per backend call (default 8)")
    p.add_argument("--naive-images", type=int, default=2, help="images scored the naive way (default 2)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    bench = build_bench(args.tiny, args.seed)
    tokenizer = bench.tokenizer

    candidates = make_candidates(tokenizer, PROMPT, args.candidates, args.max_candidate_tokens, args.seed)
    lengths = [len(continuation_ids(tokenizer, PROMPT, c)) for c in candidates]
    images = noise_images(args.images, args.seed, "imagenet-noise", image_size(bench))
    requests = [RankRequest(Context.of(image, PROMPT), tuple(candidates)) for image in images]
    prefix_ids, _ = prompt_layout(bench, (images[0], PROMPT))
    useful_tokens = args.images * (len(prefix_ids) + sum(lengths))

    peak = matmul_peak(bench)
    # warm-up (kernels, allocator) on other images, so no vision feature of the timed set is cached
    warm_images = noise_images(args.batch_size, args.seed, "imagenet-warm-up", image_size(bench), stream=1)
    Batcher(bench.backend, args.batch_size).run(
        [RankRequest(Context.of(i, PROMPT), requests[0].continuations) for i in warm_images]
    )
    reset_peak_memory(bench)
    results, fast_seconds = timed(bench, lambda: Batcher(bench.backend, args.batch_size).run(requests))
    memory = peak_memory_gib(bench)
    fast_values = [v for r in results for v in r.logprobs]
    require_finite(fast_values, "fast path log-probs")
    token_count_mismatches = sum(
        int(n != expected) for r in results for n, expected in zip(r.num_tokens, lengths, strict=True)
    )

    subset = requests[: min(args.naive_images, args.images)]
    naive, naive_seconds = timed(
        bench, lambda: [[naive_logprob(bench, r.context.segments, c) for c in r.continuations] for r in subset]
    )
    require_finite([v for row in naive for v in row], "naive log-probs")
    max_diff = max_abs_diff(results, naive)

    fast_ips = args.images / fast_seconds
    naive_ips = len(subset) / naive_seconds
    flops = 2 * decoder_non_embedding_params(bench.model) * useful_tokens
    mfu = flops / fast_seconds / (peak["tflops"] * 1e12)
    tolerance = 1e-4 if bench.tiny else 1e-1
    out = {
        "images": args.images,
        "candidates_per_image": len(candidates),
        "distinct_candidates": len(set(candidates)),
        "candidate_token_lengths": {str(n): lengths.count(n) for n in sorted(set(lengths))},
        "mean_candidate_tokens": sum(lengths) / len(lengths),
        "prompt_tokens": len(prefix_ids),
        "useful_tokens": useful_tokens,
        "batch_size": args.batch_size,
        "fast_seconds": fast_seconds,
        "fast_images_per_s": fast_ips,
        "naive_images": len(subset),
        "naive_seconds": naive_seconds,
        "naive_images_per_s": naive_ips,
        "speedup_vs_naive": fast_ips / naive_ips,
        "matmul_peak": peak,
        "decoder_flops": flops,
        "achieved_tflops": flops / fast_seconds / 1e12,
        "mfu": mfu,
        "peak_memory_gib": memory,
        "max_abs_diff_vs_naive": max_diff,
        "parity_tolerance": tolerance,
        "parity_ok": max_diff <= tolerance,
        "token_count_mismatches": token_count_mismatches,
        "targets": {"fast_images_per_s": TARGET_IMAGES_PER_S, "speedup_vs_naive": TARGET_SPEEDUP},
        "meets_targets": fast_ips >= TARGET_IMAGES_PER_S and fast_ips / naive_ips >= TARGET_SPEEDUP,
    }
    size = "TINY smoke run, not a benchmark" if bench.tiny else f"real size, {bench.dtype_name}"
    print_table(
        f"{NAME}: {args.images} images x {len(candidates)} candidates ({size})",
        [
            ("fast path images/s", fast_ips, f">= {TARGET_IMAGES_PER_S:g}"),
            ("naive images/s", naive_ips, f"({len(subset)} images, one forward per candidate)"),
            ("speed-up vs naive", out["speedup_vs_naive"], f">= {TARGET_SPEEDUP:g}x"),
            ("MFU (decoder, useful tokens)", mfu, "fraction of the measured matmul peak"),
            ("matmul peak TFLOP/s", peak["tflops"], f"{peak['size']}^3 {peak['dtype']}"),
            ("peak GPU memory GiB", memory, "torch.cuda.max_memory_allocated"),
            ("max |fast - naive| log-prob", max_diff, f"<= {tolerance:g} ({bench.dtype_name})"),
            ("token count mismatches", token_count_mismatches, "0"),
        ],
    )
    write_result(NAME, bench, args, argv, out)
    return out


if __name__ == "__main__":
    run_script(main)
