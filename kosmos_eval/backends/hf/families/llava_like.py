"""LLaVA-style projector families: a vision tower whose projected patches replace the image tokens the processor
expands in the text (LLaVA-NeXT, LLaVA-OneVision, Aya Vision, Mistral 3, InternVL), plus LFM2-VL, which refuses.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from typing import Any

import torch

from kosmos_eval.backends.hf.families import Family, register_family, register_processor_standin
from kosmos_eval.backends.hf.processor_adapter import ProcessorAdapter
from kosmos_eval.core.types import ImageInput

ADAPTER = "kosmos_eval.backends.hf.families.llava_like:LlavaLikeAdapter"


def sliding_window(text_config: Any) -> bool:
    """Whether the text model limits attention to a window (Mistral's `sliding_window`, or sliding layers in
    `layer_types`): a custom 4D mask replaces that window, so shared-prefix packing would not be exact."""
    layer_types = getattr(text_config, "layer_types", None)
    if layer_types is not None:
        return any(kind != "full_attention" for kind in layer_types)
    return getattr(text_config, "sliding_window", None) is not None


class LlavaLikeAdapter(ProcessorAdapter):
    """The processor path unchanged, except that packing is off for text models with a sliding window, and
    the per-image features for RICES: these models' `get_image_features` also needs the image processor's
    `image_sizes` (LLaVA-NeXT, LLaVA-OneVision, Mistral 3), and Aya Vision and InternVL return one row per tile,
    so an image is the mean over its tiles."""

    def __init__(self, family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(family, model, processor, device, image_workers)
        if sliding_window(model.config.get_text_config()):
            self.can_pack = False

    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        inputs = self.processor.image_processor([image.load() for image in images], return_tensors="pt")
        takes = inspect.signature(self.model.get_image_features).parameters
        kwargs = {k: v.to(self.device) for k, v in inputs.items() if k in takes and torch.is_tensor(v)}
        kwargs["pixel_values"] = kwargs["pixel_values"].to(self.model.dtype)
        pooled = self.model.get_image_features(**kwargs, return_dict=True).pooler_output
        if torch.is_tensor(pooled):  # one row per tile: split by the tiles each image has
            tiles = inputs.get("num_patches")
            counts = [int(n) for n in tiles] if tiles is not None else [pooled.shape[0] // len(images)] * len(images)
            pooled = torch.split(pooled, counts)
        return torch.stack([p.reshape(-1, p.shape[-1]).mean(0) for p in pooled]).float()


def pixtral_processor_class() -> type:
    """transformers' own PixtralProcessor, importable without torchvision.

    Its module imports one helper (`get_resize_output_image_size`, used only to count tokens for vLLM) from the
    torchvision image processor's module; the PIL image processor's module has the same function. The processor
    module is imported with that one name taken from there, so the class (its __call__, its token layout) is
    transformers' own and the image processor it runs is PixtralImageProcessorPil.
    """
    name = "transformers.models.pixtral.processing_pixtral"
    if name not in sys.modules:
        torchvision_module = "transformers.models.pixtral.image_processing_pixtral"
        try:
            importlib.import_module(torchvision_module)
        except ImportError:  # no torchvision: the one name the module needs, from the PIL module
            pil = importlib.import_module("transformers.models.pixtral.image_processing_pil_pixtral")
            shim = types.ModuleType(torchvision_module)
            shim.get_resize_output_image_size = pil.get_resize_output_image_size  # type: ignore[attr-defined]
            sys.modules[torchvision_module] = shim
            try:
                importlib.import_module(name)
            finally:
                del sys.modules[torchvision_module]  # the real module stays unimportable, as it was
    return importlib.import_module(name).PixtralProcessor


# Packing (LLaVA-NeXT, LLaVA-OneVision): their forward hands a custom 4D mask and explicit positions to the text
# model unchanged (masking_utils returns a 4D mask as it is), image features are scattered into the image tokens
# in their order and a pack holds one request, so that request's pixel_values / image_sizes / batch_num_images
# are the pack's; attention over image tokens is plain causal. A text model with a sliding window is the one
# exception (the 4D mask replaces the window): LlavaLikeAdapter switches packing off for it.
LLAVA_NEXT = register_family(
    Family(
        name="llava_next",
        own_decoding=True,
        label="LLaVA-NeXT",
        model_types=("llava_next",),
        adapter=ADAPTER,
        image_text="{image}\n",  # the llava-hf chat templates write '<image>\n' per image ("[INST] <image>\nWhat ...")
        packing=True,
        notes="any-resolution: each image is its base view plus the tiles of its best grid; packing is off for "
        "text models with a sliding window",
    )
)

LLAVA_ONEVISION = register_family(
    Family(
        name="llava_onevision",
        own_decoding=True,
        label="LLaVA-OneVision",
        model_types=("llava_onevision",),
        adapter=ADAPTER,
        image_text="{image}\n",  # its chat template writes '<image>\n' per image ("<|im_start|>user\n<image>\n...")
        packing=True,
        notes="one image gets any-resolution tiles, a prompt with several images one base view per image (its "
        "own multi-image mode); packing is off for text models with a sliding window",
    )
)

AYA_VISION = register_family(
    Family(
        name="aya_vision",
        own_decoding=True,
        label="Aya Vision",
        model_types=("aya_vision",),
        adapter=ADAPTER,
        # image_text: its chat template writes '<image>' per image (whitespace-trimmed); the processor adds the
        # <|START_OF_IMG|> ... <|END_OF_IMG|> markers and the tiles
        notes="each image becomes <|START_OF_IMG|>, its tiles and <|END_OF_IMG|> (the processor's own layout)",
    )
)

MISTRAL3 = register_family(
    Family(
        name="mistral3",
        own_decoding=True,
        label="Mistral 3",
        model_types=("mistral3",),
        adapter=ADAPTER,
        # image_text: its chat template writes '[IMG]' where the image block stands; the processor expands it to
        # rows of [IMG] ended by [IMG_BREAK], the last by [IMG_END]. Its PixtralProcessor is imported without
        # torchvision by pixtral_processor_class (registered as the stand-in for PixtralProcessor)
        notes="Pixtral vision at the image's own aspect ratio; transformers' PixtralProcessor loaded without "
        "torchvision (PixtralImageProcessorPil)",
    )
)

INTERNVL = register_family(
    Family(
        name="internvl",
        own_decoding=True,
        label="InternVL",
        model_types=("internvl",),
        adapter=ADAPTER,
        image_text="{image}\n",  # its chat template writes '<IMG_CONTEXT>\n' per image, where the image stands
        notes="transformers-native InternVL (model_type internvl, the -hf checkpoints); remote-code InternVL "
        "checkpoints are not covered",
    )
)

LFM2_VL = register_family(
    Family(
        name="lfm2_vl",
        label="LFM2-VL",
        model_types=("lfm2_vl",),
        refuse="its only image processor (Lfm2VlImageProcessor) needs torchvision and transformers has no PIL "
        "version of it; image-only evaluation here never requires torchvision",
    )
)


register_processor_standin("PixtralProcessor", "kosmos_eval.backends.hf.families.llava_like:pixtral_processor_class")
