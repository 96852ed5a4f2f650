"""`kosmos-eval data verify` reads what a run would read and names every broken file; the chance baseline
opens every image, so broken data never yields a score."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.data.locate import bundled_sample
from kosmos_eval.errors import DataError
from kosmos_eval.runner.run import evaluate
from tests.runs import raven_data

runner = CliRunner()


def test_every_bundled_sample_verifies_clean():
    from kosmos_eval.core.registry import TASKS

    for name in TASKS.names():
        result = runner.invoke(app, ["data", "verify", name, "--sample", "--no-progress"])
        assert result.exit_code == 0, result.output
        assert result.output.strip().endswith("; ok")


def test_broken_images_are_each_named_and_the_exit_is_1(tmp_path):
    iq = shutil.copytree(raven_data(), tmp_path / "iq")
    (iq / "exp-2" / "query-1.png").write_bytes(b"")  # zero bytes
    (iq / "exp-7" / "answer-c.png").write_bytes(b"not a png")
    result = runner.invoke(app, ["data", "verify", "raven", "--data-dir", str(iq), "--no-progress"])
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 2
    assert any("exp-2/query-1.png: cannot read image" in p for p in problems)
    assert any("exp-7/answer-c.png: cannot read image" in p for p in problems)
    assert "50 examples" in result.output and "2 problem(s)" in result.output


def test_a_broken_record_is_reported_with_its_file(tmp_path):
    data = shutil.copytree(bundled_sample("vqav2"), tmp_path / "vqav2")
    (data / "kosmos-eval-sample.json").unlink()
    (data / "v2_OpenEnded_mscoco_val2014_questions.json").write_text("{ broken")
    result = runner.invoke(app, ["data", "verify", "vqav2", "--data-dir", str(data), "--split", "val", "--no-progress"])
    assert result.exit_code == 1
    assert "problem: val split: " in result.output and "v2_OpenEnded_mscoco_val2014_questions.json" in result.output


def test_the_chance_baseline_fails_on_a_zero_byte_image_instead_of_scoring(tmp_path):
    iq = shutil.copytree(raven_data(), tmp_path / "iq")
    (iq / "exp-3" / "query-2.png").write_bytes(b"")
    config = RunConfig(task="raven", backend="chance", data_dir=str(iq), limit=5, output_dir=str(tmp_path / "runs"))
    with pytest.raises(DataError, match=r"exp-3/query-2\.png: cannot read image"):
        evaluate(config, progress=False)
