"""Model-family adapters: how a Context becomes token ids and image inputs, and how a model is run on them.

The backend (backend.py) owns everything shared: continuation splitting, padding, log-prob gathering, stop
strings. An adapter knows only its family's input format:

* Kosmos2Adapter builds the interleaved sequence itself, `<s> text <image> [N image slots] </image> text ...`,
  with a position mask for the image slots, because Kosmos-2's processor only puts one image at the start.
  Images are encoded once per batch (by key) and spliced into the embedding sequence at their slots.
* ProcessorAdapter serves any AutoModelForImageTextToText model: the context is written as text with the
  processor's image token at each image's place, and the processor expands tokens and prepares pixels.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from kosmos_eval.backends.hf.images import ImagePipeline
from kosmos_eval.backends.hf.packing import PackedBatch
from kosmos_eval.core.types import Context, ImageInput


@dataclass
class Encoded:
    """One tokenised context (and, once extended, its continuation)."""

    ids: list[int]
    images: list[ImageInput] = field(default_factory=list)
    image_slots: list[int] = field(default_factory=list)  # Kosmos-2: positions that take image embeddings
    extras: dict[str, torch.Tensor] = field(default_factory=dict)  # processor outputs besides ids and mask

    def extended(self, more: Sequence[int]) -> Encoded:
        return Encoded(list(self.ids) + list(more), self.images, self.image_slots, self.extras)


def text_runs(context: Context) -> list[str | ImageInput]:
    """Segments with adjacent text merged, so text between two images is tokenised as one string."""
    runs: list[str | ImageInput] = []
    for segment in context.segments:
        if isinstance(segment, str) and runs and isinstance(runs[-1], str):
            runs[-1] = runs[-1] + segment
        else:
            runs.append(segment)
    return runs


def trailing_text(context: Context) -> str:
    runs = text_runs(context)
    return runs[-1] if runs and isinstance(runs[-1], str) else ""  # type: ignore[return-value]


class Adapter:
    # Packing (packing.py) needs a model that takes a custom 4D attention mask and explicit positions and
    # whose image inputs follow its tokens; `share_across_requests` also needs images identified per token.
    can_pack = False
    share_across_requests = False

    def __init__(self, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.device = device
        self.images = ImagePipeline(self._prepare_image, self._encode_pixels, workers=image_workers)
        self._continuations: dict[tuple[str, str], list[int]] = {}

    def _prepare_image(self, image: ImageInput) -> Any:
        return image.load()

    _encode_pixels = None

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.eos_token_id

    def continuation_ids(self, context: Context, continuation: str) -> list[int]:
        """Tokens of the continuation as they fall when written right after the context's last text.

        As in lm-evaluation-harness: tokenise (last text + continuation) and (last text) and take the
        difference, so a continuation such as " Yes" gets the token the model would see in running text.
        """
        tail = trailing_text(context)
        cached = self._continuations.get((tail, continuation))
        if cached is not None:  # ImageNet asks for the same 1,000 names after the same prompt 50,000 times
            return cached
        whole = self.tokenizer(tail + continuation, add_special_tokens=False)["input_ids"]
        head = self.tokenizer(tail, add_special_tokens=False)["input_ids"] if tail else []
        ids = whole[len(head) :]
        if not ids:
            raise ValueError(f"continuation {continuation!r} tokenises to nothing")
        if len(self._continuations) > 200_000:
            self._continuations.clear()
        self._continuations[(tail, continuation)] = ids
        return ids

    def encode(self, context: Context) -> Encoded:
        raise NotImplementedError

    def logits_at(self, batch: list[Encoded], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits (K, V) of the right-padded batch at positions (rows[k], cols[k]) only."""
        raise NotImplementedError

    def token_keys(self, encoded: Encoded) -> list[Hashable]:
        """What identifies each context token for prefix sharing (packing.py): its id, unless it stands for
        part of an image."""
        return list(encoded.ids)

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        """Outputs at (rows[k], cols[k]) of a packed batch; `head` turns them into vocabulary logits.
        `contexts[r]` is the encoded context of request r (packs name their requests)."""
        raise NotImplementedError

    def head(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def batchable(self, batch: list[Encoded]) -> bool:
        """Whether these contexts' inputs can share one forward pass."""
        return True

    def generate(self, batch: list[Encoded], max_new_tokens: int, num_beams: int) -> list[list[int]]:
        """New token ids per row; rows in a batch have equal length and compatible inputs (no padding)."""
        raise NotImplementedError

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        """One feature vector per image from the model's own vision encoder (for RICES demo selection):
        the pooled output where the model gives one, else the mean over its image tokens."""
        pixels = self.processor.image_processor([image.load() for image in images], return_tensors="pt")
        pixel_values = pixels["pixel_values"].to(self.device, self.model.dtype)
        out = self.model.get_image_features(pixel_values=pixel_values)
        if not torch.is_tensor(out):
            pooled = getattr(out, "pooler_output", None)
            out = pooled if pooled is not None else out[0]
        if isinstance(out, (list, tuple)):  # some models return one tensor per image
            out = torch.stack([o.reshape(-1, o.shape[-1]).mean(0) for o in out])
        return out.reshape(len(images), -1, out.shape[-1]).mean(1).float()

    def group_key(self, encoded: Encoded) -> tuple:
        """Rows with equal keys can be batched for generation without padding."""
        return (len(encoded.ids), len(encoded.images), tuple((k, tuple(v.shape)) for k, v in encoded.extras.items()))

    def _padded(self, batch: list[Encoded]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(e.ids) for e in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, encoded in enumerate(batch):
            ids[row, : len(encoded.ids)] = torch.tensor(encoded.ids)
            mask[row, : len(encoded.ids)] = 1
        return ids.to(self.device), mask.to(self.device)


GROUNDING_TOKEN = re.compile(
    r"<patch_index_\d+>|</?(?:phrase|object|chunk|doc|line)>|<grounding>|</?delimiter_of_multi_objects/?>"
)


class Kosmos2Adapter(Adapter):
    can_pack = True
    share_across_requests = True

    def __init__(self, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(model, processor, device, image_workers)
        self.num_slots = model.config.latent_query_num
        self.boi = self.tokenizer.convert_tokens_to_ids("<image>")
        self.eoi = self.tokenizer.convert_tokens_to_ids("</image>")
        # Kosmos-2's processor fills image slots with the ids that follow <unk> (they are overwritten by image
        # embeddings, but positions are computed from ids, so they must not be the padding id).
        first = self.tokenizer.unk_token_id + 1
        self.slot_ids = list(range(first, first + self.num_slots))
        # grounding markup (<patch_index_0006>, <phrase>, <object>, ...) is not text: drop it from generations,
        # as Kosmos2Processor.post_process_generation does
        vocab = self.tokenizer.get_vocab()
        self.markup_ids = {i for token, i in vocab.items() if GROUNDING_TOKEN.fullmatch(token)}

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode([t for t in tokens if t not in self.markup_ids], skip_special_tokens=True)

    def encode(self, context: Context) -> Encoded:
        ids = [self.tokenizer.bos_token_id]
        images: list[ImageInput] = []
        slots: list[int] = []
        for run in text_runs(context):
            if isinstance(run, str):
                ids += self.tokenizer(run, add_special_tokens=False)["input_ids"]
            else:
                ids.append(self.boi)
                slots += range(len(ids), len(ids) + self.num_slots)
                ids += self.slot_ids
                ids.append(self.eoi)
                images.append(run)
        return Encoded(ids=ids, images=images, image_slots=slots)

    def _prepare_image(self, image: ImageInput) -> torch.Tensor:
        return self.processor.image_processor(image.load(), return_tensors="pt")["pixel_values"][0]

    def _encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.to(self.device, self.model.dtype)
        return self.model.get_image_features(pixels, return_dict=True).pooler_output  # (images, slots, dim)

    def _image_embeds(self, batch: list[Encoded]) -> torch.Tensor | None:
        """Embeddings of every image slot of the batch in row-major order; each distinct image encoded once."""
        images = [image for encoded in batch for image in encoded.images]
        if not images:
            return None
        features = self.images.features(images)
        return torch.stack([features[image.key] for image in images])  # (total images, slots, dim)

    def token_keys(self, encoded: Encoded) -> list[Hashable]:
        # slot ids are the same for every image: a slot is identified by its image and its index instead
        keys: list[Hashable] = list(encoded.ids)
        for index, image in enumerate(encoded.images):
            slots = encoded.image_slots[index * self.num_slots : (index + 1) * self.num_slots]
            for slot, position in enumerate(slots):
                keys[position] = ("slot", image.key, slot)
        return keys

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        """The decoder run layer by layer with the packed mask: Kosmos-2's own forward always builds a causal
        mask, so it is bypassed; embeddings, blocks and final norm are the model's own modules."""
        slot_mask = torch.zeros(batch.ids.shape, dtype=torch.bool)
        wanted: list[tuple[str, int]] = []
        images: dict[str, ImageInput] = {}
        for row, (p, offset) in enumerate(zip(batch.packs, batch.offsets, strict=True)):
            for index, key in p.special:  # ("slot", image key, slot number)
                slot_mask[row, offset + index] = True
                wanted.append((key[1], key[2]))
        for p in batch.packs:
            for request in p.requests:
                images.update((image.key, image) for image in contexts[request].images)
        embeds = None
        if wanted:
            features = self.images.features(images[key] for key in dict.fromkeys(k for k, _ in wanted))
            embeds = torch.stack([features[key][slot] for key, slot in wanted])
        decoder = self.model.text_model.model
        padding_idx = decoder.embed_positions.padding_idx
        hidden = decoder.forward_embedding(
            input_ids=batch.ids,
            image_embeds=embeds,
            img_input_mask=slot_mask.to(self.device) if embeds is not None else None,
            position_ids=batch.positions + padding_idx + 1,  # Kosmos-2 numbers positions from padding_idx + 1
        )
        for layer in decoder.layers:
            out = layer(hidden, batch.attention)
            hidden = out[0] if isinstance(out, tuple) else out
        return decoder.layer_norm(hidden[rows, cols])

    def head(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.model.text_model.lm_head(outputs)

    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        """The CLIP vision tower's pooled output (before the resampler that makes the LM's image slots)."""
        pixels = self.processor.image_processor([image.load() for image in images], return_tensors="pt")
        pixel_values = pixels["pixel_values"].to(self.device, self.model.dtype)
        return self.model.vision_model(pixel_values=pixel_values).pooler_output.float()

    def _slot_mask(self, batch: list[Encoded], width: int) -> torch.Tensor:
        mask = torch.zeros((len(batch), width), dtype=torch.bool)
        for row, encoded in enumerate(batch):
            if encoded.image_slots:
                mask[row, encoded.image_slots] = True
        return mask.to(self.device)

    def logits_at(self, batch: list[Encoded], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        ids, attention = self._padded(batch)
        embeds = self._image_embeds(batch)
        text_model = self.model.text_model
        out = text_model.model(
            input_ids=ids,
            attention_mask=attention,
            image_embeds=embeds,
            image_embeds_position_mask=self._slot_mask(batch, ids.shape[1]) if embeds is not None else None,
        )
        # the output head only where log-probs are needed: no (B, T, vocab) tensor is ever built
        return text_model.lm_head(out.last_hidden_state[rows, cols])

    def generate(self, batch: list[Encoded], max_new_tokens: int, num_beams: int) -> list[list[int]]:
        ids, attention = self._padded(batch)
        embeds = self._image_embeds(batch)
        kwargs: dict[str, Any] = {}
        if embeds is not None:
            # one row of slots per sequence, so beam expansion (repeat per row) keeps images with their rows
            kwargs["image_embeds"] = embeds.reshape(len(batch), -1, embeds.shape[-1])
            kwargs["image_embeds_position_mask"] = self._slot_mask(batch, ids.shape[1])
        out = self.model.text_model.generate(
            input_ids=ids,
            attention_mask=attention,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=self.pad_id,
            eos_token_id=self.tokenizer.eos_token_id,
            **kwargs,
        )
        return [row[ids.shape[1] :].tolist() for row in out]


# Families whose forward takes a custom 4D float mask and explicit positions unchanged, with images tied to
# their tokens' order and plain causal attention over image tokens (PaliGemma and Gemma 3 attend
# bidirectionally within images, Qwen2-VL needs 3D rope positions: they keep the row-per-continuation path).
PACKABLE_FAMILIES = frozenset({"llava"})


class ProcessorAdapter(Adapter):
    share_across_requests = False  # pixel inputs belong to a row, so a pack holds one request

    def __init__(self, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(model, processor, device, image_workers)
        self.image_token = getattr(processor, "image_token", None) or "<image>"
        attention = getattr(model.config, "_attn_implementation", None)
        self.can_pack = model.config.model_type in PACKABLE_FAMILIES and attention in (None, "eager", "sdpa")

    def encode(self, context: Context) -> Encoded:
        text = "".join(run if isinstance(run, str) else self.image_token for run in text_runs(context))
        images = context.images
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
        if images:
            kwargs["images"] = [[self.images.prepared(image) for image in images]]
        out = self.processor(**kwargs)
        ids = out["input_ids"][0].tolist()
        if ids and ids[-1] == self.tokenizer.eos_token_id:
            ids = ids[:-1]  # a context is continued, never ended: drop an end-of-sequence the tokenizer added
        extras = {k: v for k, v in out.items() if k not in ("input_ids", "attention_mask") and torch.is_tensor(v)}
        return Encoded(ids=ids, images=images, extras=extras)

    def _extras(self, batch: list[Encoded]) -> dict[str, torch.Tensor]:
        merged: dict[str, torch.Tensor] = {}
        for key in batch[0].extras:
            merged[key] = torch.cat([e.extras[key] for e in batch], dim=0).to(self.device)
            if merged[key].is_floating_point():
                merged[key] = merged[key].to(self.model.dtype)
        return merged

    def logits_at(self, batch: list[Encoded], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        # Generic models may post-process logits (scaling, soft-capping), so take the model's own logits.
        ids, attention = self._padded(batch)
        out = self.model(input_ids=ids, attention_mask=attention, **self._extras(batch))
        return out.logits[rows, cols]

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        extras = self._extras([contexts[p.requests[0]] for p in batch.packs])
        out = self.model(input_ids=batch.ids, attention_mask=batch.attention, position_ids=batch.positions, **extras)
        return out.logits[rows, cols]

    def generate(self, batch: list[Encoded], max_new_tokens: int, num_beams: int) -> list[list[int]]:
        ids, attention = self._padded(batch)
        out = self.model.generate(
            input_ids=ids,
            attention_mask=attention,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=self.pad_id,
            **self._extras(batch),
        )
        return [row[ids.shape[1] :].tolist() for row in out]

    def batchable(self, batch: list[Encoded]) -> bool:
        """Processor outputs concatenate along the batch only when their trailing shapes agree."""
        first = batch[0].extras
        return all(
            e.extras.keys() == first.keys() and all(e.extras[k].shape[1:] == first[k].shape[1:] for k in first)
            for e in batch
        )


def make_adapter(model_type: str, model: Any, processor: Any, device: str, image_workers: int = 4) -> Adapter:
    if model_type == "kosmos-2":
        return Kosmos2Adapter(model, processor, device, image_workers)
    return ProcessorAdapter(model, processor, device, image_workers)
