"""Console output fits 100 columns: `list` wraps, `leaderboard` truncates, score-predictions prints as `run`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.cli.results import _fitted_table
from kosmos_eval.cli.score import _format_value

runner = CliRunner()


def test_list_lines_fit_100_columns_and_keep_every_explanation():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 100
    assert "storycloze" in result.output and "no downloadable hub copy" in result.output
    from kosmos_eval.core.registry import TASKS

    rows = {line.split()[0]: line for line in result.output.splitlines() if line and not line.startswith(" ")}
    for name in TASKS.names():  # each headline metric whole on its task's line, never cut in the middle
        assert f" {TASKS.get(name).metrics[0]} " in rows[name] + " ", name


def test_leaderboard_table_truncates_long_cells_with_an_ellipsis():
    import pandas as pd

    name = "a-very-long-model-name-" * 8
    frame = pd.DataFrame({"model": [name, "short"], "boolq/accuracy/0-shot " * 3: [61.23, 55.0], "n": [10, 20]})
    text = _fitted_table(frame)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "…" in text and "61.2" in text and "short" in text


def test_leaderboard_wide_file_keeps_full_values(tmp_path):
    out = tmp_path / "wide.csv"
    result = runner.invoke(app, ["leaderboard", str(tmp_path), "--wide", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "…" not in out.read_text()
    terminal = runner.invoke(app, ["leaderboard", str(tmp_path), "--wide"])
    assert max(len(line) for line in terminal.output.splitlines()) <= 100


def test_score_predictions_prints_like_run():
    value = {"value": 0.61234, "ci_low": 0.5, "ci_high": 0.7, "n": 10}
    assert _format_value(value) == "61.2 (95% CI 50.0-70.0, n=10)"
    assert _format_value({"value": 0.5, "n": 4}) == "50.0 (n=4)"
    assert json.dumps(value)
