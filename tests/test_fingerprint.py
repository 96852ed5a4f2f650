"""A run folder stands for one model: everything in a local checkpoint that can change a number is part of
its fingerprint, and the check runs on every start, also when no example is left to compute."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from kosmos_eval.backends.hf.files import checkpoint_files, file_sha256
from kosmos_eval.config import RunConfig
from kosmos_eval.core.backend import fingerprint_changes
from kosmos_eval.errors import UserError
from kosmos_eval.runner.run import evaluate
from tests.runs import raven_data


@pytest.fixture
def model_copy(tiny_kosmos2, tmp_path):
    return shutil.copytree(tiny_kosmos2, tmp_path / "model")


def _config(model, output, limit: int) -> RunConfig:
    return RunConfig(
        task="raven",
        backend="hf",
        model_args={"pretrained": str(model), "dtype": "float32"},
        device="cpu",
        data_dir=str(raven_data()),
        limit=limit,
        output_dir=str(output),
    )


def _rewrite_tokenizer(model) -> None:
    path = model / "tokenizer.json"
    data = json.loads(path.read_text())
    data["model"]["vocab"][10][1] -= 1.0  # another score: other segmentations, other log-probs
    path.write_text(json.dumps(data))


def test_a_rebuilt_tokenizer_in_the_same_folder_is_refused_with_the_file_named(model_copy, tmp_path):
    evaluate(_config(model_copy, tmp_path / "runs", 2), progress=False)
    _rewrite_tokenizer(model_copy)
    with pytest.raises(UserError, match=r"computed with a different model \(tokenizer.json changed\)"):
        evaluate(_config(model_copy, tmp_path / "runs", 3), progress=False)  # one example left to compute
    with pytest.raises(UserError, match=r"tokenizer.json changed"):
        evaluate(_config(model_copy, tmp_path / "runs", 2), progress=False)  # nothing left: checked anyway


def test_documentation_does_not_count_but_a_chat_template_does(model_copy):
    before = checkpoint_files(model_copy)
    (model_copy / "README.md").write_text("# notes")
    assert checkpoint_files(model_copy) == before
    (model_copy / "chat_template.jinja").write_text("{{ messages }}")
    assert fingerprint_changes(before, checkpoint_files(model_copy)) == ["chat_template.jinja added"]
    weights = next(model_copy.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    changes = fingerprint_changes(before, checkpoint_files(model_copy))
    assert "chat_template.jinja added" in changes and any(c.startswith("weights_sha256 ") for c in changes)


def test_hashes_are_cached_until_the_file_is_touched(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"abc")
    cache: dict = {}
    first = file_sha256(path, cache)
    cache[str(path.resolve())]["sha256"] = "cached"
    assert file_sha256(path, cache) == "cached"  # not read again
    os.utime(path, ns=(1, 1))
    assert file_sha256(path, cache) == first  # touched: read again


def test_fingerprint_changes_compares_only_shared_keys():
    old = {"model": "m", "weights_sha256": "a"}
    assert fingerprint_changes(old, {"model": "m", "weights_sha256": "a", "files": {}}) == []
    assert fingerprint_changes(old, {"model": "m", "weights_sha256": "b"}) == ["weights_sha256 'a' -> 'b'"]
