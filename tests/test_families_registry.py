"""The family registry: lookups, and failures that name the family (never a bare internal error)."""

from __future__ import annotations

import dataclasses

import pytest

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.backends.hf.families import GENERIC, families, family_for
from kosmos_eval.core.types import Context, RankRequest
from kosmos_eval.errors import UserError


def test_every_model_type_finds_its_family_and_an_unknown_one_the_generic_path():
    for name, family in families().items():
        assert all(family_for(model_type) is family for model_type in family.model_types), name
    assert family_for("not-a-real-model-type") is GENERIC


def _broken(backend: HFBackend, family, monkeypatch) -> HFBackend:
    clone = HFBackend.__new__(HFBackend)
    clone.__dict__.update(backend.__dict__)
    clone.loaded = dataclasses.replace(backend.loaded, family=family)

    def explode(*args, **kwargs):
        raise IndexError("index 7 is out of bounds for dimension 1 with size 5")

    monkeypatch.setattr(clone.adapter, "logits_at", explode)
    monkeypatch.setattr(clone.adapter, "packed_outputs", explode)
    return clone


REQUEST = RankRequest(Context.of("Question: what is the sentiment of the opinion? Answer:"), (" positive",))


def test_a_failure_on_the_generic_path_is_one_line_naming_the_undeclared_type(llava_backend, monkeypatch):
    backend = _broken(llava_backend, GENERIC, monkeypatch)
    with pytest.raises(UserError) as failed:
        backend.rank([REQUEST])
    message = str(failed.value)
    assert message.startswith("model type 'llava' (") and "is not a declared family" in message
    assert "IndexError: index 7 is out of bounds" in message and "\n" not in message


def test_a_failure_in_a_declared_family_is_a_bug_that_names_the_family(llava_backend, monkeypatch):
    backend = _broken(llava_backend, llava_backend.loaded.family, monkeypatch)
    with pytest.raises(RuntimeError, match=r"^LLaVA \(llava\): IndexError: index 7 is out of bounds"):
        backend.rank([REQUEST])


def test_damaged_or_incomplete_checkpoints_fail_in_one_line_naming_the_file(tiny_kosmos2, tmp_path):
    import shutil

    from kosmos_eval.errors import ModelUnavailableError

    cut = shutil.copytree(tiny_kosmos2, tmp_path / "cut")
    weights = next(cut.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelUnavailableError, match=rf"weight file {weights} is damaged \(.* the file is cut off\)"):
        HFBackend(pretrained=str(cut), dtype="float32", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match=r"holds no loadable checkpoint \(no config.json\)"):
        HFBackend(pretrained=str(tmp_path / "empty"), dtype="float32", device="cpu")
