"""The protocol decides decoding: a checkpoint's generation_config.json preferences (penalties, sampling,
blocked or suppressed tokens) never change a generated answer unless asked for, and the summary says what was
in effect."""

from __future__ import annotations

import json
import shutil

import pytest

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.core.types import Context, GenerateRequest
from kosmos_eval.runner.run import evaluate
from tests.images import image_input

LEAKY = {
    "repetition_penalty": 3.0,
    "no_repeat_ngram_size": 1,
    "do_sample": True,
    "temperature": 0.05,
    "top_p": 0.5,
    "min_new_tokens": 4,
    "suppress_tokens": [5, 6, 7],
}
REQUESTS = [
    GenerateRequest(Context.of(image_input(i), "Question: what is in the picture? Answer:"), max_new_tokens=8)
    for i in range(6)
] + [GenerateRequest(Context.of(image_input(9), "An image of"), max_new_tokens=8, num_beams=3)]


@pytest.fixture(scope="module")
def leaky_llava(tiny_llava, tmp_path_factory):
    folder = shutil.copytree(tiny_llava, tmp_path_factory.mktemp("leaky") / "llava")
    config = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**config, **LEAKY}))
    return folder


def test_checkpoint_preferences_do_not_change_the_answers(leaky_llava, llava_backend):
    protocol = HFBackend(pretrained=str(leaky_llava), dtype="float32", device="cpu")
    assert protocol.generate(REQUESTS) == llava_backend.generate(REQUESTS)  # as the same weights without them


def test_generation_config_checkpoint_keeps_them_and_they_do_change_answers(leaky_llava, llava_backend):
    kept = HFBackend(pretrained=str(leaky_llava), dtype="float32", device="cpu", generation_config="checkpoint")
    assert kept.generate(REQUESTS) != llava_backend.generate(REQUESTS)  # the leak the default prevents


def test_the_summary_records_the_decoding_in_effect(leaky_llava, tmp_path):
    args = {"pretrained": str(leaky_llava), "dtype": "float32"}
    config = RunConfig(task="vqav2", backend="hf", model_args=args, sample=True, limit=2, device="cpu",
                       output_dir=str(tmp_path))  # fmt: skip
    summary = evaluate(config, progress=False).summary
    assert summary["decoding"]["template"]["decoding"] == {
        "num_beams": 1,
        "max_new_tokens": 10,
        "stop": ["\n", "Question:"],
    }
    backend = summary["decoding"]["backend"]
    assert backend["generation_config"] == "protocol"
    assert not set(LEAKY) & set(backend["settings"])  # none of the preferences is in effect
    assert backend["checkpoint_settings"]["repetition_penalty"] == 3.0  # and the record says what was dropped
    assert backend["settings"]["eos_token_id"] == backend["checkpoint_settings"]["eos_token_id"]  # format kept


def test_kosmos2_keeps_its_own_decoding_loops_under_the_protocol(tiny_kosmos2, tmp_path):
    from kosmos_eval.backends.hf import decoding

    folder = shutil.copytree(tiny_kosmos2, tmp_path / "kosmos2")
    config = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**config, "no_repeat_ngram_size": 2}))
    backend = HFBackend(pretrained=str(folder), dtype="float32", device="cpu")
    assert backend.own_loop_available and decoding.own_loop_rules(backend.adapter.generation_config) is not None
    assert backend.decoding_settings()["settings"].get("no_repeat_ngram_size") is None
