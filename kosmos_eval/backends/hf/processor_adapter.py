"""The adapter for the processor-based families: the checkpoint's own processor turns a Context into inputs.

Why a module of its own: adapters.py holds the contract every family's adapter meets (`Adapter`, `Encoded`)
and what any adapter may call; this is the one adapter most families share (their Family entry's default,
families/__init__.py), with what only the processor path needs (merging and padding processor outputs). The
families that refine it (families/gemma.py, qwen.py, idefics.py, llava_like.py, causal_lm.py, other.py)
import it from here.

The context is written as text with the family's image text at each image's place, the processor expands
tokens and prepares pixels, and the per-token outputs the family names (token type ids, cross-attention masks)
are extended over continuations and padded with the ids, so every row the model sees is what its own processor
and `generate` would give it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kosmos_eval.backends.hf.adapters import Adapter, Encoded, beam_rules, text_runs
from kosmos_eval.backends.hf.families import Family
from kosmos_eval.backends.hf.packing import PackedBatch
from kosmos_eval.backends.hf.search import DecodeSession
from kosmos_eval.backends.hf.session import ForwardSession, left_pad_tokens, left_padded
from kosmos_eval.core.types import Context
from kosmos_eval.errors import UserError


class ProcessorAdapter(Adapter):
    share_across_requests = False  # pixel inputs belong to a row, so a pack holds one request
    supports_chat = True

    def __init__(self, family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(family, model, processor, device, image_workers)
        image_token = getattr(processor, "image_token", None) or "<image>"
        self.image_text = family.image_text.format(image=image_token)
        attention = getattr(model.config, "_attn_implementation", None)
        # packing hands the model a custom 4D float mask, which only eager and sdpa attention take
        self.can_pack = family.packing and attention in (None, "eager", "sdpa")

    def prompt_text(self, context: Context) -> str:
        """The context as the processor's text: the family's image text at each image, or the chat template's
        rendering of it. Text at the end goes without its trailing whitespace unless the family keeps it
        (`trailing_space`): continuations start with it instead."""
        if self.chat_template:
            return self.rendered(context)
        runs = text_runs(context)
        if runs and isinstance(runs[-1], str) and self.trailing_space != "keep":
            runs[-1] = runs[-1].rstrip()
        return "".join(run if isinstance(run, str) else self.image_text for run in runs)

    def encode(self, context: Context) -> Encoded:
        text = self.prompt_text(context)
        images = context.images
        if len(images) > 1 and not self.family.multi_image:
            raise UserError(f"{self.family.label} takes one image per prompt; this task's prompts have {len(images)}")
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
        if self.chat_template:  # the template writes its own special tokens, as apply_chat_template tokenises
            kwargs["add_special_tokens"] = False
        if images:
            kwargs["images"] = [[self.images.prepared(image) for image in images]]
        out = self.processor(**kwargs)
        ids = out["input_ids"][0].tolist()
        length = len(ids)
        if ids and ids[-1] == self.tokenizer.eos_token_id:
            ids = ids[:-1]  # a context is continued, never ended: drop an end-of-sequence the tokenizer added
        skip = {"input_ids", "attention_mask", *self.family.drop}
        extras = {k: v for k, v in out.items() if k not in skip and torch.is_tensor(v)}
        per_token = {key: rule for key, rule in self.family.extend.items() if key in extras}
        for key, value in extras.items():
            looks_per_token = not value.is_floating_point() and value.dim() >= 2 and value.shape[:2] == (1, length)
            if key in per_token and value.shape[1] != length:
                raise UserError(f"{self.family.label}: processor output {key!r} is not one entry per token")
            if looks_per_token and key not in per_token and self.family.name == "generic":
                raise UserError(
                    f"model type {self.model.config.model_type!r} is not a declared family, and its processor "
                    f"returns {key!r} per token, which the generic path cannot extend over a continuation"
                )
        for key in per_token:
            extras[key] = extras[key][:, : len(ids)]
        return Encoded(ids=ids, images=images, extras=extras, per_token=per_token)

    def _extras(self, batch: list[Encoded], width: int | None = None) -> dict[str, torch.Tensor]:
        """The batch's processor outputs: per-image ones concatenated, per-token ones padded to `width`."""
        merged: dict[str, torch.Tensor] = {}
        for key in batch[0].extras:
            parts = [e.extras[key] for e in batch]
            if key in batch[0].per_token and width is not None:
                parts = [_pad_tokens(part, width) for part in parts]
            merged[key] = torch.cat(parts, dim=0).to(self.device)
            if merged[key].is_floating_point():
                merged[key] = merged[key].to(self.model.dtype)
        return merged

    def logits_at(self, batch: list[Encoded], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        # Generic models may post-process logits (scaling, soft-capping), so take the model's own logits.
        ids, attention = self._padded(batch)
        out = self.model(input_ids=ids, attention_mask=attention, **self._extras(batch, ids.shape[1]))
        return out.logits[rows, cols]

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        extras = self._extras([contexts[p.requests[0]] for p in batch.packs])
        out = self.model(input_ids=batch.ids, attention_mask=batch.attention, position_ids=batch.positions, **extras)
        return out.logits[rows, cols]

    def generate(
        self, batch: list[Encoded], max_new_tokens: int, num_beams: int, length_penalty: float | None = None
    ) -> list[list[int]]:
        ids, attention = self._padded(batch)
        out = self.model.generate(
            input_ids=ids,
            attention_mask=attention,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=self.pad_id,
            **beam_rules(length_penalty),
            **self._extras(batch, ids.shape[1]),
        )
        return [row[ids.shape[1] :].tolist() for row in out]

    def start_decoding(self, batch: list[Encoded]) -> DecodeSession:
        ids, attention, positions = left_padded([e.ids for e in batch], self.pad_id)
        width = ids.shape[1]
        image_inputs: dict[str, torch.Tensor] = {}
        per_token: dict[str, torch.Tensor] = {}
        keys = dict.fromkeys(key for e in batch for key in e.extras)  # text-only rows have no image inputs
        for key in keys:
            if any(key in e.per_token for e in batch):
                parts = [e.extras.get(key, torch.zeros((1, len(e.ids)), dtype=torch.long)) for e in batch]
                per_token[key] = torch.cat([left_pad_tokens(part, width) for part in parts]).to(self.device)
            else:  # per image, in the order of the image tokens
                image_inputs[key] = torch.cat([e.extras[key] for e in batch if key in e.extras]).to(self.device)
                if image_inputs[key].is_floating_point():
                    image_inputs[key] = image_inputs[key].to(self.model.dtype)
        positions = self.decoding_positions(batch, ids, attention, positions)
        device = self.device
        return ForwardSession(
            self.model, ids.to(device), attention.to(device), positions.to(device), image_inputs, per_token
        )

    def decoding_positions(
        self, batch: list[Encoded], ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        """The positions the model gets for left-padded rows: by default each row counted from its first token
        (M-RoPE families replace them with their three-row positions)."""
        return positions

    def batchable(self, batch: list[Encoded]) -> bool:
        """Per-image processor outputs concatenate along the batch only when their trailing shapes agree
        (per-token ones are padded to the batch's width)."""
        first = batch[0]
        per_image = [key for key in first.extras if key not in first.per_token]
        return all(
            e.extras.keys() == first.extras.keys()
            and all(e.extras[k].shape[1:] == first.extras[k].shape[1:] for k in per_image)
            for e in batch
        )

    def group_key(self, encoded: Encoded) -> tuple:
        per_image = tuple((k, tuple(v.shape)) for k, v in encoded.extras.items() if k not in encoded.per_token)
        return (len(encoded.ids), len(encoded.images), per_image)

    def decoding_key(self, encoded: Encoded) -> tuple:
        """Per-image inputs concatenate along the batch only when their trailing shapes agree (a tiled image
        has more tiles than another); rows of any length may share a batch."""
        return tuple((k, tuple(v.shape[1:])) for k, v in encoded.extras.items() if k not in encoded.per_token)


def _pad_tokens(value: torch.Tensor, width: int) -> torch.Tensor:
    """A per-token output right-padded with zeros to `width` (padded positions are masked out anyway)."""
    if value.shape[1] >= width:
        return value
    pad = torch.zeros((value.shape[0], width - value.shape[1], *value.shape[2:]), dtype=value.dtype)
    return torch.cat([value, pad], dim=1)
