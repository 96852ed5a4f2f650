"""`--model openai` against real servers on localhost: `transformers serve` (a third-party server, where
installed) and tests/openai_server.ModelServer (vLLM's dialect served by our HFBackend), so every result through
HTTP is compared with HFBackend called directly on the same Contexts. A fault proxy injects 5xx, 429, delays
and dropped connections: the results stay identical and the retries equal the faults injected."""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from kosmos_eval.backends.openai import OpenAIBackend
from kosmos_eval.backends.openai_client import RetryPolicy, retry_after_seconds
from kosmos_eval.config import RunConfig
from kosmos_eval.core.types import Context, GenerateRequest, RankRequest
from kosmos_eval.errors import UserError
from kosmos_eval.generators.pictures import make_image
from kosmos_eval.generators.vqa import write_vqav2
from kosmos_eval.runner.run import evaluate
from tests.images import image_input
from tests.openai_server import FaultProxy, ModelServer, serve_available, transformers_serve

pytestmark = pytest.mark.slow

CONTEXTS = [
    Context.of(image_input(1), "Question: what is this? Answer:"),
    Context.of("An image ", image_input(2), " and", " another ", image_input(3), " compared:"),
    Context.of("Text only: the capital of France is"),
]
CONTINUATIONS = (" yes", " no", " a red bus")


def generate_requests() -> list[GenerateRequest]:
    return [
        GenerateRequest(CONTEXTS[0], max_new_tokens=8, stop=("chatc",)),  # the tiny model says "sofachatchatchatc"
        GenerateRequest(CONTEXTS[1], max_new_tokens=6, stop=("\n",)),
        GenerateRequest(CONTEXTS[2], max_new_tokens=5),
    ]


@pytest.fixture(scope="module")
def server(llava_backend):
    with ModelServer(llava_backend) as running:
        yield running


def backend_for(url: str, sleep=None, **model_args: str) -> OpenAIBackend:
    return OpenAIBackend(base_url=url, sleep=sleep or (lambda seconds: None), **model_args)


def assert_same_ranking(got, want) -> None:
    for mine, theirs in zip(got, want, strict=True):
        assert mine.logprobs == pytest.approx(theirs.logprobs, abs=1e-4)
        assert mine.num_tokens == theirs.num_tokens
        assert mine.is_greedy == theirs.is_greedy


# -- a real third-party server ---------------------------------------------------------------------------------
@pytest.mark.skipif(not serve_available(), reason="transformers serve needs fastapi, uvicorn and openai")
def test_transformers_serve_generates_like_hf_and_ranking_fails_up_front(tiny_llava, llava_backend, tmp_path):
    requests = generate_requests()
    with transformers_serve(tiny_llava, tmp_path) as (url, model), FaultProxy(url.removesuffix("/v1")) as counter:
        # transformers serve fails on stop strings with a llava processor: stops are then only cut here
        backend = backend_for(counter.url, model=model, server_stop="false")
        assert backend.generate(requests) == llava_backend.generate(requests)
        generated = len(counter.bodies("/chat/completions"))
        with pytest.raises(UserError, match="does not return prompt log-probabilities") as exc:
            backend.check_request_kinds({"rank", "generate"})
        assert "\n" not in str(exc.value)
        with pytest.raises(UserError, match="does not return prompt log-probabilities"):
            backend.rank([RankRequest(CONTEXTS[0], CONTINUATIONS)])
        probes = counter.bodies("/chat/completions")[generated:]
        assert len(probes) == 1 and "prompt_logprobs" in probes[0]  # one probe, no ranking request


# -- vLLM's dialect, served by HFBackend -------------------------------------------------------------------------
def test_ranking_and_generation_through_the_server_equal_hf(server, llava_backend):
    backend = backend_for(server.url)  # no model given: the only one /models lists
    requests = []
    for context in CONTEXTS:  # the model's own greedy text, with and without the space generation strips
        greedy = llava_backend.generate([GenerateRequest(context, max_new_tokens=2)])[0]
        requests.append(RankRequest(context, (*CONTINUATIONS, greedy, " " + greedy)))
    got, want = backend.rank(requests), llava_backend.rank(requests)
    assert_same_ranking(got, want)
    # the model's own greedy text is rank 1 at every token in exactly one of its two spellings (with or without
    # the leading space that generation strips), and the server says which as the model does
    assert all(sum(r.is_greedy[3:]) == 1 for r in got)
    assert backend.generate(generate_requests()) == llava_backend.generate(generate_requests())
    assert backend.fingerprint() == {
        "backend": "openai",
        "model": "tiny-llava",
        "base_url": server.url,
        "endpoint": "chat",
        "server_model": {"id": "tiny-llava", "object": "model", "owned_by": "tests"},  # no `created` timestamp
    }


def test_chat_messages_interleave_text_and_lossless_images_in_prompt_order(server):
    backend = backend_for(server.url, model="tiny-llava")
    before = len(server.bodies("/chat/completions"))
    backend.generate([GenerateRequest(CONTEXTS[1], max_new_tokens=3, stop=("a", "b", "c", "d", "e"))])
    (body,) = server.bodies("/chat/completions")[before:]
    assert body["temperature"] == 0 and body["max_tokens"] == 3
    assert body["stop"] == ["a", "b", "c", "d"]  # the API's limit of 4; all five are cut here
    (message,) = body["messages"]
    parts = message["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text", "image_url", "text"]
    assert [p.get("text") for p in parts] == ["An image ", None, " and another ", None, " compared:"]  # joined
    for part, index in zip([parts[1], parts[3]], [2, 3], strict=True):
        header, data = part["image_url"]["url"].split(",", 1)
        assert header == "data:image/png;base64"
        assert Image.open(io.BytesIO(base64.b64decode(data))).tobytes() == make_image(index).tobytes()


def test_completions_endpoint_ranks_and_generates_text_like_hf(server, llava_backend):
    backend = backend_for(server.url, model="tiny-llava", endpoint="completions")
    requests = [RankRequest(Context(("The capital of France is",)), (" Paris", " a city", "x"))]
    assert_same_ranking(backend.rank(requests), llava_backend.rank(requests))
    generation = [GenerateRequest(CONTEXTS[2], max_new_tokens=5)]
    assert backend.generate(generation) == llava_backend.generate(generation)
    with pytest.raises(UserError, match="endpoint=completions takes text only"):
        backend.check_requests([GenerateRequest(CONTEXTS[0])])


def test_completions_count_a_contexts_trailing_space_with_the_continuation(server, llava_backend):
    """lm-eval's `_encode_pair`: the context-alone prompt, which fixes where the continuation's tokens start,
    goes without its trailing whitespace; the prompt with the continuation is the text as it is."""
    backend = backend_for(server.url, model="tiny-llava", endpoint="completions")
    backend.check_request_kinds({"rank"})  # the capability probe, before the requests counted below
    requests = [RankRequest(Context(("The capital of France is ",)), (" Paris",))]
    before = len(server.bodies("/completions"))
    assert_same_ranking(backend.rank(requests), llava_backend.rank(requests))
    prompts = sorted(body["prompt"] for body in server.bodies("/completions")[before:])
    assert prompts == ["The capital of France is", "The capital of France is  Paris"]


def test_a_server_without_prompt_logprobs_fails_ranking_before_any_request(llava_backend):
    with ModelServer(llava_backend, prompt_logprobs=False) as lenient:
        backend = backend_for(lenient.url, model="tiny-llava")
        backend.check_request_kinds({"generate"})  # generation needs no probe
        assert lenient.requests == []
        with pytest.raises(UserError, match="does not return prompt log-probabilities") as exc:
            backend.check_requests([GenerateRequest(CONTEXTS[0]), RankRequest(CONTEXTS[0], CONTINUATIONS)])
        assert "\n" not in str(exc.value)
        with pytest.raises(UserError, match="does not return prompt log-probabilities"):
            backend.rank([RankRequest(CONTEXTS[0], CONTINUATIONS)])
        posts = lenient.bodies("/chat/completions")
        assert len(posts) == 1 and posts[0]["messages"][0]["content"][0]["text"] == "kosmos-eval capability probe"


# -- beams and constrained candidates ------------------------------------------------------------------------
def test_beam_search_is_refused_up_front_unless_a_substitute_is_chosen(server, llava_backend):
    beams = [GenerateRequest(CONTEXTS[0], max_new_tokens=4, num_beams=3)]
    before = len(server.requests)
    with pytest.raises(UserError, match=r"beam_search=server .* beam_search=greedy"):
        backend_for(server.url, model="tiny-llava").check_requests(beams)
    with pytest.raises(UserError, match="num_beams=3"):
        backend_for(server.url, model="tiny-llava").generate(beams)
    assert len(server.requests) == before
    greedy = [GenerateRequest(CONTEXTS[0], max_new_tokens=4)]
    assert backend_for(server.url, beam_search="greedy").generate(beams) == llava_backend.generate(greedy)
    assert backend_for(server.url, beam_search="server").generate(beams) == llava_backend.generate(beams)
    assert server.bodies("/chat/completions")[-1] | {"messages": None} == {
        "model": "tiny-llava", "temperature": 0, "max_tokens": 4, "use_beam_search": True, "n": 3, "messages": None
    }  # fmt: skip


def test_constrained_generation_is_the_ranking_argmax(server, llava_backend):
    candidates = ("red", "blue", "a green thing")
    wide = [GenerateRequest(context, num_beams=3, candidates=candidates, constrained=True) for context in CONTEXTS]
    # a beam as wide as the candidate list prunes nothing, so HFBackend's search returns the ranking argmax too
    assert backend_for(server.url).generate(wide) == llava_backend.generate(wide)
    narrow = [GenerateRequest(CONTEXTS[0], num_beams=2, candidates=candidates, constrained=True)]
    with pytest.raises(UserError, match="constrained_by_ranking=true"):
        backend_for(server.url).check_requests(narrow)
    scores = llava_backend.rank([RankRequest(CONTEXTS[0], candidates)])[0].logprobs
    best = candidates[max(range(3), key=lambda i: scores[i])]
    assert backend_for(server.url, constrained_by_ranking="true").generate(narrow) == [best]


# -- faults ----------------------------------------------------------------------------------------------------
def test_faults_are_retried_and_the_results_stay_identical(server):
    requests = generate_requests()
    ranking = [RankRequest(context, CONTINUATIONS) for context in CONTEXTS[:2]]
    clean = backend_for(server.url, model="tiny-llava")
    expected = (clean.generate(requests), clean.rank(ranking))
    faults = ["500", "429:2", "delay:2.5", "drop", "503-date:3", "502", "504"]
    waits: list[float] = []
    with FaultProxy(server.root, faults, paths=("/completions",)) as proxy:  # the concurrent requests
        backend = backend_for(proxy.url, sleep=waits.append, model="tiny-llava", timeout="2", max_concurrency="3")
        assert (backend.generate(requests), backend.rank(ranking)) == expected
    assert proxy.injected == faults  # every fault was drawn, each by one attempt
    assert len(backend.client.retries) == len(waits) == len(faults)  # one retry per fault, no more
    assert backend.client.attempts == proxy.forwarded + len(faults)
    assert 2.0 in waits  # Retry-After: 2 honoured as given
    assert any(1.0 < w <= 3.0 for w in waits if w != 2.0)  # the HTTP-date Retry-After, ~3 s ahead (1 s resolution)
    assert all(0 <= w <= 0.5 * 2**6 for w in waits)
    assert any("no answer within 2 s" in reason for reason in backend.client.retries)
    assert any("connection dropped" in reason for reason in backend.client.retries)


def test_a_server_that_keeps_failing_gives_one_line_after_bounded_retries(server):
    waits: list[float] = []
    with FaultProxy(server.root, always="503") as proxy:
        backend = backend_for(proxy.url, sleep=waits.append, model="tiny-llava", max_retries="2", max_wait="1")
        with pytest.raises(UserError, match=r"failed 3 times \(last: 503 injected 503\)") as exc:
            backend.generate([GenerateRequest(CONTEXTS[2], max_new_tokens=2)])
    assert "\n" not in str(exc.value)
    assert len(proxy.injected) == 3 and len(waits) == 2
    assert waits[0] <= 0.5 and waits[1] <= 1.0  # full jitter under min(max_wait, 0.5 * 2**k)


@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        ("400", "Invalid request: bad field", "Check model, base_url"),
        ("401", "Invalid API key", "Check the API key (--model-args api_key_env=VAR"),
        ("404", "The model does not exist.", "Check base_url"),
    ],
)
def test_client_errors_fail_at_once_with_the_servers_message(server, status, message, hint):
    with FaultProxy(server.root, [status], paths=("/chat/completions",)) as proxy:
        backend = backend_for(proxy.url, model="tiny-llava")
        with pytest.raises(UserError) as exc:
            backend.generate([GenerateRequest(CONTEXTS[2], max_new_tokens=2)])
    text = str(exc.value)
    assert f"-> {status}: {message}. {hint}" in text and "\n" not in text
    assert proxy.injected == [status] and proxy.forwarded == 1  # GET /models went through; the POST: no retry
    assert backend.client.retries == []


def test_api_key_comes_from_the_named_variable(server, monkeypatch):
    monkeypatch.delenv("KOSMOS_TEST_KEY", raising=False)
    with pytest.raises(UserError, match="api_key_env=KOSMOS_TEST_KEY: that environment variable is not set"):
        backend_for(server.url, api_key_env="KOSMOS_TEST_KEY")
    monkeypatch.setenv("KOSMOS_TEST_KEY", "sekret")
    keyed = backend_for(server.url, api_key_env="KOSMOS_TEST_KEY", model="tiny-llava")
    keyed.generate([GenerateRequest(CONTEXTS[2], max_new_tokens=1)])
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer sekret"
    assert "sekret" not in json.dumps(keyed.fingerprint())


# -- options and retry arithmetic --------------------------------------------------------------------------------
def test_model_args_are_checked():
    with pytest.raises(UserError, match=r"unknown key 'modle' for --model openai \(known: base_url, model, "):
        OpenAIBackend(modle="x")
    with pytest.raises(UserError, match="max_concurrency='0': expected a positive whole number"):
        OpenAIBackend(max_concurrency="0")
    with pytest.raises(UserError, match="beam_search='wide': expected one of refuse, greedy, server"):
        OpenAIBackend(beam_search="wide")
    with pytest.raises(UserError, match="base_url='localhost:8000'"):
        OpenAIBackend(base_url="localhost:8000")


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("100000") == 600.0  # capped at ten minutes
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=timezone.utc)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0  # 07:28:00 - 07:27:30


def test_backoff_is_full_jitter_under_a_doubling_cap():
    policy = RetryPolicy(base=0.5, max_wait=30.0)
    for retry, cap in [(0, 0.5), (1, 1.0), (3, 4.0), (5, 16.0), (6, 30.0), (12, 30.0)]:  # min(30, 0.5 * 2**k)
        draws = [policy.backoff(retry) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in draws) and max(draws) > cap / 2


# -- end to end --------------------------------------------------------------------------------------------------
def test_vqav2_run_through_the_server_equals_the_hf_run(server, llava_backend, tmp_path):
    data = tmp_path / "vqav2"
    write_vqav2(data, "val", [("What color is it?", ["red"] * 10, "other"), ("How many?", ["2"] * 10, "number")])
    common = {"task": "vqav2", "split": "val", "data_dir": str(data), "output_dir": str(tmp_path / "runs")}
    served = evaluate(
        RunConfig(backend="openai", model_args={"base_url": server.url, "model": "tiny-llava"}, **common),
        progress=False,
    )
    direct = evaluate(RunConfig(backend="hf", **common), backend=llava_backend, progress=False)

    def records(outcome) -> list[dict]:
        lines = (Path(outcome.run_dir) / "samples.jsonl").read_text().splitlines()
        return [{k: r[k] for k in ("id", "prompt", "prediction", "outputs")} for r in map(json.loads, lines)]

    assert records(served) == records(direct)
    assert served.metrics["accuracy"].value == direct.metrics["accuracy"].value
    assert served.summary["fingerprint"]["server_model"] == {"id": "tiny-llava", "object": "model", "owned_by": "tests"}


def test_a_ranking_run_on_a_server_without_logprobs_stops_before_any_evaluation_request(llava_backend, tmp_path):
    """The runner checks each stage's requests with the backend before batching them: the hateful-memes run
    (ranking " yes" / " no") stops with one line after the capability probe alone."""
    from tests.test_invariance import write_memes  # the invariance tests' tiny official-format release

    data = write_memes(tmp_path / "memes")
    with ModelServer(llava_backend, prompt_logprobs=False) as lenient:
        config = RunConfig(
            task="hateful_memes",
            backend="openai",
            model_args={"base_url": lenient.url, "model": "tiny-llava"},
            data_dir=str(data),
            output_dir=str(tmp_path / "runs"),
        )
        with pytest.raises(UserError, match="does not return prompt log-probabilities"):
            evaluate(config, progress=False)
        posts = lenient.bodies("/chat/completions")
        assert [p["messages"][0]["content"][0]["text"] for p in posts] == ["kosmos-eval capability probe"]
