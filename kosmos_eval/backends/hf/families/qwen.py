"""The Qwen-VL family and relatives: Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Qwen3.5 and GLM-4V.

Their processors expand each image placeholder into one pad token per merged patch and return
`mm_token_type_ids` (1 on image tokens, 0 on text), from which the model's forward computes M-RoPE: 3D
positions (temporal, height, width) where an image's tokens sit on a grid starting at the text position
before it, and the text after the image continues at that position plus the grid's larger side. A
continuation is text: its `mm_token_type_ids` are 0, as the model's own `generate` extends them
(GenerationMixin._update_model_kwargs_for_generation). Each image is written as the chat templates write
it, between vision start / end markers: the markers also keep adjacent images (Raven's panels) apart, which
M-RoPE needs (the model groups consecutive image tokens into one image).
"""

from __future__ import annotations

import types
from collections.abc import Hashable, Sequence
from typing import Any

import torch

from kosmos_eval.backends.hf.adapters import Encoded
from kosmos_eval.backends.hf.families import Family, register_family
from kosmos_eval.backends.hf.packing import Pack, PackedBatch
from kosmos_eval.backends.hf.processor_adapter import ProcessorAdapter, _pad_tokens
from kosmos_eval.core.types import ImageInput

ADAPTER = "kosmos_eval.backends.hf.families.qwen:QwenVLAdapter"
QWEN_IMAGE = "<|vision_start|>{image}<|vision_end|>"  # the chat templates' image: `<|image_pad|>` between markers


class QwenVLAdapter(ProcessorAdapter):
    """Rows with and without images share a padded batch: pixel inputs are flat (patches x features) and the
    model assigns them to image tokens in row-major order, so they concatenate along patches.

    Shared-prefix packing (families that declare it): every packed token gets the 3D position it has in its
    own plain sequence, from the model's own `get_rope_index` on each request's context (a prefix's M-RoPE
    positions do not depend on what follows it); a continuation token at plain index i is text at
    i + the context's rope delta, which is how the model's own `generate` positions continued text. Image
    tokens are keyed by (image, index), and the pack's images are passed in the order their tokens appear in
    it, an image seen twice twice, so the model's masked scatter (and Qwen3-VL's DeepStack) puts each
    image's features on its own tokens.

    Requests may share a pack (`share_across_requests`): a token's key fixes its input embedding (text id, or
    one merged patch of one image: the vision tower encodes each image on its own, attention split per image),
    the keys of its path fix its 3D position (token types and image grids), and it attends to its ancestors
    only; so every packed token computes what it computes in its own plain sequence, whichever requests share
    its prefix (tests/test_qwen_packing.py checks Raven-style shared panels, shared few-shot demonstrations,
    a context extended by an image, the same image twice).
    """

    share_across_requests = True

    def __init__(self, family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(family, model, processor, device, image_workers)
        self.image_token_id = model.config.image_token_id
        self.merge = model.config.vision_config.spatial_merge_size

    def _extras(self, batch: list[Encoded], width: int | None = None) -> dict[str, torch.Tensor]:
        merged: dict[str, torch.Tensor] = {}
        keys = dict.fromkeys(key for encoded in batch for key in encoded.extras)
        for key in keys:
            parts = [e.extras[key] for e in batch if key in e.extras]
            if key in batch[0].per_token and width is not None:
                parts = [_pad_tokens(part, width) for part in parts]
            value = torch.cat(parts, dim=0).to(self.device)
            merged[key] = value.to(self.model.dtype) if value.is_floating_point() else value
        return merged

    def batchable(self, batch: list[Encoded]) -> bool:
        per_token = set(batch[0].per_token)
        if any(set(e.per_token) != per_token for e in batch):
            return False
        shapes: dict[str, Any] = {}
        for encoded in batch:
            for key, value in encoded.extras.items():
                if key not in per_token and shapes.setdefault(key, value.shape[1:]) != value.shape[1:]:
                    return False
        return True

    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        """The mean of each image's merged patch features (the vision tower's output, before the LM)."""
        pixels = self.processor.image_processor([image.load() for image in images], return_tensors="pt")
        out = self.model.model.get_image_features(
            pixels["pixel_values"].to(self.device, self.model.dtype),
            pixels["image_grid_thw"].to(self.device),
            return_dict=True,
        )
        return torch.stack([features.mean(0) for features in out.pooler_output]).float()

    # -- packing ------------------------------------------------------------------------------------------

    def _images(self, encoded: Encoded) -> list[tuple[Any, torch.Tensor, torch.Tensor, int]]:
        """Per image of the context: (key, its pixel patches, its grid, its number of image tokens)."""
        if not encoded.images:
            return []
        grids = encoded.extras["image_grid_thw"]
        patches = grids.prod(dim=-1)
        pixels = torch.split(encoded.extras["pixel_values"], patches.tolist())
        tokens = (patches // self.merge**2).tolist()
        return [(image.key, pixels[i], grids[i : i + 1], tokens[i]) for i, image in enumerate(encoded.images)]

    def token_keys(self, encoded: Encoded) -> list[Hashable]:
        """An image token is identified by its image and its index in it (every image token has the same id);
        the images take the image tokens in order, as the model's masked scatter assigns them."""
        keys: list[Hashable] = list(encoded.ids)
        slots = [i for i, token in enumerate(encoded.ids) if token == self.image_token_id]
        index = 0
        for key, _, _, count in self._images(encoded):
            for j in range(count):
                keys[slots[index]] = ("image", key, j)
                index += 1
        if index != len(slots):
            raise ValueError(f"{self.family.label}: {len(slots)} image tokens for {index} image features")
        return keys

    def _rope(self, encoded: Encoded) -> tuple[torch.Tensor, int]:
        """The context's 3D positions (3, n) and rope delta, by the model's own `get_rope_index`."""
        n = len(encoded.ids)
        if not encoded.images:
            return torch.arange(n).expand(3, n), 0
        ids = torch.tensor([encoded.ids])
        positions, delta = self.model.model.get_rope_index(
            ids,
            mm_token_type_ids=encoded.extras["mm_token_type_ids"][:, :n],
            image_grid_thw=encoded.extras["image_grid_thw"],
            attention_mask=torch.ones_like(ids),
        )
        return positions[:, 0].cpu(), int(delta.reshape(-1)[0])

    def decoding_positions(
        self, batch: list[Encoded], ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        """Each left-padded row's own M-RoPE positions (3, rows, width); a generated token continues the last
        (text) position, as the model's `generate` continues it."""
        width = ids.shape[1]
        rope = torch.ones((3, len(batch), width), dtype=torch.long)
        for row, encoded in enumerate(batch):
            rope[:, row, width - len(encoded.ids) :] = self._rope(encoded)[0]
        return rope

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        """Hidden states at (rows[k], cols[k]) of the packed batch (the output head is `head`)."""
        width = batch.ids.shape[1]
        positions = torch.zeros((3, len(batch.packs), width), dtype=torch.long)
        pixels: list[torch.Tensor] = []
        grids: list[torch.Tensor] = []
        for row, (p, offset) in enumerate(zip(batch.packs, batch.offsets, strict=True)):
            positions[:, row, offset : offset + len(p)] = self._pack_positions(p, contexts)
            images = {key: (pix, grid) for r in p.requests for key, pix, grid, _ in self._images(contexts[r])}
            for _, key in sorted(p.special, key=lambda item: item[0]):
                if key[0] == "image" and key[2] == 0:  # an image's first token: its features go here
                    pixels.append(images[key[1]][0])
                    grids.append(images[key[1]][1])
        kwargs: dict[str, Any] = {}
        if pixels:
            kwargs["pixel_values"] = torch.cat(pixels).to(self.device, self.model.dtype)
            kwargs["image_grid_thw"] = torch.cat(grids).to(self.device)
        out = self.model.model(
            input_ids=batch.ids,
            attention_mask=batch.attention,
            position_ids=positions.to(self.device),
            use_cache=False,
            **kwargs,
        )
        return out.last_hidden_state[rows, cols]

    def head(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.model.lm_head(outputs)

    def _pack_positions(self, p: Pack, contexts: Sequence[Encoded]) -> torch.Tensor:
        """(3, len(p)): each token's M-RoPE position in its own plain sequence."""
        keys: list[Hashable] = p.ids.tolist()
        for index, key in p.special:
            keys[index] = key
        depth, end = p.positions, p.subtree_end
        out = torch.full((3, len(p)), -1, dtype=torch.long)
        tails = []
        for r in p.requests:
            encoded = contexts[r]
            path = _path(keys, end, self.token_keys(encoded))
            rope, delta = self._rope(encoded)
            out[:, path] = rope
            tails.append((path[-1], delta))
        # continuation tokens below a context: text at plain index + the context's rope delta. Deepest context
        # first: a context that extends another (an image after its text) has its continuations inside the
        # shorter one's subtree, at its own delta
        for tail, delta in sorted(tails, key=lambda item: -int(depth[item[0]])):
            below = torch.arange(tail + 1, int(end[tail]))
            free = below[out[0, below] < 0]
            out[:, free] = torch.from_numpy(depth[free.numpy()]) + delta
        if bool((out < 0).any()):
            raise ValueError("packed token outside every context and continuation")
        return out


def _path(keys: list[Hashable], end: Any, wanted: list[Hashable]) -> list[int]:
    """Indices of the root-to-node path whose keys are `wanted`, in a depth-first layout (a node's children
    start right after it; each next sibling starts where the previous one's subtree ends)."""
    path: list[int] = []
    node, stop = 0, len(keys)  # candidates: the root's children, 0 .. len
    for key in wanted:
        while node < stop and keys[node] != key:
            node = int(end[node])
        if node >= stop:
            raise ValueError("a packed context is not in its pack")
        path.append(node)
        node, stop = node + 1, int(end[node])
    return path


class Glm4vAdapter(QwenVLAdapter):
    """GLM-4V's `generate` expands encoded images for beam search image by image (Glm4vForConditionalGeneration.
    _expand_multimodal_outputs repeat-interleaves them: a prompt's images [A, B] become [A, A, ..., B, B, ...]),
    so with several images per prompt each beam's image tokens get the wrong images. Its generic GenerationMixin
    version repeats each prompt's image group per beam ([A, B, A, B, ...]), which is what the expanded
    input ids need; generation here uses that one (images only: GLM's override exists for videos, which share
    the image placeholder)."""

    def generate(
        self, batch: list[Encoded], max_new_tokens: int, num_beams: int, length_penalty: float | None = None
    ) -> list[list[int]]:
        from transformers.generation.utils import GenerationMixin

        model = self.model
        if num_beams == 1 or "_expand_multimodal_outputs" not in type(model).__dict__:
            return super().generate(batch, max_new_tokens, num_beams, length_penalty)
        model._expand_multimodal_outputs = types.MethodType(GenerationMixin._expand_multimodal_outputs, model)
        try:
            return super().generate(batch, max_new_tokens, num_beams, length_penalty)
        finally:
            del model._expand_multimodal_outputs


# packing=True: the suite's packed-vs-rows check and tests/test_qwen_packing.py pass (sdpa/eager attention take
# the 4D tree mask and explicit 3D positions unchanged).
QWEN2_VL = register_family(
    Family(
        name="qwen2_vl",
        own_decoding=True,
        label="Qwen2-VL",
        model_types=("qwen2_vl",),
        adapter=ADAPTER,
        image_text=QWEN_IMAGE,
        extend={"mm_token_type_ids": 0},
        packing=True,
        notes="M-RoPE (3D positions); images at native resolution (the processor's min/max pixels)",
    )
)

QWEN2_5_VL = register_family(
    Family(
        name="qwen2_5_vl",
        own_decoding=True,
        label="Qwen2.5-VL",
        model_types=("qwen2_5_vl",),
        adapter=ADAPTER,
        image_text=QWEN_IMAGE,
        extend={"mm_token_type_ids": 0},
        packing=True,
        notes="M-RoPE (3D positions); windowed vision attention; images at native resolution",
    )
)

QWEN3_VL = register_family(
    Family(
        name="qwen3_vl",
        own_decoding=True,
        label="Qwen3-VL",
        model_types=("qwen3_vl",),
        adapter=ADAPTER,
        image_text=QWEN_IMAGE,
        extend={"mm_token_type_ids": 0},
        packing=True,
        notes="interleaved M-RoPE; DeepStack (vision features also added in the first text layers)",
    )
)

QWEN3_5 = register_family(
    Family(
        name="qwen3_5",
        own_decoding=True,
        label="Qwen3.5",
        model_types=("qwen3_5",),
        adapter=ADAPTER,
        image_text=QWEN_IMAGE,
        extend={"mm_token_type_ids": 0},
        # no packing: its Gated DeltaNet layers run a recurrence along the flat sequence (they take only a 2D
        # padding mask), so a prefix tree laid out in one sequence would carry one branch's state into the next
        notes="natively multimodal; hybrid Gated DeltaNet / full-attention layers, so no shared-prefix packing",
    )
)

GLM4V = register_family(
    Family(
        name="glm4v",
        own_decoding=True,
        label="GLM-4V",
        model_types=("glm4v",),
        adapter="kosmos_eval.backends.hf.families.qwen:Glm4vAdapter",
        # GLM-4.1V's chat template writes an image as <|begin_of_image|><|image|><|end_of_image|>
        image_text="<|begin_of_image|>{image}<|end_of_image|>",
        extend={"mm_token_type_ids": 0},
        packing=True,
        notes="GLM-4.1V (model type glm4v); multi-image beam search fixed (transformers gives beams wrong images)",
    )
)
