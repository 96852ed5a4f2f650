"""The backend contract: optional hooks with defaults, and what the registry knows before anything loads."""

from __future__ import annotations

import sys

import pytest

from kosmos_eval.config import DEFAULT_MODEL_ID, RunConfig
from kosmos_eval.core.backend import Backend, BackendInfo
from kosmos_eval.core.registry import BACKENDS
from kosmos_eval.core.types import RankRequest, RankResult
from kosmos_eval.errors import UserError
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.run import make_backend, model_slug


class MinimalBackend(Backend):
    """Only the three required methods: every hook the runner calls must have a default."""

    name = "minimal"

    def rank(self, requests):
        return [
            RankResult((-1.0,) * len(r.continuations), (1,) * len(r.continuations), (True,) * len(r.continuations))
            for r in requests
        ]

    def generate(self, requests):
        return ["x"] * len(requests)

    def fingerprint(self):
        return {"backend": "minimal"}


def test_a_backend_with_only_the_required_methods_runs_through_the_batcher():
    backend = MinimalBackend()
    from kosmos_eval.core.types import Context

    outputs = Batcher(backend, None).run([RankRequest(Context.of("a"), (" b", " c"))])
    assert outputs[0].logprobs == (-1.0, -1.0)
    assert backend.default_batch_size() == 8 and backend.reduce_memory() is False
    assert backend.check_requests([]) is None and backend.prefetch([]) is None
    with pytest.raises(UserError, match="--sampler rices needs image features, which the 'minimal' backend"):
        backend.embed_images([])
    with pytest.raises(TypeError):  # the required methods are required
        type("Half", (Backend,), {"rank": MinimalBackend.rank})()


def test_registered_backends_are_known_without_importing_torch():
    assert set(BACKENDS.names()) == {"chance", "hf", "openai"}
    hf = BACKENDS.get("hf")
    assert hf.implementation == "kosmos_eval.backends.hf.backend:HFBackend"  # imported only when a model loads
    assert "kosmos_eval.backends.hf.backend" not in sys.modules or "torch" in sys.modules
    assert BACKENDS.get("chance").seeded and not hf.seeded


def test_speed_only_args_are_left_out_of_identity_per_backend():
    hf, openai = BACKENDS.get("hf"), BACKENDS.get("openai")
    args = {"pretrained": "x", "dtype": "bfloat16", "packing": "false", "device": "cuda", "max_concurrency": "4"}
    assert hf.identity_args(args) == {"dtype": "bfloat16", "max_concurrency": "4", "pretrained": "x"}
    assert openai.identity_args({"model": "m", "max_concurrency": "4", "timeout": "9"}) == {"model": "m"}
    plain = RunConfig(task="raven", model_args={"pretrained": "x"})
    fast = RunConfig(task="raven", model_args={"pretrained": "x", "max_pack_tokens": "64", "device": "cpu"})
    assert plain.identity("p", "test") == fast.identity("p", "test")


def test_models_are_named_by_the_backend(tmp_path):
    hf, openai, chance = BACKENDS.get("hf"), BACKENDS.get("openai"), BACKENDS.get("chance")
    folder = tmp_path / "my-checkpoint"
    folder.mkdir()
    assert hf.model_name({}) == DEFAULT_MODEL_ID
    assert hf.model_name({"pretrained": str(folder)}) == "my-checkpoint"  # no machine path in tables
    assert hf.model_name({"pretrained": "org/name"}) == "org/name"
    assert openai.model_name({"model": "llava-hf/llava-1.5-7b-hf"}) == "llava-hf/llava-1.5-7b-hf"
    assert openai.model_name({}) == "openai" and chance.model_name({}) == "chance"
    assert model_slug(RunConfig(task="raven", backend="hf", model_args={"pretrained": "org/name"})) == "name"


def test_unknown_model_args_are_refused_before_anything_loads():
    with pytest.raises(UserError, match=r"unknown key 'temperature' for --model chance \(known: none\)"):
        make_backend(RunConfig(task="raven", backend="chance", model_args={"temperature": "1"}))
    with pytest.raises(UserError, match=r"unknown key 'pretrain' for --model hf \(known: pretrained, revision"):
        BACKENDS.get("hf").validate({"pretrain": "x"})


def test_an_unregistered_backend_object_can_still_be_evaluated(tmp_path):
    from kosmos_eval.runner.run import evaluate
    from tests.runs import raven_data

    config = RunConfig(task="raven", backend="minimal", data_dir=str(raven_data()), limit=3, output_dir=str(tmp_path))
    outcome = evaluate(config, MinimalBackend(), progress=False)
    assert outcome.summary["model"] == "minimal" and outcome.summary["n"] == 3
    with pytest.raises(UserError, match="Unknown backend 'minimal'"):
        make_backend(config)  # building one by that name needs a registration


def test_backend_info_imports_a_string_implementation_lazily():
    info = BackendInfo(name="x", implementation="tests.test_backend_contract:MinimalBackend", description="")
    backend = info.create(seed=1, device=None, model_args={})
    assert isinstance(backend, MinimalBackend)
