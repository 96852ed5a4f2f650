"""Suites: the paper's whole protocol (`kosmos1`) and suite files with fixed slices, run with real backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.generators.raven import write_problem_set
from kosmos_eval.generators.vqa import write_vqav2
from kosmos_eval.reporting.paper import paper_numbers
from kosmos_eval.reporting.runs import find_runs
from kosmos_eval.runner.suite import load_suite, plan

VQA_QUESTIONS = [
    ("how many dogs?", ["2"] * 10, "number"),
    ("what color is it?", ["red"] * 10, "other"),
    ("is it raining?", ["no"] * 10, "yes/no"),
]


def test_kosmos1_covers_every_setting_the_paper_reports():
    planned = plan(load_suite("kosmos1"), RunConfig(task="", backend="chance"))
    covered = {(p.config.task, _variant(p.config), k) for p in planned for k in p.shots}
    paper = paper_numbers()
    wanted = set(zip(paper["task"], paper["variant"], paper["shots"], strict=True))
    assert wanted <= covered, sorted(wanted - covered)
    assert sum(len(p.shots) for p in planned) == 52
    # 4 captioning/VQA tasks x 4 shot settings + 8 language tasks x 3 + 12 zero-shot runs = 16 + 24 + 12


def _variant(config: RunConfig) -> str:
    from kosmos_eval.core.registry import TASKS

    return TASKS.get(config.task)(options=config.task_options).variant


def write_suite(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "ci.yaml"
    path.write_text(body)
    return path


def test_suite_file_runs_fixed_slices_and_prints_one_table(tmp_path):
    data = tmp_path / "data"
    write_vqav2(data / "vqav2", "val", VQA_QUESTIONS)
    write_problem_set(data / "raven", n=6)  # the user's own IQ50-layout folder (not the bundled sample)
    (tmp_path / "ids.txt").write_text("30\n10\n")  # question ids are image id x 10
    suite = write_suite(
        tmp_path,
        "name: ci\nruns:\n"
        "  - {task: raven, limit: 4, seeds: [1, 2]}\n"
        "  - {task: vqav2, split: val, ids_file: ids.txt}\n",
    )
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--suite",
            str(suite),
            "--model",
            "chance",
            "--data-dir",
            str(data),
            "--output",
            str(tmp_path / "runs"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "suite ci: 3 runs" in result.output
    table = result.output[result.output.index("model: chance") :].splitlines()
    assert table[1].split()[:7] == ["task", "shot", "seed", "metric", "value", "95%", "CI"]  # no variant given
    assert [line.split()[0] for line in table[2:5]] == ["raven", "raven", "vqav2"]
    assert table[5] == f"run folders: under {tmp_path / 'runs'}/"
    assert "22.0" in table[2]  # the paper's KOSMOS-1 Raven accuracy beside ours
    assert "(test-dev only)" in table[4]  # VQAv2 on val: the paper's 51.0 is a test-dev number
    runs = {(r.task, r.seed): r for r in find_runs([tmp_path / "runs"])}
    assert set(runs) == {("raven", 1), ("raven", 2), ("vqav2", 1234)}
    vqa = runs[("vqav2", 1234)]
    assert [r["id"] for r in vqa.records] == ["30", "10"]  # exactly the slice, in the file's order
    assert vqa.summary["n"] == 2
    assert runs[("raven", 1)].summary["n"] == 4


def test_a_fixed_slice_of_a_longer_run_reports_the_slice_and_leaves_the_folder_summary(tmp_path):
    data = tmp_path / "vqav2"
    write_vqav2(data, "val", VQA_QUESTIONS)
    from kosmos_eval.runner.run import evaluate

    base = RunConfig(task="vqav2", backend="chance", split="val", data_dir=str(data), output_dir=str(tmp_path / "r"))
    full = evaluate(base, progress=False)
    from dataclasses import replace

    sliced = evaluate(replace(base, example_ids=("20",)), progress=False)
    assert sliced.run_dir == full.run_dir and sliced.computed == 0  # the slice reuses the finished records
    assert sliced.is_slice and sliced.folder_records == 3 and sliced.metrics["accuracy"].n == 1
    run = find_runs([sliced.run_dir])[0]  # the folder's result still covers all three records
    assert [r["id"] for r in run.records] == ["10", "20", "30"] and run.summary["n"] == 3
    with pytest.raises(DataError, match="1 of the 2 requested example ids are not in the val split"):
        evaluate(replace(base, example_ids=("20", "999")), progress=False)


def test_suite_refuses_missing_data_up_front_unless_told_to_skip(tmp_path):
    suite = write_suite(tmp_path, "runs:\n  - task: raven\n    limit: 2\n  - task: vizwiz\n")
    args = ["run", "--suite", str(suite), "--model", "chance", "--output", str(tmp_path / "runs"), "--no-progress"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert "data not found for 1 task(s)" in refused.output and "vizwiz" in refused.output
    assert not (tmp_path / "runs").exists()  # nothing ran
    skipped = CliRunner().invoke(app, [*args, "--skip-missing"])
    assert skipped.exit_code == 0, skipped.output
    assert "(1 tasks skipped: no data)" in skipped.output
    assert [r.task for r in find_runs([tmp_path / "runs"])] == ["raven"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("runs: []\n", "non-empty 'runs' list"),
        ("runs:\n  - {task: raven, shot: 2}\n", "runs\\[1\\]: unknown field 'shot'"),
        ("runs:\n  - {task: raven, shots: [0, -1]}\n", "runs\\[1\\].shots: expected a non-negative integer"),
        ("runs:\n  - {task: raven, ids: [a], ids_file: x.txt}\n", "'ids' or 'ids_file', not both"),
        ("runs:\n  - {task: raven\n", "not valid YAML"),
    ],
)
def test_bad_suite_files_say_where(tmp_path, body, message):
    with pytest.raises(DataError, match=message):
        load_suite(write_suite(tmp_path, body))


def test_suite_entries_are_checked_before_anything_runs(tmp_path):
    suite = load_suite(write_suite(tmp_path, "runs:\n  - {task: raven}\n  - {task: raven, shots: [4]}\n"))
    with pytest.raises(UserError, match="evaluated with --shots 0 in the paper; got 4"):
        plan(suite, RunConfig(task="", backend="chance"))
    with pytest.raises(UserError, match="no such file"):
        load_suite(tmp_path / "absent.yaml")


def test_run_needs_a_task_or_a_suite(tmp_path):
    result = CliRunner().invoke(app, ["run", "--model", "chance"])
    assert result.exit_code == 2 and "give a TASK" in result.output


def test_suite_summaries_record_the_slice(tmp_path):
    write_vqav2(tmp_path / "vqav2", "val", VQA_QUESTIONS)
    suite = write_suite(tmp_path, "runs:\n  - {task: vqav2, split: val, ids: ['20']}\n")
    args = ["--model", "chance", "--data-dir", str(tmp_path), "--output", str(tmp_path / "o"), "--no-progress"]
    result = CliRunner().invoke(app, ["run", "--suite", str(suite), *args])
    assert result.exit_code == 0, result.output
    summary = json.loads(next((tmp_path / "o").glob("*/summary.json")).read_text())
    assert summary["config"]["example_ids"] == ["20"] and summary["n"] == 1


def test_a_failing_entry_is_reported_and_the_suite_goes_on(tmp_path):
    write_vqav2(tmp_path / "vqav2", "val", VQA_QUESTIONS)
    write_problem_set(tmp_path / "raven", n=2)
    suite = write_suite(
        tmp_path,
        "runs:\n  - {task: vqav2, split: val, ids: ['20', '999']}\n  - {task: raven, limit: 2}\n",
    )
    args = ["--model", "chance", "--data-dir", str(tmp_path), "--output", str(tmp_path / "o"), "--no-progress"]
    result = CliRunner().invoke(app, ["run", "--suite", str(suite), *args])
    assert result.exit_code == 1
    assert "failed: vqav2 (0-shot): vqav2: 1 of the 2 requested example ids are not in the val split" in result.output
    assert "1 of 2 suite entries failed" in result.output
    assert [r.task for r in find_runs([tmp_path / "o"])] == ["raven"]  # the later entry still ran


def test_the_suite_table_shows_the_statistic_the_paper_reports(tmp_path):
    import shutil

    from kosmos_eval.data.locate import SAMPLE_MARKER, bundled_sample

    data = tmp_path / "data"
    shutil.copytree(bundled_sample("relative_size"), data / "relative_size")
    (data / "relative_size" / SAMPLE_MARKER).unlink()
    suite = write_suite(tmp_path, "name: sizes\nruns:\n  - {task: relative_size}\n")
    args = ["run", "--suite", str(suite), "--model", "chance", "--data-dir", str(data), "--output", str(tmp_path / "r")]
    result = CliRunner().invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    (row,) = result.output[result.output.index("model: chance") :].splitlines()[2:3]
    # RelativeSize's 94.2 is the one-order statistic (Table 16), not our both-orders headline
    assert row.split()[:2] == ["relative_size", "0"] and "accuracy_paper_order" in row and "94.2" in row


def test_a_model_folder_that_does_not_exist_stops_a_suite_once_not_per_entry(tmp_path):
    """Every entry of a suite shares the model: a mistyped folder is one error line, not one failure per entry,
    and no run folder is left behind."""
    args = ["run", "raven,winograd,vqav2", "--sample", "--model", "hf", "--no-progress", "--output", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--model-args", f"pretrained={tmp_path / 'ckpt'}"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith(("error:", "failed:"))]
    assert errors == [
        f"error: Cannot load model '{tmp_path / 'ckpt'}': the folder '{tmp_path / 'ckpt'}' does not exist"
    ]
    assert not any(path.is_dir() for path in tmp_path.iterdir())


def test_a_suite_on_a_data_root_never_runs_raven_on_its_sample(tmp_path):
    """Raven reads its bundled sample only when no data is configured at all (the README's first run). Given a
    data root without raven/, a suite looks for Raven's hub copy as for every other task: offline and not cached,
    it is missing, not silently the synthetic sample."""
    data = tmp_path / "data"
    write_vqav2(data / "vqav2", "val", VQA_QUESTIONS)
    suite = write_suite(tmp_path, "name: ci\nruns:\n  - {task: raven, limit: 4}\n  - {task: vqav2, split: val}\n")
    args = ["run", "--suite", str(suite), "--model", "chance", "--data-dir", str(data), "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert "data not found for 1 task(s)" in result.output and "raven: missing: hub lmms-lab/IQ50" in result.output
    listed = CliRunner().invoke(app, ["list", "--data-dir", str(data)])
    assert next(line for line in listed.output.splitlines() if line.startswith("raven ")).split()[-3] == "missing,"


def test_a_sample_run_among_real_runs_says_so_in_the_suite_table(tmp_path):
    """An entry may read a bundled sample (its data_dir a copy of one) beside runs on real data: its row must
    not pass for a real result beside the others."""
    from kosmos_eval.data.locate import bundled_sample

    data = tmp_path / "data"
    write_vqav2(data / "vqav2", "val", VQA_QUESTIONS)
    body = f"name: ci\nruns:\n  - {{task: raven, limit: 4, data_dir: '{bundled_sample('raven')}'}}\n"
    suite = write_suite(tmp_path, body + "  - {task: vqav2, split: val}\n")
    args = ["run", "--suite", str(suite), "--model", "chance", "--data-dir", str(data), "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.startswith(("raven ", "vqav2 "))}
    assert "(bundled sample)" in rows["raven"] and "(test-dev only)" in rows["vqav2"]
