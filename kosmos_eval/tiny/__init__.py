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


def model_type_aliases() -> dict[str, str]:
    """Model type (as a checkpoint's config.json writes it: "kosmos-2") -> the family whose builder makes it,
    for the model types that are not themselves builder names."""
    from kosmos_eval.backends.hf.families import BY_MODEL_TYPE

    return {
        model_type: family.name
        for model_type, family in BY_MODEL_TYPE.items()
        if model_type not in BUILDERS and family.name in BUILDERS
    }


def resolve_architecture(architecture: str) -> str:
    """The builder name for a family name or a model type; a one-line UserError listing both otherwise."""
    if architecture in BUILDERS:
        return architecture
    aliases = model_type_aliases()
    if architecture in aliases:
        return aliases[architecture]
    from kosmos_eval.backends.hf.families import FAMILIES

    names = architectures()
    families = [name for name in names if name in FAMILIES]
    model_types = [name for name in names if name not in FAMILIES] + list(aliases)
    raise UserError(
        f"tiny-model: unknown architecture {architecture!r}; families: {', '.join(families)}; "
        f"model types: {', '.join(model_types)}"
    )


def build_tiny_model(architecture: str, out_dir: Path, seed: int = 0) -> Path:
    """Build the tiny checkpoint of a family, named by family ("kosmos2") or by model type ("kosmos-2")."""
    return BUILDERS.get(resolve_architecture(architecture))(Path(out_dir), seed)


def chat_template(image_marker: str) -> str:
    """A minimal chat template in the common instruct shape, for the tiny checkpoints of families whose real
    checkpoints ship one (so `--model-args chat_template=true` can be smoke-tested): the tokenizer's BOS if it
    has one, "USER: " and the turn's content (a string, or text and image parts, each image written as the
    family's own `image_marker`), then " ASSISTANT:" as the generation prompt."""
    return (
        "{% if bos_token %}{{ bos_token }}{% endif %}{% for message in messages %}USER: "
        "{% if message.content is string %}{{ message.content }}{% else %}{% for part in message.content %}"
        "{% if part.type == 'image' %}" + image_marker + "{% else %}{{ part.text }}{% endif %}{% endfor %}"
        "{% endif %}{% endfor %}{% if add_generation_prompt %} ASSISTANT:{% endif %}"
    )


def save(out_dir: Path, model: object, processor: object, image_marker: str | None = None) -> Path:
    """Save the model and processor (or tokenizer); with `image_marker`, with a chat template writing it."""
    if image_marker is not None:
        processor.chat_template = chat_template(image_marker)  # type: ignore[attr-defined]
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)  # type: ignore[attr-defined]
    processor.save_pretrained(out_dir)  # type: ignore[attr-defined]
    return out_dir


def clip_image_processor(image_size: int) -> object:
    from transformers import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
