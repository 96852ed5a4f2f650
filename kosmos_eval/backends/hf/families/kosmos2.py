"""Kosmos-2 (KOSMOS-1's public successor): the harness builds the interleaved sequence itself.

Kosmos-2's processor puts one image at the start only, so the adapter writes
`<s> text <image> [N image slots] </image> text ...` with a mask of the slots, encodes every distinct image
of a batch once and splices its embeddings into its slots. Packing runs the decoder layer by layer (its own
forward always builds a causal mask), and decoding runs the harness's own greedy and beam loops
(search.py) over left-padded rows with each row's own positions.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

import torch

from kosmos_eval.backends.hf.adapters import Adapter, Encoded, beam_rules, text_runs
from kosmos_eval.backends.hf.families import Family, register_family
from kosmos_eval.backends.hf.packing import PackedBatch
from kosmos_eval.core.types import Context, ImageInput

KOSMOS2 = register_family(
    Family(
        name="kosmos2",
        label="Kosmos-2",
        model_types=("kosmos-2",),
        model_class="Kosmos2ForConditionalGeneration",
        adapter="kosmos_eval.backends.hf.families.kosmos2:Kosmos2Adapter",
        packing=True,
        own_decoding=True,
        notes="the paper's own interface (interleaved image embeddings); grounding markup dropped from outputs",
    )
)


GROUNDING_TOKEN = re.compile(
    r"<patch_index_\d+>|</?(?:phrase|object|chunk|doc|line)>|<grounding>|</?delimiter_of_multi_objects/?>"
)


class Kosmos2Adapter(Adapter):
    can_pack = True
    share_across_requests = True
    # its official processor strips its text: a trailing space is dropped, not moved into the continuation
    # (a lone "▁" would be a token the model never saw; docs/footguns.md), and continuations follow the
    # stripped text, so the ids equal the official processor's (tests/test_hf_parity.py)
    trailing_space = "strip"

    def __init__(self, family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(family, model, processor, device, image_workers)
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
        """Kosmos-2's official processor strips its text, so a trailing space never becomes a token of its own
        (a lone "▁"); here text ends at an image or at the end of the context the same way: stripped on the
        right. (A leading space tokenises as none in its tokenizer.)"""
        ids = [self.tokenizer.bos_token_id]
        images: list[ImageInput] = []
        slots: list[int] = []
        for run in text_runs(context):
            if isinstance(run, str):
                ids += self.tokenizer(run.rstrip(), add_special_tokens=False)["input_ids"]
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

    def generate(
        self, batch: list[Encoded], max_new_tokens: int, num_beams: int, length_penalty: float | None = None
    ) -> list[list[int]]:
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
            **beam_rules(length_penalty),
            **kwargs,
        )
        return [row[ids.shape[1] :].tolist() for row in out]

    @property
    def generation_config(self) -> Any:
        return getattr(self.model.text_model, "generation_config", None)

    def set_generation_config(self, config: Any) -> None:
        self.model.text_model.generation_config = config  # generation runs on the text model

    def stop_ids(self) -> list[int]:
        return [self.tokenizer.eos_token_id]  # as its `generate` call passes

    def start_decoding(self, batch: list[Encoded]) -> Kosmos2Session:
        """The batch prefilled left-padded, each row's positions counted from its own first token and its
        padding masked out, so every row decodes as it would alone (search.py runs greedy or beam on it)."""
        decoder = self.model.text_model.model
        padding_idx = decoder.embed_positions.padding_idx
        width = max(len(e.ids) for e in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        positions = torch.full((len(batch), width), padding_idx, dtype=torch.long)
        slots = torch.zeros((len(batch), width), dtype=torch.bool)
        for row, encoded in enumerate(batch):
            pad = width - len(encoded.ids)
            ids[row, pad:] = torch.tensor(encoded.ids)
            attention[row, pad:] = 1
            positions[row, pad:] = torch.arange(len(encoded.ids)) + padding_idx + 1  # Kosmos-2 counts from here
            if encoded.image_slots:
                slots[row, [pad + s for s in encoded.image_slots]] = True
        device = self.device
        embeds = self._image_embeds(batch)  # each distinct image encoded once, whatever the beams
        return Kosmos2Session(
            self.model.text_model,
            ids.to(device),
            attention.to(device),
            positions.to(device),
            embeds,
            slots.to(device) if embeds is not None else None,
        )


class Kosmos2Session:
    """Kosmos-2's decoder with a KV cache over left-padded rows (search.DecodeSession)."""

    def __init__(
        self,
        text_model: Any,
        ids: torch.Tensor,
        attention: torch.Tensor,
        positions: torch.Tensor,
        embeds: torch.Tensor | None,
        slots: torch.Tensor | None,
    ) -> None:
        from transformers import DynamicCache

        self.text_model = text_model
        self.cache = DynamicCache(config=text_model.config)
        out = text_model.model(
            input_ids=ids,
            attention_mask=attention,
            image_embeds=embeds,
            image_embeds_position_mask=slots,
            position_ids=positions,
            cache=self.cache,
            use_cache=True,
        )
        self.attention = attention
        self.next_position = positions[:, -1:] + 1
        self.logits = text_model.lm_head(out.last_hidden_state[:, -1])

    def select(self, rows: torch.Tensor) -> None:
        self.cache.reorder_cache(rows)
        self.attention = self.attention.index_select(0, rows)
        self.next_position = self.next_position.index_select(0, rows)
        self.logits = self.logits.index_select(0, rows)

    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        self.attention = torch.cat([self.attention, torch.ones_like(self.attention[:, :1])], dim=1)
        out = self.text_model.model(
            input_ids=tokens[:, None],
            attention_mask=self.attention,
            position_ids=self.next_position,
            cache=self.cache,
            use_cache=True,
        )
        self.next_position = self.next_position + 1
        self.logits = self.text_model.lm_head(out.last_hidden_state[:, -1])
        return self.logits
