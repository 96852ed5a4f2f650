"""Captioning benchmark: "An image of", beam search (5 beams), up to 20 new tokens, at several batch sizes.

For each batch size B, images/s of `Batcher(backend, B).run` over max(B x rounds, min-images) images, and of
the plain-transformers reference on the same images in batches of B: the official Kosmos2Processor
(`images=..., text=[prompt] * B`) and `Kosmos2ForConditionalGeneration.generate`. Reports the best of each
over the batch sizes, their ratio, the mean number of new tokens (random weights may end early with EOS), and
whether the backend's captions equal the reference's token for token (decoded the same way: cut at EOS,
special tokens dropped).

Run from the repository root: `python benchmarks/generate_caption.py` (GPU) or `... --tiny` (CPU smoke test).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import Sequence
from typing import Any

import torch

from benchmarks.cli import int_list, parser, print_table, run_script, write_result
from benchmarks.common import Bench, build_bench, image_size, noise_images, peak_memory_gib, reset_peak_memory, timed
from kosmos_eval.core.types import Context, GenerateRequest, ImageInput
from kosmos_eval.errors import UserError
from kosmos_eval.runner.batcher import Batcher

NAME = "generate_caption"
PROMPT = "An image of"  # prompts/coco_caption.yaml: the image, then this text
TARGET_IMAGES_PER_S = 250.0
TARGET_RATIO = 3.0


def reference_generate(
    bench: Bench, images: Sequence[ImageInput], prompt: str, max_new_tokens: int, num_beams: int
) -> list[list[int]]:
    """New token ids per image from the official processor and `model.generate`, the whole batch at once."""
    tokenizer = bench.tokenizer
    inputs = bench.processor(
        images=[image.load() for image in images],
        text=[prompt] * len(images),
        num_image_tokens=bench.num_slots,
        return_tensors="pt",
    )
    with torch.inference_mode():
        out = bench.model.generate(
            pixel_values=inputs["pixel_values"].to(bench.device, bench.dtype),
            input_ids=inputs["input_ids"].to(bench.device),
            attention_mask=inputs["attention_mask"].to(bench.device),
            image_embeds_position_mask=inputs["image_embeds_position_mask"].to(bench.device),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    width = inputs["input_ids"].shape[1]
    return [row[width:].tolist() for row in out]


def until_eos(tokens: list[int], eos: int) -> list[int]:
    """The generated tokens up to and including the first end-of-sequence (what follows is padding)."""
    return tokens[: tokens.index(eos) + 1] if eos in tokens else tokens


def decode(bench: Bench, tokens: list[int]) -> str:
    """Text as a caption is reported: up to EOS, special tokens and grounding markup (ids past the base
    vocabulary) dropped, whitespace stripped."""
    kept = [t for t in until_eos(tokens, bench.tokenizer.eos_token_id) if t < bench.tokenizer.vocab_size]
    return bench.tokenizer.decode(kept, skip_special_tokens=True).strip()


def measure(bench: Bench, images: list[ImageInput], warm_up: list[ImageInput], batch: int, args: Any) -> dict[str, Any]:
    """One batch size: backend and reference on the same images, each warmed up on one batch of other images
    first (so no vision feature of the timed images is cached by the backend)."""

    def requests_for(some: list[ImageInput]) -> list[GenerateRequest]:
        return [GenerateRequest(Context.of(i, PROMPT), args.max_new_tokens, num_beams=args.beams) for i in some]

    requests = requests_for(images)
    Batcher(bench.backend, batch).run(requests_for(warm_up))
    reset_peak_memory(bench)
    ours, ours_seconds = timed(bench, lambda: Batcher(bench.backend, batch).run(requests))
    memory = peak_memory_gib(bench)

    def reference() -> list[list[int]]:
        chunks = [images[start : start + batch] for start in range(0, len(images), batch)]
        settings = (PROMPT, args.max_new_tokens, args.beams)
        return [t for chunk in chunks for t in reference_generate(bench, chunk, *settings)]

    reference_generate(bench, warm_up, PROMPT, args.max_new_tokens, args.beams)
    theirs, theirs_seconds = timed(bench, reference)
    expected = [decode(bench, tokens) for tokens in theirs]
    new_tokens = [len(until_eos(tokens, bench.tokenizer.eos_token_id)) for tokens in theirs]
    mismatches = [i for i, (a, b) in enumerate(zip(ours, expected, strict=True)) if a != b]
    return {
        "batch_size": batch,
        "images": len(images),
        "backend_seconds": ours_seconds,
        "backend_images_per_s": len(images) / ours_seconds,
        "reference_seconds": theirs_seconds,
        "reference_images_per_s": len(images) / theirs_seconds,
        "ratio": theirs_seconds / ours_seconds,
        "peak_memory_gib": memory,
        "mean_new_tokens": sum(new_tokens) / len(new_tokens),
        "outputs_equal": len(images) - len(mismatches),
        "empty_outputs": sum(1 for text in ours if not text),
        "distinct_outputs": len(set(ours)),  # random weights can make every caption alike: a weaker check
        "sample_outputs": ours[:3],
        "first_mismatch": {"index": mismatches[0], "backend": ours[mismatches[0]], "reference": expected[mismatches[0]]}
        if mismatches
        else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--batch-sizes", type=int_list, default=[1, 16, 64, 128], help="default 1,16,64,128")
    p.add_argument("--rounds", type=int, default=2, help="batches timed per batch size (default 2)")
    p.add_argument("--min-images", type=int, default=8, help="images timed at least, per batch size (default 8)")
    p.add_argument("--max-new-tokens", type=int, default=20, help="default 20")
    p.add_argument("--beams", type=int, default=5, help="default 5")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    bench = build_bench(args.tiny, args.seed)

    per_batch: list[dict[str, Any]] = []
    for n, batch in enumerate(args.batch_sizes):
        count = max(batch * args.rounds, args.min_images)
        images = noise_images(count, args.seed, f"caption-b{batch}", image_size(bench), stream=2 * n)
        warm_up = noise_images(batch, args.seed, f"caption-warm-up-b{batch}", image_size(bench), stream=2 * n + 1)
        try:
            per_batch.append(measure(bench, images, warm_up, batch, args))
        except (torch.OutOfMemoryError, UserError) as exc:  # the Batcher reports OOM at a fixed size as UserError
            per_batch.append({"batch_size": batch, "error": str(exc).splitlines()[0]})
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    done = [m for m in per_batch if "error" not in m]
    if not done:
        raise UserError(f"{NAME}: every batch size failed ({per_batch[0]['error']}); try smaller --batch-sizes")
    best_ours = max(done, key=lambda m: m["backend_images_per_s"])
    best_theirs = max(done, key=lambda m: m["reference_images_per_s"])
    ratio = best_ours["backend_images_per_s"] / best_theirs["reference_images_per_s"]
    compared = sum(m["images"] for m in done)
    equal = sum(m["outputs_equal"] for m in done)
    out = {
        "prompt": PROMPT,
        "num_beams": args.beams,
        "max_new_tokens": args.max_new_tokens,
        "per_batch_size": per_batch,
        "best_backend_images_per_s": best_ours["backend_images_per_s"],
        "best_backend_batch_size": best_ours["batch_size"],
        "best_reference_images_per_s": best_theirs["reference_images_per_s"],
        "best_reference_batch_size": best_theirs["batch_size"],
        "ratio_best_vs_best": ratio,
        "outputs_compared": compared,
        "outputs_equal": equal,
        "all_outputs_equal": equal == compared,
        "targets": {"backend_images_per_s": TARGET_IMAGES_PER_S, "ratio_best_vs_best": TARGET_RATIO},
        "meets_targets": best_ours["backend_images_per_s"] >= TARGET_IMAGES_PER_S and ratio >= TARGET_RATIO,
    }
    size = "TINY smoke run, not a benchmark" if bench.tiny else f"real size, {bench.dtype_name}"
    rows: list[tuple[str, Any, str]] = []
    for m in per_batch:
        if "error" in m:
            rows.append((f"B={m['batch_size']}", "failed", m["error"][:60]))
            continue
        rows.append((f"B={m['batch_size']} backend images/s", m["backend_images_per_s"], f"{m['images']} images"))
        rows.append((f"B={m['batch_size']} model.generate images/s", m["reference_images_per_s"], "reference"))
        rows.append((f"B={m['batch_size']} equal outputs", f"{m['outputs_equal']}/{m['images']}", "all"))
        rows.append((f"B={m['batch_size']} mean new tokens", m["mean_new_tokens"], f"<= {args.max_new_tokens}"))
    rows += [
        ("best backend images/s", best_ours["backend_images_per_s"], f">= {TARGET_IMAGES_PER_S:g}"),
        ("best model.generate images/s", best_theirs["reference_images_per_s"], f"at B={best_theirs['batch_size']}"),
        ("ratio best vs best", ratio, f">= {TARGET_RATIO:g}x"),
    ]
    print_table(f"{NAME}: beam {args.beams}, {args.max_new_tokens} new tokens ({size})", rows)
    write_result(NAME, bench, args, argv, out)
    return out


if __name__ == "__main__":
    run_script(main)
