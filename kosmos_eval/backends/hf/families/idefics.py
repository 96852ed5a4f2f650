"""Idefics-style families: Idefics2, Idefics3, SmolVLM.

Each writes one image as `<image>` (their chat templates do: `User:<image>question<end_of_utterance>`), which the
processor expands in place, so images stay where the text puts them:

* Idefics2: `<fake_token_around_image>` + 64 `<image>` (perceiver latents) + `<fake_token_around_image>`, five
  times over with image splitting (four crops and the whole image);
* Idefics3 / SmolVLM: `<fake_token_around_image><global-img>` + N `<image>` + `<fake_token_around_image>`, or,
  with splitting, one `<fake_token_around_image><row_i_col_j>` + N `<image>` per tile (a newline after each row)
  before the global image.

Pixels come as (1, frames, 3, H, W) per prompt, a frame being an image or one of its tiles, with a pixel mask.
Prompts with different numbers of frames (or frame sizes) share a batch the way the processor itself batches
prompts: frames padded with all-zero frames (the model drops them before its vision encoder) and pixels padded
with zeros outside the pixel mask. Image features fill the `<image>` tokens in order, row by row, so a pack or a
padded batch gets exactly its own images' features.

SmolVLM's processor takes a video processor (torchvision) and refuses to start without num2words, which it
needs only to spell out video frame counts; the harness loads it as `smolvlm_image_processor()` (the family's
stand-in for its processor class), the same class without its video part, so image prompts never reach the video path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache
from typing import Any

import torch

from kosmos_eval.backends.hf.adapters import Encoded
from kosmos_eval.backends.hf.families import Family, register_family, register_processor_standin
from kosmos_eval.backends.hf.packing import PackedBatch
from kosmos_eval.backends.hf.processor_adapter import ProcessorAdapter
from kosmos_eval.core.types import ImageInput

ADAPTER = "kosmos_eval.backends.hf.families.idefics:IdeficsAdapter"

IDEFICS2 = register_family(
    Family(
        name="idefics2",
        own_decoding=True,
        label="Idefics2",
        model_types=("idefics2",),
        adapter=ADAPTER,
        # the text model (Llama / Mistral) takes a custom 4D mask and explicit positions as given, and image
        # features fill the <image> tokens in order: packing is exact (Mistral's sliding window is added to
        # the pack's mask, IdeficsAdapter.packed_outputs)
        packing=True,
        notes="images as <image> where the text puts them; with image splitting each image is 5 x 64 tokens",
    )
)

IDEFICS3 = register_family(
    Family(
        name="idefics3",
        own_decoding=True,
        label="Idefics3",
        model_types=("idefics3",),
        adapter=ADAPTER,
        packing=True,
        notes="images as <image> where the text puts them, expanded into tiles plus a global image",
    )
)

SMOLVLM = register_family(
    Family(
        name="smolvlm",
        own_decoding=True,
        label="SmolVLM",
        model_types=("smolvlm",),
        adapter=ADAPTER,
        packing=True,
        notes="images as <image> where the text puts them (tiles plus a global image); needs neither torchvision "
        "nor num2words",
    )
)

IMAGE_KEYS = ("pixel_values", "pixel_attention_mask")  # (1, frames, [3,] H, W) per prompt


class IdeficsAdapter(ProcessorAdapter):
    def _extras(self, batch: list[Encoded], width: int | None = None) -> dict[str, torch.Tensor]:
        """As ProcessorAdapter's, with the per-prompt pixels padded to the batch's most frames and largest
        frame, as the processor pads the prompts of one call (padding frames are all zero: the model drops
        them; padded pixels are outside the pixel mask)."""
        merged = super()._extras(_without_pixels(batch), width)
        for key in IMAGE_KEYS:
            parts = [e.extras.get(key) for e in batch]
            present = [p for p in parts if p is not None]
            if not present:
                continue
            shape = [max(p.shape[d] for p in present) for d in range(present[0].dim())]
            shape[0] = 1
            padded = []
            for part in parts:
                out = torch.zeros(shape, dtype=present[0].dtype)
                if part is not None:
                    out[tuple(slice(0, n) for n in part.shape)] = part
                padded.append(out)
            merged[key] = torch.cat(padded, dim=0).to(self.device)
            if merged[key].is_floating_point():
                merged[key] = merged[key].to(self.model.dtype)
        return merged

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        """As ProcessorAdapter's; a text model with a sliding window (Idefics2's Mistral) attends in a plain row
        only to the last `sliding_window` positions, so the pack's mask gets the same window, counted in each
        token's own positions (a custom 4D mask is used as given, without the model's window)."""
        window = getattr(self.model.config.get_text_config(), "sliding_window", None)
        if window is not None and batch.ids.shape[1] > window:  # else no two positions are that far apart
            far = batch.positions[:, :, None] - batch.positions[:, None, :] >= window
            attention = batch.attention.masked_fill(far[:, None], torch.finfo(batch.attention.dtype).min)
            batch = dataclasses.replace(batch, attention=attention)
        return super().packed_outputs(batch, contexts, rows, cols)

    def batchable(self, batch: list[Encoded]) -> bool:
        """Any numbers and sizes of frames: pixels are padded as the processor pads them (other outputs, where
        a checkpoint's processor gives any, must agree as ProcessorAdapter requires)."""
        return super().batchable(_without_pixels(batch))

    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        """Mean over each image's tokens (all its frames) from the model's own vision encoder and connector."""
        out = self.processor.image_processor([[image.load()] for image in images], return_tensors="pt")
        mask = out.get("pixel_attention_mask")
        features = self.model.get_image_features(
            pixel_values=out["pixel_values"].to(self.device, self.model.dtype),
            pixel_attention_mask=mask.to(self.device) if mask is not None else None,
        ).pooler_output  # one (frames x tokens, dim) tensor per image
        return torch.stack([f.reshape(-1, f.shape[-1]).mean(0) for f in features]).float()


def _without_pixels(batch: list[Encoded]) -> list[Encoded]:
    return [
        Encoded(e.ids, e.images, e.image_slots, {k: v for k, v in e.extras.items() if k not in IMAGE_KEYS}, e.per_token)
        for e in batch
    ]


@cache
def smolvlm_image_processor() -> type:
    """SmolVLMProcessor without its video part: the same class for images (its own __call__, image token
    expansion and chat template), made without a video processor and without num2words, which only its
    video path uses. Saved, it names itself SmolVLMProcessor, as real checkpoints do."""
    from transformers import SmolVLMProcessor
    from transformers.processing_utils import ProcessorMixin

    def __init__(
        self,
        image_processor: Any,
        tokenizer: Any,
        image_seq_len: int = 169,
        chat_template: str | None = None,
        **kwargs: Any,
    ) -> None:
        # the attributes SmolVLMProcessor.__init__ sets, then ProcessorMixin's own __init__ (SmolVLM's requires a
        # video processor and num2words)
        self.fake_image_token = getattr(tokenizer, "fake_image_token", "<fake_token_around_image>")
        self.image_token = getattr(tokenizer, "image_token", "<image>")
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.end_of_utterance_token = getattr(tokenizer, "end_of_utterance_token", "<end_of_utterance>")
        self.global_image_token = getattr(tokenizer, "global_image_token", "<global-img>")
        self.image_seq_len = image_seq_len
        self.video_token = getattr(tokenizer, "video_token", "<video>")
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template, **kwargs)

    def apply_chat_template(self: Any, conversation: Any, chat_template: str | None = None, **kwargs: Any) -> Any:
        # SmolVLM's override only adds video defaults (read from its video processor)
        return ProcessorMixin.apply_chat_template(self, conversation, chat_template, **kwargs)

    def replace_video_token(self: Any, *args: Any, **kwargs: Any) -> str:
        raise ValueError("this SmolVLM processor is for images only (the harness never passes videos)")

    return type(
        SmolVLMProcessor.__name__,
        (SmolVLMProcessor,),
        {
            "__init__": __init__,
            "apply_chat_template": apply_chat_template,
            "replace_video_token": replace_video_token,
            "__module__": SmolVLMProcessor.__module__,
            "__doc__": smolvlm_image_processor.__doc__,
        },
    )


register_processor_standin("SmolVLMProcessor", "kosmos_eval.backends.hf.families.idefics:smolvlm_image_processor")
