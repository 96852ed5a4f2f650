"""LLaVA (1.5): CLIP patches projected into the LM, one `<image>` token per image expanded by the processor."""

from __future__ import annotations

from kosmos_eval.backends.hf.families import Family, register_family

LLAVA = register_family(
    Family(
        name="llava",
        label="LLaVA",
        model_types=("llava",),
        # as the llava-hf chat templates write an image: the token, then a newline
        image_text="{image}\n",
        # the llava-style adapter: packing off for text models with a sliding window, RICES features per image
        adapter="kosmos_eval.backends.hf.families.llava_like:LlavaLikeAdapter",
        # its forward takes a custom 4D mask and explicit positions unchanged, image features follow the order
        # of the image tokens, and attention over image tokens is plain causal: packing is exact
        packing=True,
        own_decoding=True,
        notes="images as <image> and a newline, as the llava-hf chat templates write them; packing is off for text "
        "models with a sliding window",
    )
)
