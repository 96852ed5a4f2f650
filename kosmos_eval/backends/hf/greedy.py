"""Greedy decoding for Kosmos-2 over left-padded batches of different lengths.

transformers' `generate` numbers Kosmos-2's positions by counting tokens, so with left padding every generated
token would get a position shifted by the row's padding; the backend therefore used to batch only prompts of
equal length, and VQA questions (all of different lengths) ran nearly one at a time. This loop gives every
token the position it has in its own unpadded sequence, masks the padding out of attention, and keeps a KV
cache, so each row decodes exactly as it would alone: the same tokens as batch size 1, token for token.

Only plain greedy decoding is done here. Where the checkpoint's generation config asks for anything that
changes the choice of token (repetition penalties, n-gram blocking, forced or suppressed tokens), `supported`
is False and the backend keeps transformers' `generate` with equal-length batches.
"""

from __future__ import annotations

from typing import Any

import torch

from kosmos_eval.backends.hf.adapters import Encoded, Kosmos2Adapter

NEUTRAL = {
    "repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "encoder_no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
}


def supported(adapter: Any) -> bool:
    """Whether this loop decodes exactly what `generate(do_sample=False, num_beams=1)` would."""
    if not isinstance(adapter, Kosmos2Adapter):
        return False
    config = getattr(adapter.model.text_model, "generation_config", None)
    return config is None or all(getattr(config, name, None) in allowed for name, allowed in NEUTRAL.items())


def greedy_left_padded(adapter: Kosmos2Adapter, batch: list[Encoded], max_new_tokens: int) -> list[list[int]]:
    """New tokens per row (up to and including the end-of-sequence token)."""
    from transformers import DynamicCache

    text_model = adapter.model.text_model
    decoder = text_model.model
    padding_idx = decoder.embed_positions.padding_idx
    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), adapter.pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    positions = torch.full((len(batch), width), padding_idx, dtype=torch.long)
    slots = torch.zeros((len(batch), width), dtype=torch.bool)
    for row, encoded in enumerate(batch):
        pad = width - len(encoded.ids)
        ids[row, pad:] = torch.tensor(encoded.ids)
        attention[row, pad:] = 1
        positions[row, pad:] = torch.arange(len(encoded.ids)) + padding_idx + 1
        if encoded.image_slots:
            slots[row, [pad + s for s in encoded.image_slots]] = True
    device = adapter.device
    ids, attention, positions = ids.to(device), attention.to(device), positions.to(device)
    embeds = adapter._image_embeds(batch)
    cache = DynamicCache(config=text_model.config)
    out = decoder(
        input_ids=ids,
        attention_mask=attention,
        image_embeds=embeds,
        image_embeds_position_mask=slots.to(device) if embeds is not None else None,
        position_ids=positions,
        cache=cache,
        use_cache=True,
    )
    eos = adapter.tokenizer.eos_token_id
    next_position = positions[:, -1:] + 1
    finished = torch.zeros(len(batch), dtype=torch.bool, device=device)
    steps: list[torch.Tensor] = []
    for _ in range(max_new_tokens):
        token = text_model.lm_head(out.last_hidden_state[:, -1]).argmax(dim=-1)
        token = torch.where(finished, torch.full_like(token, adapter.pad_id), token)
        steps.append(token)
        finished |= token == eos
        if len(steps) == max_new_tokens or bool(finished.all()):  # one host sync per step
            break
        attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
        out = decoder(
            input_ids=token[:, None], attention_mask=attention, position_ids=next_position, cache=cache, use_cache=True
        )
        next_position = next_position + 1
    tokens = torch.stack(steps, dim=1).cpu().tolist()
    return [row[: row.index(eos) + 1] if eos in row else row for row in tokens]
