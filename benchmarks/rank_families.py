"""Shared-prefix packing per model family: packed ranking vs one forward per candidate, in one run.

For every declared family that packs (or those given with --families), a tiny random checkpoint
(kosmos_eval/tiny) scores ImageNet-style requests: one image, "The photo of the", then N candidate names.
Two paths of the real `HFBackend`:

* packed: the image and prompt once per pack, every name after it (docs/performance.md);
* naive: one forward per (image, name) sequence, full row, nothing shared (`packing=false`, one row per
  forward) — the cost of an evaluation without packing.

The ratio of the two measures the work packing saves for that family's input layout on this machine; the
largest log-probability difference between them is its exactness check. Tiny models on the CPU: the ratio
shows what packing removes (repeated image and prompt tokens), not GPU speed, which benchmarks on the GPU
measure. Run from the repository root: `python benchmarks/rank_families.py`.
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
import tempfile
import time
from typing import Any

import numpy as np
import torch

from benchmarks.cli import RESULTS_DIR, run_script
from benchmarks.common import noise_images, random_phrases
from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.backends.hf.families import families
from kosmos_eval.core.types import Context, RankRequest
from kosmos_eval.errors import UserError
from kosmos_eval.tiny import build_tiny_model

NAME = "rank_families"
PROMPT = "The photo of the"
NOTE = "tiny random checkpoints in float32 on this CPU: the ratios show the work packing removes, not GPU speed"


def packing_families() -> list[str]:
    # text-only families cannot take the image requests this benchmark ranks
    chosen = families().items()
    return [name for name, family in chosen if family.packing and not family.refuse and not family.text_only]


def measure(name: str, folder: Path, images: int, candidates: int, seed: int) -> dict[str, Any]:
    backend = HFBackend(pretrained=str(folder), dtype="float32", device="cpu", image_workers="0")
    rng = np.random.default_rng(seed)
    names = tuple(dict.fromkeys(" " + p for p in random_phrases(backend.tokenizer, rng, 4 * candidates, 3)))
    names = names[:candidates]
    pictures = noise_images(images, seed, f"rank-families-{name}", (64, 64))
    requests = [RankRequest(Context.of(picture, PROMPT), names) for picture in pictures]
    backend.rank(requests[:1])  # warm-up: kernels, caches of the continuation layout

    def timed(packing: bool) -> tuple[list[float], float]:
        backend.packing = packing
        backend.max_rows_per_forward = 256 if packing else 1
        started = time.perf_counter()
        results = backend.rank(requests)
        return [v for r in results for v in r.logprobs], time.perf_counter() - started

    packed, packed_s = timed(True)
    naive, naive_s = timed(False)
    if not all(np.isfinite(packed)):
        raise RuntimeError(f"{name}: packed log-probs are not finite")
    return {
        "family": name,
        "images": images,
        "candidates": len(names),
        "packed_images_per_s": images / packed_s,
        "naive_images_per_s": images / naive_s,
        "speedup": naive_s / packed_s,
        "max_abs_logprob_difference": float(np.max(np.abs(np.array(packed) - np.array(naive)))),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog=f"python benchmarks/{NAME}.py", description=__doc__.splitlines()[0])
    p.add_argument("--families", default=None, help="comma-separated family names (default: every packing family)")
    p.add_argument("--images", type=int, default=2, help="images per family (default 2)")
    p.add_argument("--candidates", type=int, default=200, help="candidate names per image (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help=f"JSON path (default results/benchmarks/{NAME}.json)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    chosen = args.families.split(",") if args.families else packing_families()
    unknown = [name for name in chosen if name not in packing_families()]
    if unknown:
        raise UserError(
            f"--families: {', '.join(unknown)} do not pack (packing families: {', '.join(packing_families())})"
        )
    torch.manual_seed(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kosmos-eval-rank-families-") as scratch:
        for name in chosen:
            folder = build_tiny_model(name, Path(scratch) / name, seed=args.seed)
            rows.append(measure(name, folder, args.images, args.candidates, args.seed))
    print(f"\n{NAME}: {args.images} images x {args.candidates} names per family ({NOTE})")
    print(f"{'family':<18}{'packed img/s':>14}{'naive img/s':>13}{'speed-up':>10}{'max |diff|':>12}")
    for row in rows:
        print(
            f"{row['family']:<18}{row['packed_images_per_s']:>14.2f}{row['naive_images_per_s']:>13.2f}"
            f"{row['speedup']:>9.1f}x{row['max_abs_logprob_difference']:>12.1e}"
        )
    import transformers

    from kosmos_eval.runner.provenance import harness_commit

    payload = {
        "benchmark": NAME,
        "note": NOTE,
        "command": shlex.join(["python", f"benchmarks/{NAME}.py", *argv]),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": {
            "device_name": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "torch_threads": torch.get_num_threads(),
            "harness": harness_commit(),
        },
        "results": rows,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = args.out or RESULTS_DIR / f"{NAME}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {path}")
    return payload


if __name__ == "__main__":
    run_script(main)
