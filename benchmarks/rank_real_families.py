"""ImageNet-style ranking at real size for the other packing families: LLaVA 1.5 7B and Qwen2.5-VL 7B shapes.

Per family (benchmarks/real_families.py builds the model with random weights, bf16 on the GPU), one image,
"The photo of the" and `--candidates` names (1..3 random words) per request, two ways through the real
`HFBackend`:

* packed: shared-prefix packs, `--images` images through `Batcher(backend, --batch-size).run`;
* naive: one forward per (image, name) sequence (`packing=false`, one row per forward), on the first
  `--naive-candidates` names of the first image; the per-image time is that time scaled to all candidates
  (each candidate is its own forward, so the cost is linear in their number).

Prints images/s of both, their ratio, the largest log-probability difference on the naive subset (tolerance
0.1 in bfloat16, 1e-4 in float32) and peak GPU memory; writes results/benchmarks/rank_real_families.json.
`--tiny` runs the same code on kosmos_eval/tiny-shaped models on the CPU (a smoke test, not a benchmark).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gc
import json
import platform
import shlex
import time
from typing import Any

import numpy as np
import torch

from benchmarks.cli import RESULTS_DIR, TINY_NOTE, parser, print_table, run_script
from benchmarks.common import noise_images, random_phrases
from benchmarks.real_families import SHAPES, build_backend
from kosmos_eval.core.types import Context, RankRequest
from kosmos_eval.errors import UserError
from kosmos_eval.runner.batcher import Batcher

NAME = "rank_real_families"
PROMPT = "The photo of the"
IMAGE_SIZES = {"llava": (336, 336), "qwen2_5_vl": (224, 224)}
TINY_IMAGE_SIZES = {"llava": (32, 32), "qwen2_5_vl": (48, 40)}


def _sync(backend: Any) -> None:
    if backend.loaded.device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(family: str, args: Any) -> dict[str, Any]:
    backend = build_backend(family, args.tiny, args.seed)
    rng = np.random.default_rng(args.seed)
    phrases = random_phrases(backend.tokenizer, rng, 4 * args.candidates, 3)
    names = tuple(dict.fromkeys(" " + p for p in phrases))[: args.candidates]
    size = (TINY_IMAGE_SIZES if args.tiny else IMAGE_SIZES)[family]
    pictures = noise_images(args.images + 1, args.seed, f"{NAME}-{family}", size)
    warm_up, timed_pictures = pictures[0], pictures[1:]
    requests = [RankRequest(Context.of(picture, PROMPT), names) for picture in timed_pictures]
    backend.rank([RankRequest(Context.of(warm_up, PROMPT), names)])
    if torch.cuda.is_available() and not args.tiny:
        torch.cuda.reset_peak_memory_stats()
    _sync(backend)
    started = time.perf_counter()
    packed = Batcher(backend, args.batch_size).run(requests)
    _sync(backend)
    packed_s = time.perf_counter() - started
    memory = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() and not args.tiny else None

    subset = names[: args.naive_candidates]
    backend.packing, backend.max_rows_per_forward = False, 1
    _sync(backend)
    started = time.perf_counter()
    naive = backend.rank([RankRequest(Context.of(timed_pictures[0], PROMPT), subset)])[0]
    _sync(backend)
    naive_image_s = (time.perf_counter() - started) * len(names) / len(subset)
    difference = float(np.max(np.abs(np.array(packed[0].logprobs[: len(subset)]) - np.array(naive.logprobs))))
    if not all(np.isfinite(v) for r in packed for v in r.logprobs):
        raise RuntimeError(f"{family}: packed log-probs are not finite")
    tolerance = 1e-4 if args.tiny else 0.1
    row = {
        "family": family,
        "parameters": sum(p.numel() for p in backend.loaded.model.parameters()),
        "images": len(requests),
        "candidates": len(names),
        "packed_images_per_s": len(requests) / packed_s,
        "naive_images_per_s": 1 / naive_image_s,
        "naive_candidates_timed": len(subset),
        "speedup_vs_naive": naive_image_s / (packed_s / len(requests)),
        "max_abs_diff_vs_naive": difference,
        "parity_tolerance": tolerance,
        "parity_ok": difference <= tolerance,
        "peak_memory_gib": memory,
    }
    del backend, packed, naive
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--families", default=",".join(SHAPES), help=f"comma-separated (default {','.join(SHAPES)})")
    p.add_argument("--images", type=int, default=16, help="images timed on the packed path (default 16)")
    p.add_argument("--candidates", type=int, default=1000, help="candidate names per image (default 1000)")
    p.add_argument("--naive-candidates", type=int, default=50, help="names scored the naive way (default 50)")
    p.add_argument("--batch-size", type=int, default=4, help="requests per backend call (default 4)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    chosen = [name for name in args.families.split(",") if name]
    unknown = [name for name in chosen if name not in SHAPES]
    if unknown:
        raise UserError(f"--families: no real-size shape for {', '.join(unknown)} (have {', '.join(SHAPES)})")
    rows = [measure(family, args) for family in chosen]
    table: list[tuple[str, Any, str]] = []
    for row in rows:
        family = row["family"]
        table.append((f"{family} packed images/s", row["packed_images_per_s"], f"{row['images']} images"))
        table.append((f"{family} naive images/s", row["naive_images_per_s"], f"{row['naive_candidates_timed']} names"))
        table.append((f"{family} speed-up vs naive", row["speedup_vs_naive"], "x"))
        table.append((f"{family} max |diff| vs naive", row["max_abs_diff_vs_naive"], f"<= {row['parity_tolerance']}"))
    size = "TINY smoke run, not a benchmark" if args.tiny else "real size, bfloat16"
    print_table(f"{NAME}: {args.candidates} names per image ({size})", table)
    import transformers

    from kosmos_eval.runner.provenance import harness_commit

    cuda = torch.cuda.is_available() and not args.tiny
    payload = {
        "benchmark": NAME,
        "tiny": args.tiny,
        "note": TINY_NOTE if args.tiny else "real-size LLaVA 1.5 7B / Qwen2.5-VL 7B shapes with random weights",
        "command": shlex.join(["python", f"benchmarks/{NAME}.py", *argv]),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": {
            "device_name": torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine(),
            "cuda": torch.version.cuda if cuda else None,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "harness": harness_commit(),
        },
        "results": {"families": rows},
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = args.out or RESULTS_DIR / (f"{NAME}.tiny.json" if args.tiny else f"{NAME}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {path}")
    return payload["results"]


if __name__ == "__main__":
    run_script(main)
