"""`kosmos-eval tiny-model` takes a family name or one of its model types (as config.json writes it)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kosmos_eval.backends.hf.families import BY_MODEL_TYPE
from kosmos_eval.cli import app
from kosmos_eval.tiny import BUILDERS, resolve_architecture

runner = CliRunner()


def test_every_declared_model_type_names_a_builder():
    for model_type, family in BY_MODEL_TYPE.items():
        name = resolve_architecture(model_type)
        assert name in BUILDERS and name in (model_type, family.name)
    assert resolve_architecture("kosmos-2") == "kosmos2"
    assert resolve_architecture("kosmos-2.5") == "kosmos2_5"
    assert resolve_architecture("kosmos2") == "kosmos2"


def test_the_model_type_the_readme_shows_builds(tmp_path):
    result = runner.invoke(app, ["tiny-model", "kosmos-2", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "kosmos-2"


def test_an_unknown_name_is_one_line_listing_families_and_model_types(tmp_path):
    result = runner.invoke(app, ["tiny-model", "gpt9", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    lines = [row for row in result.output.splitlines() if row.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "unknown architecture 'gpt9'" in lines[0]
    assert "families: kosmos2, llava" in lines[0] and "model types:" in lines[0] and "kosmos-2.5" in lines[0]
    assert not (tmp_path / "x").exists()
