"""Greedy generation batched over prompts of different lengths equals batch size 1, token for token."""

from __future__ import annotations

import pytest
import torch

from kosmos_eval.backends.hf import greedy
from kosmos_eval.core.types import Context, GenerateRequest
from kosmos_eval.runner.batcher import Batcher
from tests.images import image_input
from tests.test_hf_parity import naive_greedy_kosmos2

CONTEXTS = [
    Context.of(image_input(1), "An image of"),
    Context.of(image_input(2), "Question: Is the sofa larger than the cat? Answer:"),
    Context.of(image_input(1), "A cat.", image_input(3), "Question: what is the color of the sky? Answer:"),
    Context.of("Question: what is the sentiment of the opinion? Answer:"),
    Context.of(image_input(4), "Q: A:"),
]


def test_padded_greedy_is_used_and_equals_batch_size_one(kosmos2_backend):
    assert greedy.supported(kosmos2_backend.adapter)
    requests = [GenerateRequest(c, max_new_tokens=7) for c in CONTEXTS]
    together = kosmos2_backend.generate(requests)
    alone = [kosmos2_backend.generate([r])[0] for r in requests]
    assert together == alone
    assert Batcher(kosmos2_backend, 3).run(requests) == alone  # length-sorted batches of 3


def test_padded_greedy_tokens_equal_the_naive_loop_and_generate(kosmos2_backend):
    adapter = kosmos2_backend.adapter
    with_images = [c for c in CONTEXTS if c.images]
    with torch.inference_mode():
        batched = adapter.greedy_padded([adapter.encode(c) for c in with_images], 6)
        via_generate = [adapter.generate([adapter.encode(c)], 6, 1)[0] for c in with_images]
    for context, tokens, reference in zip(with_images, batched, via_generate, strict=True):
        assert tokens == naive_greedy_kosmos2(kosmos2_backend, context, 6)
        eos = adapter.tokenizer.eos_token_id
        # generate pads a finished row after its end-of-sequence token; the loop stops there
        assert tokens == (reference[: reference.index(eos) + 1] if eos in reference else reference)


def test_generation_config_with_penalties_falls_back_to_generate(kosmos2_backend, monkeypatch):
    config = kosmos2_backend.adapter.model.text_model.generation_config
    monkeypatch.setattr(config, "no_repeat_ngram_size", 3)
    assert not greedy.supported(kosmos2_backend.adapter)


@pytest.mark.parametrize("max_new_tokens", [1, 5])
def test_llava_batched_greedy_equals_batch_size_one(llava_backend, max_new_tokens):
    requests = [GenerateRequest(c, max_new_tokens=max_new_tokens) for c in CONTEXTS]
    assert llava_backend.generate(requests) == [llava_backend.generate([r])[0] for r in requests]
