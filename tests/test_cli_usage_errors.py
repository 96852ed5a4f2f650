"""Mistyped command lines get one error line that names the option and where to look, through the real
entry point (`kosmos_eval.cli.main`, what the `kosmos-eval` script runs), not click's framed usage box."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kosmos_eval.cli import main


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["kosmos-eval", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    captured = capsys.readouterr()
    return int(stop.value.code or 0), captured.out + captured.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("run", "raven", "--model", "chance", "--seed", "abc"), "kosmos-eval run: Invalid value for '--seed'"),
        (("run", "raven", "--sampel"), "kosmos-eval run: No such option: --sampel"),
        (("leaderboard", "--wide", "--nosuch"), "kosmos-eval leaderboard: No such option: --nosuch"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_command(monkeypatch, capsys, args, expected) -> None:
    status, output = run_main(monkeypatch, capsys, *args)
    assert status == 2
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith(f"error: {expected}")
    assert lines[0].endswith(f"(see kosmos-eval {args[0]} --help)")
    assert "╭" not in output and "Traceback" not in output


def test_help_still_prints_and_succeeds(monkeypatch, capsys) -> None:
    status, output = run_main(monkeypatch, capsys, "run", "--help")
    assert status == 0 and "--seed" in output


def test_score_predictions_given_a_folder_says_so(monkeypatch, capsys, tmp_path: Path) -> None:
    (tmp_path / "preds.json").write_text("[]")
    status, output = run_main(
        monkeypatch, capsys, "score-predictions", "vqav2", "--predictions", str(tmp_path), "--data-dir", str(tmp_path)
    )
    assert status == 2
    assert output.strip() == (
        f"error: --predictions {tmp_path} is a folder (it holds preds.json); give the predictions file itself"
    )
