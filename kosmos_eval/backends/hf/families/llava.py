"""LLaVA (1.5): CLIP patches projected into the LM, one `<image>` token per image expanded by the processor."""

from __future__ import annotations

from kosmos_eval.backends.hf.families import Family, register_family

LLAVA = register_family(
    Family(
        name="llava",
        label="LLaVA",
        model_types=("llava",),
        # its forward takes a custom 4D mask and explicit positions unchanged, image features follow the order
        # of the image tokens, and attention over image tokens is plain causal: packing is exact
        packing=True,
    )
)
