"""A run on a bundled sample can never be mistaken for a benchmark: marked in the summary and the printout,
its own folder, no paper numbers beside it, and never gated against a run on real data."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.data.locate import SAMPLE_MARKER, SAMPLE_NOTE, bundled_sample
from kosmos_eval.reporting.leaderboard import leaderboard
from kosmos_eval.reporting.paper import paper_numbers
from kosmos_eval.reporting.report import build_report
from kosmos_eval.reporting.runs import find_runs
from kosmos_eval.runner.run import evaluate
from tests.runs import chance_run, raven_data

runner = CliRunner()


def _sample_run(output, limit: int = 20, **kwargs):
    config = RunConfig(task="raven", backend="chance", limit=limit, output_dir=str(output), sample=True, **kwargs)
    return evaluate(config, progress=False)


def test_sample_run_is_marked_in_summary_and_printout(tmp_path):
    result = runner.invoke(
        app, ["run", "raven", "--sample", "--model", "chance", "--limit", "5", "--output", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "split test (bundled sample, not a benchmark) | n=5" in result.output
    assert f"note: {SAMPLE_NOTE}" in " ".join(result.output.split())  # wrapped at the console's width
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["data"] == {"dir": str(bundled_sample("raven")), "origin": "bundled sample", "sample": True}
    assert summary["notes"][0] == SAMPLE_NOTE
    assert summary["identity"]["data"] == "bundled sample"


def test_raven_without_data_falls_back_to_its_sample_with_the_same_marking(tmp_path):
    fallback = evaluate(RunConfig(task="raven", backend="chance", limit=5, output_dir=str(tmp_path)), progress=False)
    asked = _sample_run(tmp_path, limit=5)
    assert fallback.summary["data"]["sample"] is True
    assert fallback.run_dir == asked.run_dir  # the same data, so the same run: resumed, not recomputed
    assert asked.computed == 0


def test_a_copy_of_the_sample_given_as_data_dir_is_still_a_sample_run(tmp_path):
    copy = tmp_path / "copied"
    shutil.copytree(bundled_sample("raven"), copy)
    marked = evaluate(
        RunConfig(task="raven", backend="chance", limit=5, output_dir=str(tmp_path / "runs"), data_dir=str(copy)),
        progress=False,
    )
    assert marked.summary["data"]["sample"] is True and marked.summary["data"]["origin"] == "bundled sample"
    (copy / SAMPLE_MARKER).unlink()  # without the marker, the same files are the user's own data
    user = evaluate(
        RunConfig(task="raven", backend="chance", limit=5, output_dir=str(tmp_path / "runs"), data_dir=str(copy)),
        progress=False,
    )
    assert user.summary["data"]["sample"] is False and user.run_dir != marked.run_dir


def test_sample_and_data_dir_together_are_refused(tmp_path):
    result = runner.invoke(app, ["run", "raven", "--sample", "--data-dir", str(tmp_path), "--model", "chance"])
    assert result.exit_code == 2
    assert "--sample and --data-dir" in result.output and "give one of them" in result.output


def test_other_tasks_never_fall_back_to_their_sample_silently(tmp_path):
    result = runner.invoke(app, ["run", "vqav2", "--model", "chance", "--output", str(tmp_path)])
    assert result.exit_code == 2
    # offline, its hub copy is not cached: one line saying so, and the sample named as the other way
    assert "not in the datasets cache and the hub cannot be reached" in result.output
    assert "or --sample" in result.output
    assert not any(tmp_path.iterdir())


def test_leaderboard_keeps_sample_runs_apart_and_without_paper_rows(tmp_path):
    _sample_run(tmp_path / "sample")
    only_sample = leaderboard(find_runs([tmp_path / "sample"]), paper_numbers())
    assert set(only_sample["source"]) == {"sample"}  # no paper rows for a task only samples cover
    chance_run(tmp_path / "real")
    both = leaderboard(find_runs([tmp_path]), paper_numbers())
    headline = both[both["metric"] == "accuracy"]
    assert list(headline["source"].drop_duplicates()) == ["run", "sample", "paper"]
    # the real run is not replaced or averaged by the newer sample run of the same model and setting
    assert len(headline[headline["source"] == "run"]) == 1 and len(headline[headline["source"] == "sample"]) == 1


def test_compare_refuses_a_sample_run_against_a_real_run_even_with_force(tmp_path):
    sample = _sample_run(tmp_path / "sample").run_dir
    real = chance_run(tmp_path / "real")
    for args in (
        [str(sample), str(real)],
        [str(real), str(sample), "--force"],
        [str(tmp_path / "real"), str(tmp_path / "sample")],
    ):
        result = runner.invoke(app, ["compare", *args])
        assert result.exit_code == 2, result.output
        assert "refusing to compare a run on the bundled sample with a run on real data" in result.output
    same = runner.invoke(app, ["compare", str(sample), str(sample)])
    assert same.exit_code == 0, same.output  # sample against sample: a harness change on the same synthetic data


def test_report_shows_no_paper_number_beside_a_sample_run(tmp_path):
    _sample_run(tmp_path)
    html = build_report(find_runs([tmp_path]))
    row = html[html.index('<tr class="metrics-row"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="paper num"></td>' in row and "(bundled sample)" in row
    real = tmp_path / "real"
    chance_run(real, limit=5)
    html = build_report(find_runs([real]))
    assert '<td class="paper num">22.0</td>' in html  # Table 6, KOSMOS-1 zero-shot


def test_generated_data_without_the_marker_reads_as_user_data():
    assert not (raven_data() / SAMPLE_MARKER).exists()
    assert (bundled_sample("raven") / SAMPLE_MARKER).is_file()
