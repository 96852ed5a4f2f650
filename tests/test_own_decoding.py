"""The harness's own decoding loops (backends/hf/search.py) equal transformers' `generate`, token for token.

Checked on a tiny random text model over the beam search's rules (widths, length penalties, every
early-stopping mode, several end-of-sequence ids), and on tiny Kosmos-2 through the backend: prompts of
different lengths and images in one left-padded batch, each row equal to `generate` on that row alone. Every
other family that declares the loops is covered by tests/test_conformance.py."""

from __future__ import annotations

import pytest
import torch

from kosmos_eval.backends.hf import decoding, search
from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.backends.hf.session import ForwardSession, left_padded
from kosmos_eval.core.types import Context, GenerateRequest
from kosmos_eval.runner.batcher import Batcher
from tests.images import image_input
from tests.test_hf_parity import naive_greedy_kosmos2

pytestmark = pytest.mark.slow

VOCAB, PAD = 16, 0  # a small vocabulary, so end-of-sequence comes up often and every ending rule is exercised
PROMPTS = [[5, 9, 2], [11, 4, 4, 8, 13, 1, 6], [7], [3, 12, 10, 2, 9], [14, 14, 5, 1], [8, 2, 15, 11, 6, 3]]
CONTEXTS = [
    Context.of(image_input(1), "An image of"),
    Context.of(image_input(2), "Question: Is the sofa larger than the cat? Answer:"),
    Context.of(image_input(1), "A cat.", image_input(3), "Question: what is the color of the sky? Answer:"),
    Context.of("Question: what is the sentiment of the opinion? Answer:"),
    Context.of(image_input(4), "Q: A:"),
]


@pytest.fixture(scope="module")
def text_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=PAD,
    )
    return LlamaForCausalLM(config).eval()


def own(model, prompts, num_beams, max_new_tokens, eos, check_every=search.CHECK_EVERY, **rules):
    ids, attention, positions = left_padded(prompts, PAD)
    with torch.inference_mode():
        session = ForwardSession(model, ids, attention, positions, {}, {})
        if num_beams == 1:
            return search.greedy_search(session, max_new_tokens, eos, PAD, check_every)
        return search.beam_search(session, num_beams, max_new_tokens, eos, PAD, check_every=check_every, **rules)


def reference(model, prompt, num_beams, max_new_tokens, eos, **rules) -> list[int]:
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=PAD,
            **rules,
        )
    return out[0, len(prompt) :].tolist()


@pytest.mark.parametrize(
    ("num_beams", "rules", "eos"),
    [
        (1, {}, [14]),
        (1, {}, [14, 9]),
        (2, {"length_penalty": 1.0, "early_stopping": False}, [14]),
        (5, {"length_penalty": 1.0, "early_stopping": False}, [14]),
        (3, {"length_penalty": 0.0, "early_stopping": "never"}, [14]),
        (3, {"length_penalty": 2.0, "early_stopping": "never"}, [14]),
        (3, {"length_penalty": 2.0, "early_stopping": True}, [14]),
        (4, {"length_penalty": -1.0, "early_stopping": False}, [14]),
        (3, {"length_penalty": 1.0, "early_stopping": False}, [14, 9]),
    ],
)
def test_the_loops_equal_generate_row_by_row(text_model, num_beams, rules, eos):
    outputs = own(text_model, PROMPTS, num_beams, 10, eos, **rules)  # all prompts in one left-padded batch
    expected = [reference(text_model, prompt, num_beams, 10, eos, **rules) for prompt in PROMPTS]
    assert outputs == expected
    if rules.get("length_penalty", 1.0) <= 1.0:  # (a penalty above 1 favours running to the budget)
        assert any(row and row[-1] in eos and len(row) < 10 for row in expected)  # some rows end early


def test_how_often_the_device_is_asked_changes_nothing(text_model):
    """Steps run after every row has finished change no output."""
    for beams in (1, 4):
        rules = {} if beams == 1 else {"length_penalty": 1.0, "early_stopping": False}
        every_step = own(text_model, PROMPTS, beams, 12, [14], check_every=1, **rules)
        assert own(text_model, PROMPTS, beams, 12, [14], check_every=5, **rules) == every_step
        assert own(text_model, PROMPTS, beams, 12, [14], check_every=100, **rules) == every_step


@pytest.fixture(scope="module")
def kosmos2_generate(tiny_kosmos2) -> HFBackend:
    return HFBackend(pretrained=str(tiny_kosmos2), dtype="float32", device="cpu", decode_loop="generate")


@pytest.mark.parametrize("num_beams", [1, 2, 5])
def test_kosmos2_batched_rows_equal_generate_alone(kosmos2_backend, kosmos2_generate, num_beams):
    assert kosmos2_backend.own_loop_available and not kosmos2_generate.own_loop_available
    requests = [GenerateRequest(c, max_new_tokens=7, num_beams=num_beams) for c in CONTEXTS]
    together = kosmos2_backend.generate(requests)
    assert together == [kosmos2_generate.generate([r])[0] for r in requests]
    assert Batcher(kosmos2_backend, 3).run(requests) == together  # length-sorted batches of 3
    assert len(set(together)) > 1  # the outputs differ, so the comparison can fail


def test_kosmos2_greedy_tokens_equal_a_naive_loop(kosmos2_backend):
    adapter = kosmos2_backend.adapter
    with_images = [c for c in CONTEXTS if c.images]
    with torch.inference_mode():
        session = adapter.start_decoding([adapter.encode(c) for c in with_images])
        batched = search.greedy_search(session, 6, adapter.stop_ids(), adapter.pad_id)
    for context, tokens in zip(with_images, batched, strict=True):
        assert tokens == naive_greedy_kosmos2(kosmos2_backend, context, 6)


def test_each_image_is_encoded_once_whatever_the_beams(tiny_kosmos2, monkeypatch):
    backend = HFBackend(pretrained=str(tiny_kosmos2), dtype="float32", device="cpu")
    model = backend.loaded.model
    encoded: list[int] = []
    original = model.get_image_features

    def counting(pixel_values, *args, **kwargs):
        encoded.append(pixel_values.shape[0])
        return original(pixel_values, *args, **kwargs)

    monkeypatch.setattr(model, "get_image_features", counting)
    shared = image_input(60)
    requests = [GenerateRequest(Context.of(shared, text), max_new_tokens=4, num_beams=5) for text in ("A", "B c")]
    backend.generate(requests)
    assert sum(encoded) == 1


def test_a_setting_the_loops_do_not_follow_sends_the_request_to_generate(kosmos2_backend, monkeypatch):
    config = kosmos2_backend.adapter.generation_config
    assert decoding.own_loop_rules(config) == {"length_penalty": 1.0, "early_stopping": False}
    monkeypatch.setattr(config, "no_repeat_ngram_size", 3)
    assert decoding.own_loop_rules(config) is None
    monkeypatch.setattr(config, "no_repeat_ngram_size", 0)  # written out at its neutral value: still ours
    assert decoding.own_loop_rules(config) is not None
    monkeypatch.setattr(config, "length_penalty", 2.0)  # a checkpoint's rule (generation_config=checkpoint)
    assert decoding.own_loop_rules(config) == {"length_penalty": 2.0, "early_stopping": False}
