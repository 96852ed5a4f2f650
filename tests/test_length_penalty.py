"""`--gen-kwargs length_penalty=X` reaches every beam search: the harness's own loop (search.py) decodes exactly
as transformers' `generate(num_beams=N, length_penalty=X)`, a request's value overrides the generation
config's, and the OpenAI backend sends it with the server's beam search and refuses it anywhere else.

The tiny Kosmos-2 never emits its end-of-sequence token, so every hypothesis runs to the budget and a length
penalty could change nothing: the tests make end-of-sequence as likely as the model's favourite token (the
same edit in both backends compared), so hypotheses of different lengths compete and the penalty decides."""

from __future__ import annotations

import collections

import pytest
import torch

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.backends.openai import OpenAIBackend
from kosmos_eval.core.types import GenerateRequest
from kosmos_eval.errors import UserError
from tests.openai_server import ModelServer
from tests.test_own_decoding import CONTEXTS

pytestmark = pytest.mark.slow

BEAMS, TOKENS = 3, 10


def likely_end(backend: HFBackend, favourite: int) -> HFBackend:
    """End-of-sequence scores a little above `favourite` wherever that token would be chosen."""
    head = backend.loaded.model.text_model.lm_head
    (eos,) = backend.adapter.stop_ids()
    with torch.no_grad():
        head.weight[eos] = head.weight[favourite] * 1.1
    return backend


@pytest.fixture(scope="module")
def backends(tiny_kosmos2) -> tuple[HFBackend, HFBackend]:
    """(own loop, transformers' generate) on the same tiny Kosmos-2, with end-of-sequence made likely."""
    own = HFBackend(pretrained=str(tiny_kosmos2), dtype="float32", device="cpu")
    generate = HFBackend(pretrained=str(tiny_kosmos2), dtype="float32", device="cpu", decode_loop="generate")
    plain = own.generate([GenerateRequest(c, max_new_tokens=TOKENS, num_beams=BEAMS) for c in CONTEXTS])
    tokens = collections.Counter(t for text in plain for t in own.tokenizer(text, add_special_tokens=False).input_ids)
    favourite = tokens.most_common(1)[0][0]
    return likely_end(own, favourite), likely_end(generate, favourite)


def requests(length_penalty: float | None) -> list[GenerateRequest]:
    return [GenerateRequest(c, TOKENS, num_beams=BEAMS, length_penalty=length_penalty) for c in CONTEXTS]


@pytest.mark.parametrize("length_penalty", [0.0, 2.0])
def test_the_own_beam_search_equals_generate_with_a_length_penalty(backends, length_penalty):
    own, generate = backends
    assert own.own_loop_available and not generate.own_loop_available
    penalised = own.generate(requests(length_penalty))
    assert penalised == generate.generate(requests(length_penalty))
    assert penalised != own.generate(requests(None))  # the penalty changes answers, so the comparison can fail


def test_a_request_overrides_the_generation_configs_length_penalty(backends, monkeypatch):
    own, _ = backends
    by_request = {x: own.generate(requests(x)) for x in (0.0, 2.0)}
    monkeypatch.setattr(own.adapter.generation_config, "length_penalty", 2.0)  # generation_config=checkpoint
    assert own.generate(requests(None)) == by_request[2.0]  # none given: the config's
    assert own.generate(requests(0.0)) == by_request[0.0]  # given: the request's


def test_openai_refuses_a_length_penalty_without_the_servers_beam_search():
    beams = [GenerateRequest(CONTEXTS[3], max_new_tokens=4, num_beams=3, length_penalty=2.0)]
    for args in ({"beam_search": "greedy"}, {"beam_search": "server"}):
        greedy = [GenerateRequest(CONTEXTS[3], max_new_tokens=4, length_penalty=2.0)]
        with pytest.raises(UserError, match=r"length_penalty=2.0 applies only to the server's beam search"):
            OpenAIBackend(model="m", **args).check_requests(greedy if args["beam_search"] == "server" else beams)
    OpenAIBackend(model="m").check_requests([GenerateRequest(CONTEXTS[3], length_penalty=1.0)])  # the default


def test_openai_sends_the_length_penalty_to_the_servers_beam_search(llava_backend):
    beams = [GenerateRequest(CONTEXTS[3], max_new_tokens=4, num_beams=3, length_penalty=0.5)]
    with ModelServer(llava_backend) as server:
        backend = OpenAIBackend(base_url=server.url, beam_search="server", sleep=lambda seconds: None)
        assert backend.generate(beams) == llava_backend.generate(beams)
        assert server.bodies("/chat/completions")[-1]["length_penalty"] == 0.5
