"""Tiny random checkpoints, one per declared model family: `kosmos-eval tiny-model FAMILY OUT_DIR`.

Each is built offline from a transformers config (a couple of layers, width 64, images of 32-64 pixels) with
a tokenizer trained here (tokenizer.py, deterministic) and a PIL image processor (no torchvision), saved with
`save_pretrained` and loadable through the normal `--model hf --model-args pretrained=OUT_DIR` path. The
conformance suite (tests/test_conformance.py) builds one of every family; the scores such a model gives are
meaningless, but whether the harness computes them exactly is not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kosmos_eval.core.registry import Registry
from kosmos_eval.errors import UserError

Builder = Callable[[Path, int], Path]  # (out_dir, seed) -> out_dir
BUILDER_MODULES = (
    "kosmos_eval.tiny.kosmos2",
    "kosmos_eval.tiny.llava",
    "kosmos_eval.tiny.llava_like",
    "kosmos_eval.tiny.qwen",
    "kosmos_eval.tiny.gemma",
    "kosmos_eval.tiny.idefics",
    "kosmos_eval.tiny.other",
    "kosmos_eval.tiny.causal_lm",
)
# family name -> the function building its tiny checkpoint
BUILDERS: Registry[Builder] = Registry("tiny builder", BUILDER_MODULES)


def tiny_builder(*families: str) -> Callable[[Builder], Builder]:
    """Register `build(out_dir, seed)` as the maker of these families' tiny checkpoints."""
    return BUILDERS.register(*families)


def architectures() -> list[str]:
    """The families a tiny checkpoint can be built for, in declaration order."""
    return [name for name, _ in BUILDERS.items()]


def build_tiny_model(architecture: str, out_dir: Path, seed: int = 0) -> Path:
    build = BUILDERS.find(architecture)
    if build is None:
        known = ", ".join(architectures())
        raise UserError(f"tiny-model: unknown architecture {architecture!r} (choose from {known})")
    return build(Path(out_dir), seed)


def save(out_dir: Path, model: object, processor: object) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)  # type: ignore[attr-defined]
    processor.save_pretrained(out_dir)  # type: ignore[attr-defined]
    return out_dir


def clip_image_processor(image_size: int) -> object:
    from transformers import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
