"""A decoding session on a model's own forward, for the processor-based families that declare `own_decoding`.

The rows of a batch are left-padded and each gets its positions explicitly, counted from its own first token
(or, for M-RoPE families, the adapter's 3-row positions), so a row decodes as it would alone: transformers 5
would number a padded row's positions from the padding. Image inputs (pixels, grids, sizes) go in with the
prefill only; per-token inputs grow by one entry per generated token as `generate` grows them
(`token_type_ids` and Mllama's cross-attention mask repeat their last value, `mm_token_type_ids` marks
text). The prefill asks for the last
position's logits only (`logits_to_keep=1`), never a (batch, length, vocabulary) tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

# how `generate` extends a per-token input over the tokens it generates
# (Mllama's cross-attention mask: a generated token sees the images the prompt's last token sees)
GROWTH = {"token_type_ids": "last", "mm_token_type_ids": 0, "cross_attention_mask": "last"}


class ForwardSession:
    """search.DecodeSession over `model(...)` with a KV cache."""

    def __init__(
        self,
        model: Any,
        ids: torch.Tensor,
        attention: torch.Tensor,
        positions: torch.Tensor,
        image_inputs: Mapping[str, torch.Tensor],
        per_token: Mapping[str, torch.Tensor],
    ) -> None:
        unknown = set(per_token) - set(GROWTH)
        if unknown:
            raise ValueError(f"no rule for growing the per-token input {sorted(unknown)[0]!r} while decoding")
        self.model = model
        self.per_token = dict(per_token)
        out = model(
            input_ids=ids,
            attention_mask=attention,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **image_inputs,
            **self.per_token,
        )
        self.cache = out.cache
        self.attention = attention
        self.next_position = positions[..., -1:] + 1
        self.logits = out.logits[:, -1]

    def select(self, rows: torch.Tensor) -> None:
        self.cache.reorder_cache(rows)
        self.attention = self.attention.index_select(0, rows)
        self.next_position = self.next_position.index_select(self.next_position.dim() - 2, rows)
        self.per_token = {key: value.index_select(0, rows) for key, value in self.per_token.items()}
        self.logits = self.logits.index_select(0, rows)

    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        self.attention = torch.cat([self.attention, torch.ones_like(self.attention[:, :1])], dim=1)
        step_inputs = {}
        for key, value in self.per_token.items():
            rule = GROWTH[key]
            new = value[:, -1:] if rule == "last" else torch.full_like(value[:, -1:], rule)
            self.per_token[key] = torch.cat([value, new], dim=1)
            step_inputs[key] = new
        out = self.model(
            input_ids=tokens[:, None],
            attention_mask=self.attention,
            position_ids=self.next_position,
            cache=self.cache,
            use_cache=True,
            **step_inputs,
        )
        self.cache = out.cache
        self.next_position = self.next_position + 1
        self.logits = out.logits[:, -1]
        return self.logits


def left_padded(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ids, attention mask and per-row positions (0 at each row's first real token) of left-padded rows."""
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    positions = torch.ones((len(rows), width), dtype=torch.long)  # padding's positions are never attended to
    for index, row in enumerate(rows):
        pad = width - len(row)
        ids[index, pad:] = torch.tensor(row)
        attention[index, pad:] = 1
        positions[index, pad:] = torch.arange(len(row))
    return ids, attention, positions


def left_pad_tokens(value: torch.Tensor, width: int) -> torch.Tensor:
    """A per-token input left-padded with zeros to `width` (padding is masked out)."""
    if value.shape[1] >= width:
        return value
    pad = torch.zeros((value.shape[0], width - value.shape[1], *value.shape[2:]), dtype=value.dtype)
    return torch.cat([pad, value], dim=1)
