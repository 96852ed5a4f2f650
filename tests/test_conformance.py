"""The conformance suite: what makes a model family "supported". One parametrized set of checks over every
declared family (kosmos_eval/backends/hf/families), each on a tiny random checkpoint built offline:

* ranking equals a naive forward (one request and continuation at a time, the processor's own inputs for the
  whole text, the model's full logits, float64 sums) to 1e-4 in float32, on Raven-style contexts with 4 and
  9 images, a single-image few-shot context and plain text, scored in one padded batch;
* packed ranking, where the family declares packing, equals the row-per-continuation path to 1e-4;
* greedy and beam-5 generation equal the model's own `generate` on the processor's inputs, token for token;
  families that declare the harness's own loops decode the cases (different lengths, images or none) in
  one left-padded batch, and each row must still equal `generate` on that row alone;
* a run of `raven` and of `vqav2` on the bundled samples completes (a text-only family refuses both up front);
* the tiny builder is deterministic (a rebuild writes the same files).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.backends.hf.families import Family, families
from kosmos_eval.config import RunConfig
from kosmos_eval.core.types import Context, GenerateRequest, RankRequest
from kosmos_eval.errors import UserError
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tiny import architectures, build_tiny_model
from tests.conformance import GENERATE, NAIVE, reference
from tests.images import image_input

pytestmark = pytest.mark.slow

TOL = 1e-4
FAMILIES = families()
NAMES = [name for name, family in FAMILIES.items() if not family.refuse]  # evaluated families
REFUSED = [name for name, family in FAMILIES.items() if family.refuse]
PACKING = [name for name in NAMES if FAMILIES[name].packing]


def raven_context(panels: int) -> Context:
    given = [image_input(i) for i in range(panels)]
    words = {3: "three", 8: "eight"}[panels]
    return Context.of(
        f"Here are {words} images:", *given, " The following image is:", image_input(20), " Is it correct?"
    )


def few_shot_context() -> Context:
    return Context.of(
        image_input(30), "An image of a cat.", image_input(31), "An image of a dog.", image_input(32), "An image of"
    )


RANK_CASES: dict[str, tuple[Context, tuple[str, ...], bool]] = {  # context, continuations, needs several images
    "raven-4-images": (raven_context(3), (" Yes", " No"), True),
    "raven-9-images": (raven_context(8), (" Yes", " No"), True),
    "few-shot-3-images": (few_shot_context(), (" a cat", " a red bus parked"), True),
    "one-image": (Context.of(image_input(40), "An image of"), (" a cat", " two people walking"), False),
    "text-only": (Context.of("Question: what is the sentiment of the opinion? Answer:"), (" positive",), False),
}
GENERATE_CASES: dict[str, tuple[Context, bool]] = {
    "one-image": (Context.of(image_input(41), "An image of"), False),
    "few-shot-3-images": (few_shot_context(), True),
    "text-only": (Context.of("Question: what is the color of the sky? Answer:"), False),
}


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> Callable[[str], Path]:
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = build_tiny_model(name, tmp_path_factory.mktemp("conformance") / name)
        return built[name]

    return get


@pytest.fixture(scope="module", params=NAMES)
def family(request) -> Family:
    return FAMILIES[request.param]


@pytest.fixture(scope="module")
def backend(family, checkpoints) -> HFBackend:
    return HFBackend(pretrained=str(checkpoints(family.name)), dtype="float32", device="cpu")


def cases(table: dict, family: Family) -> list:
    return [
        (name, *case[:-1])
        for name, case in table.items()
        if (family.multi_image or not case[-1]) and not (family.text_only and case[0].images)
    ]


# -- the naive references -----------------------------------------------------------------------------------


def prompt_text(backend: HFBackend, context: Context) -> str:
    """The context as the family's prompt text (the family's image text at each image), for its processor."""
    return "".join(s if isinstance(s, str) else backend.adapter.image_text for s in context.segments)


def processor_inputs(backend: HFBackend, text: str, context: Context) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
    if context.images:
        kwargs["images"] = [[image.load() for image in context.images]]
    inputs = dict(backend.loaded.processor(**kwargs))
    for key in backend.loaded.family.drop:
        inputs.pop(key, None)
    return inputs


def naive_logprob(backend: HFBackend, context: Context, continuation: str, num_tokens: int) -> float:
    """The processor on the whole text (context + continuation), one full forward, float64 log-softmax."""
    own = reference(NAIVE, backend.loaded.family.name)
    if own is not None:
        return own(backend, context, continuation, num_tokens)
    inputs = processor_inputs(backend, prompt_text(backend, context) + continuation, context)
    with torch.no_grad():
        logits = backend.loaded.model(**inputs).logits[0].double()
    ids = inputs["input_ids"][0]
    if ids[-1] == backend.tokenizer.eos_token_id:
        ids, logits = ids[:-1], logits[:-1]
    expected_tail = backend.adapter.continuation_ids(context, continuation)
    assert ids[-num_tokens:].tolist() == expected_tail, "the processor tokenises the continuation differently"
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[p - 1, ids[p]]) for p in range(len(ids) - num_tokens, len(ids)))


def reference_generate(backend: HFBackend, context: Context, max_new_tokens: int, num_beams: int) -> str:
    """The model's own `generate` on its processor's inputs, decoded as the backend decodes."""
    own = reference(GENERATE, backend.loaded.family.name)
    if own is not None:
        return own(backend, context, max_new_tokens, num_beams)
    inputs = processor_inputs(backend, prompt_text(backend, context), context)
    ids = inputs["input_ids"]
    if ids[0, -1] == backend.tokenizer.eos_token_id:
        inputs = {k: (v[:, :-1] if torch.is_tensor(v) and v.shape[:2] == ids.shape else v) for k, v in inputs.items()}
    with torch.no_grad():
        out = backend.loaded.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=backend.adapter.pad_id,
        )
    return backend.adapter.decode(out[0, inputs["input_ids"].shape[1] :].tolist()).strip()


# -- the checks ------------------------------------------------------------------------------------------


def test_every_declared_family_has_a_tiny_builder():
    assert set(FAMILIES) <= set(architectures())


@pytest.mark.parametrize("name", REFUSED)
def test_a_family_that_cannot_be_evaluated_refuses_in_one_line_at_load(name, checkpoints):
    family = FAMILIES[name]
    with pytest.raises(UserError) as refused:
        HFBackend(pretrained=str(checkpoints(name)), dtype="float32", device="cpu")
    assert str(refused.value).startswith(f"{family.label} (") and family.refuse in str(refused.value)
    assert "\n" not in str(refused.value)


def test_ranking_equals_a_naive_forward(backend, family):
    chosen = cases(RANK_CASES, family)
    requests = [RankRequest(context, continuations) for _, context, continuations in chosen]
    results = backend.rank(requests)  # one batch: padding and batching must not change a number
    for (name, context, continuations), result in zip(chosen, results, strict=True):
        for i, continuation in enumerate(continuations):
            expected = naive_logprob(backend, context, continuation, result.num_tokens[i])
            assert abs(result.logprobs[i] - expected) < TOL, (family.name, name, continuation)


@pytest.mark.parametrize("name", PACKING)
def test_packed_ranking_equals_rows(name, checkpoints):
    family = FAMILIES[name]
    backend = HFBackend(pretrained=str(checkpoints(name)), dtype="float32", device="cpu")
    assert backend.adapter.can_pack
    requests = [RankRequest(context, continuations) for _, context, continuations in cases(RANK_CASES, family)]
    backend.packing = True
    packed = backend.rank(requests)
    backend.packing = False
    try:
        rows = backend.rank(requests)
    finally:
        backend.packing = True
    for a, b in zip(packed, rows, strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < TOL


@pytest.mark.parametrize("num_beams", [1, 5])
def test_generation_equals_the_models_own_generate(backend, family, num_beams):
    chosen = cases(GENERATE_CASES, family)
    requests = [GenerateRequest(context, max_new_tokens=6, num_beams=num_beams) for _, context in chosen]
    assert backend.own_loop_available == family.own_decoding
    outputs = backend.generate(requests)  # one call: the own loops batch every case together
    for (name, context), output in zip(chosen, outputs, strict=True):
        assert output == reference_generate(backend, context, 6, num_beams), (family.name, name)


@pytest.mark.parametrize(("task", "limit"), [("raven", 2), ("vqav2", 2)])
def test_a_run_on_the_bundled_sample_completes(backend, family, task, limit, tmp_path):
    config = RunConfig(task=task, backend="hf", sample=True, limit=limit, output_dir=str(tmp_path), device="cpu")
    if family.text_only:  # refused before the model loads, in one line naming task and model; no run folder
        config = RunConfig(task=task, backend="hf", sample=True, limit=limit, output_dir=str(tmp_path),
                           model_args={"pretrained": backend.loaded.pretrained})  # fmt: skip
        with pytest.raises(UserError, match=f"^Task '{task}' shows the model images, and ") as refused:
            evaluate(config, progress=False)
        assert backend.loaded.pretrained in str(refused.value) and "\n" not in str(refused.value)
        assert not list(tmp_path.iterdir())
        return
    if task == "raven" and not family.multi_image:  # refused before any example runs, in one line
        with pytest.raises(UserError, match=f"{family.label} takes one image per prompt"):
            evaluate(config, backend, progress=False)
        assert not list(tmp_path.glob("*/samples.jsonl")) or not any(
            p.read_text() for p in tmp_path.glob("*/samples.jsonl")
        )
        return
    outcome = evaluate(config, backend, progress=False)
    assert outcome.summary["n"] == limit and outcome.summary["fingerprint"]["family"] == family.name


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_the_tiny_builder_is_deterministic(family, checkpoints, tmp_path):
    again = build_tiny_model(family.name, tmp_path / family.name)
    assert _digest(again) == _digest(checkpoints(family.name))
