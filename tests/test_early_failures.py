"""A run whose data cannot serve it fails before the model loads and leaves no run folder behind.

Each test gives `evaluate` a backend factory that records whether it was called: a missing demonstration
split or a missing image file must be refused with the factory never called, and a backend that fails while
the run starts (a server that does not answer) must leave the output folder as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kosmos_eval.backends.chance import ChanceBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.generators.vqa import write_vqav2
from kosmos_eval.runner.run import evaluate

QUESTIONS = [("What color is the bus?", ["red"] * 10, "other"), ("Is it sunny?", ["yes"] * 10, "yes/no")] * 3


class Factory:
    """A backend factory that counts its calls (the model load a failed check must not reach)."""

    def __init__(self, backend: ChanceBackend | None = None) -> None:
        self.calls = 0
        self.backend = backend or ChanceBackend()

    def __call__(self, config: RunConfig) -> ChanceBackend:
        self.calls += 1
        return self.backend


def _config(data: Path, out: Path, **overrides: Any) -> RunConfig:
    return RunConfig(task="vqav2", backend="chance", split="val", data_dir=str(data), output_dir=str(out), **overrides)


def _val_only(tmp_path: Path) -> Path:
    data = tmp_path / "data" / "vqav2"
    write_vqav2(data, "val", QUESTIONS)
    return data


def test_missing_demo_split_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    data, out, factory = _val_only(tmp_path), tmp_path / "runs", Factory()
    with pytest.raises(UserError, match="train"):
        evaluate(_config(data, out, shots=2), backend=factory, progress=False)
    assert factory.calls == 0
    assert not out.exists() or not any(out.iterdir())


def test_missing_image_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    data, out, factory = _val_only(tmp_path), tmp_path / "runs", Factory()
    victim = sorted((data / "val2014").iterdir())[4]
    victim.unlink()
    with pytest.raises(DataError, match=f"{victim.name}: image file not found"):
        evaluate(_config(data, out, limit=2), backend=factory, progress=False)  # the image is a neighbour's
    assert factory.calls == 0
    assert not out.exists() or not any(out.iterdir())


def test_missing_demo_image_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    data, out, factory = _val_only(tmp_path), tmp_path / "runs", Factory()
    write_vqav2(data, "train", QUESTIONS, first_image=50)
    sorted((data / "train2014").iterdir())[-1].unlink()
    with pytest.raises(DataError, match="train demonstrations"):
        evaluate(_config(data, out, shots=2), backend=factory, progress=False)
    assert factory.calls == 0


class Unreachable(ChanceBackend):
    def fingerprint(self) -> dict[str, Any]:
        raise UserError("cannot connect to http://127.0.0.1:9/v1 (connection refused)")


def test_a_backend_failing_at_start_leaves_no_folder(tmp_path: Path) -> None:
    data, out = _val_only(tmp_path), tmp_path / "runs"
    with pytest.raises(UserError, match="cannot connect"):
        evaluate(_config(data, out), backend=Factory(Unreachable()), progress=False)
    assert list(out.iterdir()) == []


class FailsInFirstStep(ChanceBackend):
    def generate(self, requests: list[Any]) -> list[str]:
        raise UserError("the server went away")


def test_a_run_failing_before_its_first_record_leaves_no_folder(tmp_path: Path) -> None:
    data, out = _val_only(tmp_path), tmp_path / "runs"
    with pytest.raises(UserError, match="went away"):
        evaluate(_config(data, out), backend=FailsInFirstStep(), progress=False)
    assert list(out.iterdir()) == []


def test_a_failed_resume_keeps_the_folder_and_its_records(tmp_path: Path) -> None:
    data, out = _val_only(tmp_path), tmp_path / "runs"
    run_dir = evaluate(_config(data, out, limit=2), backend=ChanceBackend(), progress=False).run_dir
    before = (run_dir / "samples.jsonl").read_bytes()
    with pytest.raises(UserError, match="went away"):
        evaluate(_config(data, out, limit=6), backend=FailsInFirstStep(), progress=False)
    assert (run_dir / "samples.jsonl").read_bytes() == before
    assert (run_dir / "run.json").exists() and (run_dir / "summary.json").exists()
