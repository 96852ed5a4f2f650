"""Florence-2 and Kosmos-2.5: one image per prompt, which their processors put first, before the text.

Florence-2 is an encoder-decoder (DaViT image features and BART). Its processor writes the encoder's input as
`<image>` x N `<s>` prompt `</s>`, image first wherever the text put it; the decoder starts with `</s>`, then `<s>`
(forced in its generate, and so its training targets `<s> text </s>` begin), then the answer. Ranking therefore
scores a continuation as the decoder's answer after `</s> <s>`, given the image and the context as encoder input;
the answer starts a fresh text there, so a continuation's leading whitespace is removed (" a cat" is the answer
"a cat"). Each distinct context is encoded once per forward pass, however many continuations it has.
Generation is Florence-2's own `generate` on the processor's inputs.

Kosmos-2.5's processor writes `<s><image>` + N image slots (`<s>` tokens) + `</image>` and then the text, and marks
the slots in `image_embeds_position_mask` (1 in the slots, -1 at `<image>` / `</image>`, 0 elsewhere); its generate
extends that mask with 0 for new tokens, and so is a ranking continuation extended. Its processor takes no
prompt without an image: a text-only context is `<s>` + text, the same layout without the image block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from kosmos_eval.backends.hf.adapters import Adapter, Encoded, beam_rules, text_runs
from kosmos_eval.backends.hf.families import Family, register_family
from kosmos_eval.backends.hf.processor_adapter import ProcessorAdapter, _pad_tokens
from kosmos_eval.core.types import Context, ImageInput
from kosmos_eval.errors import UserError

FLORENCE2 = register_family(
    Family(
        name="florence2",
        label="Florence-2",
        model_types=("florence2",),
        model_class="Florence2ForConditionalGeneration",
        adapter="kosmos_eval.backends.hf.families.other:Florence2Adapter",
        image_text="",  # the processor writes the image itself, first, before <s>
        multi_image=False,
        interleaved=False,
        encoder_decoder=True,
        notes=(
            "encoder-decoder: image and prompt are the encoder's input, a continuation is scored as the decoder's "
            "answer after </s><s> with its leading space removed; one image per prompt, put first"
        ),
    )
)

KOSMOS2_5 = register_family(
    Family(
        name="kosmos2_5",
        label="Kosmos-2.5",
        model_types=("kosmos-2.5",),
        model_class="Kosmos2_5ForConditionalGeneration",
        adapter="kosmos_eval.backends.hf.families.other:Kosmos25Adapter",
        image_text="",  # the processor writes the image block itself, first, after <s>
        # the image slots' mask is 0 after the prompt, as Kosmos-2.5's generate extends it
        extend={"image_embeds_position_mask": 0},
        # the resized image's size: the model only hands it back in its output
        drop=frozenset({"labels", "width", "height"}),
        multi_image=False,
        interleaved=False,
        notes="document model (OCR / markdown); one image per prompt, put first; text-only prompts as <s> + text",
    )
)


def _one_image(family: Family, context: Context) -> None:
    if len(context.images) > 1:
        raise UserError(f"{family.label} takes one image per prompt; this task's prompts have {len(context.images)}")


def _text(context: Context) -> str:
    return "".join(run for run in text_runs(context) if isinstance(run, str))


# -- Florence-2 ----------------------------------------------------------------------------------------------


@dataclass
class Seq2SeqEncoded(Encoded):
    """`ids` is the encoder's input followed by the decoder's: the decoder prefix, then any continuation."""

    encoder_length: int = 0

    def extended(self, more: Any) -> Seq2SeqEncoded:
        base = super().extended(more)
        return Seq2SeqEncoded(base.ids, base.images, base.image_slots, base.extras, base.per_token, self.encoder_length)


class Florence2Adapter(Adapter):
    trailing_space = "keep"  # the prompt is the encoder's; a continuation is the decoder's own text

    def __init__(self, family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(family, model, processor, device, image_workers)
        start = getattr(model.generation_config, "decoder_start_token_id", None)
        if start is None:
            start = model.config.text_config.decoder_start_token_id
        # what the decoder has read before an answer's first token: its start token, then <s>
        self.decoder_prefix = [start, self.tokenizer.bos_token_id]

    def encode(self, context: Context) -> Seq2SeqEncoded:
        _one_image(self.family, context)
        kwargs: dict[str, Any] = {"text": [_text(context)], "return_tensors": "pt"}
        if context.images:
            kwargs["images"] = [self.images.prepared(context.images[0])]
        out = self.processor(**kwargs)
        encoder = out["input_ids"][0].tolist()
        if not encoder:
            raise UserError(f"{self.family.label}: an empty prompt gives the encoder nothing to read")
        extras = {"pixel_values": out["pixel_values"]} if context.images else {}
        return Seq2SeqEncoded(
            ids=encoder + self.decoder_prefix, images=context.images, extras=extras, encoder_length=len(encoder)
        )

    def continuation_ids(self, context: Context, continuation: str) -> list[int]:
        """The continuation as the decoder's answer: a text of its own, without its leading whitespace."""
        answer = continuation.lstrip()
        cached = self._continuations.get(("", answer))
        if cached is not None:
            return cached
        ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"continuation {continuation!r} tokenises to nothing")
        if len(self._continuations) > 200_000:
            self._continuations.clear()
        self._continuations[("", answer)] = ids
        return ids

    def _encoder_inputs(self, batch: list[Seq2SeqEncoded]) -> dict[str, torch.Tensor]:
        width = max(e.encoder_length for e in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, encoded in enumerate(batch):
            ids[row, : encoded.encoder_length] = torch.tensor(encoded.ids[: encoded.encoder_length])
            mask[row, : encoded.encoder_length] = 1
        inputs = {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device)}
        pixels = [e.extras["pixel_values"] for e in batch if "pixel_values" in e.extras]
        if pixels:  # image features fill the <image> tokens in row order; text-only rows have none
            inputs["pixel_values"] = torch.cat(pixels).to(self.device, self.model.dtype)
        return inputs

    def _decoder_states(self, batch: list[Seq2SeqEncoded]) -> torch.Tensor:
        """Decoder outputs (B, T, dim) of the right-padded decoder rows, each distinct context encoded once."""
        from transformers.modeling_outputs import BaseModelOutput

        keys = [(tuple(e.ids[: e.encoder_length]), tuple(image.key for image in e.images)) for e in batch]
        first = {key: row for row, key in reversed(list(enumerate(keys)))}
        unique = list(dict.fromkeys(keys))
        encoder = self._encoder_inputs([batch[first[key]] for key in unique])
        # the model's own forward (image features into the <image> tokens, then the text encoder); the decoder
        # step it also runs (its start token) is discarded
        states = self.model.model(**encoder, use_cache=False).encoder_last_hidden_state
        index = torch.tensor([unique.index(key) for key in keys], device=self.device)
        width = max(len(e.ids) - e.encoder_length for e in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, encoded in enumerate(batch):
            decoder = encoded.ids[encoded.encoder_length :]
            ids[row, : len(decoder)] = torch.tensor(decoder)
            mask[row, : len(decoder)] = 1
        out = self.model.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=states[index]),
            attention_mask=encoder["attention_mask"][index],
            decoder_input_ids=ids.to(self.device),
            decoder_attention_mask=mask.to(self.device),
            use_cache=False,
        )
        return out.last_hidden_state

    def logits_at(self, batch: list[Encoded], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        states = self._decoder_states(batch)  # type: ignore[arg-type]
        offset = torch.tensor([e.encoder_length for e in batch], device=self.device)  # type: ignore[attr-defined]
        positions = cols - offset[rows]  # a position of the joined ids, in the decoder's row
        if bool((positions < 0).any()):
            raise ValueError("Florence-2 scores decoder tokens only (a requested position is in the encoder's input)")
        return self.model.lm_head(states[rows, positions])  # Florence-2's logits are its lm_head's output

    def generate(
        self, batch: list[Encoded], max_new_tokens: int, num_beams: int, length_penalty: float | None = None
    ) -> list[list[int]]:
        inputs = self._encoder_inputs(batch)  # type: ignore[arg-type]
        out = self.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=self.pad_id,
            **beam_rules(length_penalty),
        )
        return [row[1:].tolist() for row in out]  # the decoder's rows begin with its start token


# -- Kosmos-2.5 ----------------------------------------------------------------------------------------------

SLOTS = "image_embeds_position_mask"


class Kosmos25Adapter(ProcessorAdapter):
    supports_chat = False  # it writes Kosmos-2.5's image-first layout itself
    # its `encode` writes the text as given and continuations follow it (the rule before lm-eval's was
    # adopted for the generic path; not checked against Kosmos-2.5's own processing)
    trailing_space = "keep"

    def encode(self, context: Context) -> Encoded:
        _one_image(self.family, context)
        text = _text(context)
        per_token = dict(self.family.extend)
        if not context.images:
            ids = self.tokenizer(self.tokenizer.bos_token + text)["input_ids"]
            if ids and ids[-1] == self.tokenizer.eos_token_id:
                ids = ids[:-1]
            return Encoded(ids=ids, extras={SLOTS: torch.zeros((1, len(ids)), dtype=torch.long)}, per_token=per_token)
        out = self.processor(text=[text], images=self.images.prepared(context.images[0]), return_tensors="pt")
        ids = out["input_ids"][0].tolist()
        if ids and ids[-1] == self.tokenizer.eos_token_id:
            ids = ids[:-1]  # a context is continued, never ended
        extras = {"flattened_patches": out["flattened_patches"], SLOTS: out[SLOTS][:, : len(ids)]}
        return Encoded(ids=ids, images=context.images, extras=extras, per_token=per_token)

    def _extras(self, batch: list[Encoded], width: int | None = None) -> dict[str, torch.Tensor]:
        """Patches of the rows that have an image (their features fill the slots in row order) and every
        row's slot mask (zeros for a text-only row); nothing at all for text alone, as its generate gets."""
        patches = [e.extras["flattened_patches"] for e in batch if "flattened_patches" in e.extras]
        if not patches:
            return {}
        width = width if width is not None else max(len(e.ids) for e in batch)
        return {
            "flattened_patches": torch.cat(patches).to(self.device, self.model.dtype),
            SLOTS: torch.cat([_pad_tokens(e.extras[SLOTS], width) for e in batch]).to(self.device),
        }

    def batchable(self, batch: list[Encoded]) -> bool:
        return True

    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        """Mean over each image's latent slots (its patches come as flattened patches, not pixels)."""
        out = self.processor.image_processor([image.load() for image in images], return_tensors="pt")
        patches = out["flattened_patches"].to(self.device, self.model.dtype)
        return self.model.get_image_features(flattened_patches=patches).pooler_output.mean(1).float()
