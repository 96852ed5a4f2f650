"""Gemma- and Llama-based families: PaliGemma, Gemma 3, Gemma 4, Mllama (Llama 3.2 Vision), Llama 4.

PaliGemma is a prefix-LM: its processor writes `images <bos> prompt \\n`, every prompt token (token type 0)
attends to the whole prompt, and what follows (the processor's `suffix`, or what `generate` produces) has
token type 1 and is causal. Its processor takes no text-only prompt, so the adapter writes that one layout
itself, and a ranking continuation is tokenised on its own, as the processor tokenises a suffix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kosmos_eval.backends.hf.adapters import Encoded
from kosmos_eval.backends.hf.families import Family, register_family, register_processor_standin
from kosmos_eval.backends.hf.packing import PackedBatch
from kosmos_eval.backends.hf.processor_adapter import ProcessorAdapter
from kosmos_eval.core.types import Context, ImageInput

PALIGEMMA = register_family(
    Family(
        name="paligemma",
        own_decoding=True,
        label="PaliGemma",
        model_types=("paligemma",),
        adapter="kosmos_eval.backends.hf.families.gemma:PaliGemmaAdapter",
        # the prompt is token type 0 (the bidirectional prefix); a continuation or a generated token is the
        # causal suffix, type 1, as the processor's `suffix` and the model's own generate give it
        extend={"token_type_ids": 1},
        drop=frozenset({"labels"}),  # built by the processor for training; a loss over the prompt's length fails
        notes=(
            "prefix-LM: <bos> goes after the last image and the prompt ends in a newline, and the whole prompt "
            "(images and text) attends bidirectionally; continuations are tokenised on their own, as a suffix"
        ),
    )
)

GEMMA3 = register_family(
    Family(
        name="gemma3",
        own_decoding=True,
        label="Gemma 3",
        model_types=("gemma3",),
        # token type 1 marks image tokens, which attend to their whole image; continuation and generated
        # tokens are text (generate repeats the prompt's last value, a text token's 0, then stops passing them)
        extend={"token_type_ids": 0},
        adapter="kosmos_eval.backends.hf.families.gemma:Gemma3Adapter",
        packing=True,
        notes="image tokens attend bidirectionally within their image (packing builds its global and sliding masks)",
    )
)

MLLAMA = register_family(
    Family(
        name="mllama",
        own_decoding=True,
        label="Llama 3.2 Vision (Mllama)",
        model_types=("mllama",),
        # per token: which images (and tiles) a token cross-attends to; a continuation or generated token sees
        # what the context's last token sees (generate repeats the last row)
        extend={"cross_attention_mask": "last"},
        adapter="kosmos_eval.backends.hf.families.gemma:MllamaAdapter",
        notes=(
            "images enter through cross-attention only: text sees the most recent image (or run of adjacent "
            "images) before it, and none before the first; the processor puts <bos> after leading images"
        ),
    )
)

GEMMA4 = register_family(
    Family(
        name="gemma4",
        own_decoding=True,
        label="Gemma 4",
        model_types=("gemma4",),
        adapter="kosmos_eval.backends.hf.families.gemma:Gemma4Adapter",
        # 1 marks image tokens (bidirectional within their image on local layers, where the checkpoint asks
        # for it); continuation and generated tokens are text, 0, as generate extends them
        extend={"mm_token_type_ids": 0},
        notes=(
            "image tokens attend within their image on sliding layers only, where the checkpoint says so "
            "(use_bidirectional_attention='vision'); loaded without its video processor (needs torchvision)"
        ),
    )
)

LLAMA4 = register_family(
    Family(
        name="llama4",
        label="Llama 4",
        model_types=("llama4",),
        # modeling_llama4.py (transformers 5.24): the forward reads `outputs.image_outputs` from its language
        # model's MoeCausalLMOutputWithPast, which has no such field; Llama4ImageProcessor is a TorchvisionBackend
        refuse=(
            "transformers 5.24's own Llama4ForConditionalGeneration.forward fails on every call (AttributeError: "
            "'MoeCausalLMOutputWithPast' object has no attribute 'image_outputs'), and its image processor needs "
            "torchvision"
        ),
        notes="refused: transformers' own forward fails (see refuse)",
    )
)


def gemma4_image_processor() -> type:
    """Gemma4Processor without its video part. Its __init__ takes a video processor as a required argument and
    hands it to ProcessorMixin, and Gemma 4's video processor needs torchvision. Here Gemma4Processor's own
    __init__ (and with it its signature, which from_pretrained reads its settings by) runs with no video
    processor, and a mixin between it and ProcessorMixin drops that empty argument; image and text processing
    are Gemma4Processor's own. Saved, it names itself Gemma4Processor, as real checkpoints do."""
    from transformers import Gemma4Processor
    from transformers.processing_utils import ProcessorMixin

    attributes = [name for name in Gemma4Processor.get_attributes() if "video" not in name]

    class WithoutVideo(ProcessorMixin):
        def __init__(self, *args: Any, video_processor: Any = None, **kwargs: Any) -> None:
            if video_processor is not None:
                raise ValueError("this Gemma 4 processor is for images only")
            super().__init__(*args, **kwargs)

    # from_pretrained builds the processor through one of these, depending on the transformers version
    def from_args_and_dict(cls: type, args: Any, processor_dict: dict, **kwargs: Any) -> Any:
        return ProcessorMixin.from_args_and_dict.__func__(cls, args, processor_dict, video_processor=None, **kwargs)

    def from_dict(cls: type, processor_dict: dict, **kwargs: Any) -> Any:
        return ProcessorMixin.from_dict.__func__(cls, processor_dict, video_processor=None, **kwargs)

    methods = {"from_args_and_dict": classmethod(from_args_and_dict)}
    if hasattr(ProcessorMixin, "from_dict"):
        methods["from_dict"] = classmethod(from_dict)
    return type(
        Gemma4Processor.__name__,
        (Gemma4Processor, WithoutVideo),
        {
            "get_attributes": classmethod(lambda cls: list(attributes)),
            **methods,
            "__module__": Gemma4Processor.__module__,
            "__doc__": gemma4_image_processor.__doc__,
        },
    )


class PaliGemmaAdapter(ProcessorAdapter):
    supports_chat = False  # it writes PaliGemma's prefix/suffix layout itself
    trailing_space = "keep"  # the prompt ends with the layout's newline; a continuation is tokenised alone

    def encode(self, context: Context) -> Encoded:
        if context.images:
            return super().encode(context)
        # PaliGemma's processor refuses a prompt without an image; the text part of its layout is
        # `<bos> prompt \n`, every token of type 0
        text = self.tokenizer.bos_token + "".join(s for s in context.segments if isinstance(s, str)) + "\n"
        out = self.tokenizer([text], return_tensors="pt", return_token_type_ids=True, add_special_tokens=True)
        ids = out["input_ids"][0].tolist()
        return Encoded(ids=ids, extras={"token_type_ids": out["token_type_ids"]}, per_token=dict(self.family.extend))

    def continuation_ids(self, context: Context, continuation: str) -> list[int]:
        """A continuation follows the processor's closing newline, tokenised on its own (as `suffix` is)."""
        cached = self._continuations.get(("", continuation))
        if cached is not None:
            return cached
        ids = self.tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"continuation {continuation!r} tokenises to nothing")
        if len(self._continuations) > 200_000:
            self._continuations.clear()
        self._continuations[("", continuation)] = ids
        return ids


class Gemma3Adapter(ProcessorAdapter):
    """Gemma 3 with shared-prefix packing. Its forward builds, from `token_type_ids`, one mask per layer type:
    global layers see causal OR same-image (an image's tokens see all of that image), local layers the same AND
    the last `sliding_window` positions; a 4D mask handed to it would be used as-is for both, dropping the
    window. So the packed batch gets both masks, built the same way over the pack: ancestors (packing.py's
    mask) OR same image, and for local layers AND a position distance below the window, positions being each
    token's own-row position. A pack holds one request, so an image's tokens lie in its context's chain."""

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        from transformers.models.gemma3.modeling_gemma3 import get_block_sequence_ids_for_mask

        owners = [contexts[p.requests[0]] for p in batch.packs]
        types = torch.zeros(batch.ids.shape, dtype=torch.long)
        for row, (encoded, offset) in enumerate(zip(owners, batch.offsets, strict=True)):
            own = encoded.extras["token_type_ids"][0]
            types[row, offset : offset + len(own)] = own  # the context chain comes first in its pack
        device = batch.ids.device
        block = get_block_sequence_ids_for_mask(types, device=device)  # image run number, -1 for text
        same_image = (block[:, :, None] == block[:, None, :]) & (block[:, :, None] >= 0)
        visible = (batch.attention[:, 0] == 0) | same_image
        positions = batch.positions
        window = self.model.config.get_text_config().sliding_window
        near = (positions[:, :, None] - positions[:, None, :]) < window
        masks = {"full_attention": visible, "sliding_attention": visible & near}
        dtype = batch.attention.dtype
        blocked = torch.finfo(dtype).min
        additive = {
            kind: torch.zeros_like(batch.attention).masked_fill_(~mask[:, None], blocked)
            for kind, mask in masks.items()
        }
        # the per-image inputs (pixels), one request's per pack; token types are in the masks already
        per_image = [{k: v for k, v in e.extras.items() if k not in e.per_token} for e in owners]
        extras = self._extras([Encoded(e.ids, e.images, extras=x) for e, x in zip(owners, per_image, strict=True)])
        out = self.model(
            input_ids=batch.ids, attention_mask=additive, position_ids=positions, use_cache=False, **extras
        )
        return out.logits[rows, cols]


class MllamaAdapter(ProcessorAdapter):
    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        """The vision model's output (final and intermediate layers, as the cross-attention reads it), averaged
        over each image's tiles and patches: Mllama has no get_image_features."""
        pixels = self.processor.image_processor([[image.load()] for image in images], return_tensors="pt")
        out = self.model.model.vision_model(
            pixel_values=pixels["pixel_values"].to(self.device, self.model.dtype),
            aspect_ratio_ids=pixels["aspect_ratio_ids"].to(self.device),
            aspect_ratio_mask=pixels["aspect_ratio_mask"].to(self.device),
        ).last_hidden_state  # (images, 1, tiles, patches, dim)
        tiles = pixels["aspect_ratio_mask"].to(self.device)[:, 0, :, None, None].to(out.dtype)  # real tiles only
        return ((out[:, 0] * tiles).sum((1, 2)) / (tiles.sum((1, 2)) * out.shape[3])).float()


class Gemma4Adapter(ProcessorAdapter):
    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        """The mean of each image's soft tokens; Gemma 4's image encoder also needs the patch positions."""
        pixels = self.processor.image_processor([image.load() for image in images], return_tensors="pt")
        out = self.model.get_image_features(
            pixel_values=pixels["pixel_values"].to(self.device, self.model.dtype),
            image_position_ids=pixels["image_position_ids"].to(self.device),
        )
        return torch.stack([tokens.mean(0) for tokens in out.pooler_output]).float()


register_processor_standin("Gemma4Processor", "kosmos_eval.backends.hf.families.gemma:gemma4_image_processor")
