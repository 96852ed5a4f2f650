"""Any setting, labelled: `--shots N` for any N the demo pool holds, `--gen-kwargs` over a template's decoding,
a comma list of tasks; a run outside the paper's settings says so in its summary, in `leaderboard` and `report`,
and is never set beside the paper's number. Existing run folders keep their identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig, parse_gen_kwargs
from kosmos_eval.errors import UserError
from kosmos_eval.generators.vqa import write_vqav2
from kosmos_eval.reporting.leaderboard import leaderboard
from kosmos_eval.reporting.paper import paper_numbers
from kosmos_eval.reporting.report import build_report
from kosmos_eval.reporting.runs import find_runs, load_run
from kosmos_eval.runner.run import evaluate
from tests.backends import ScriptedBackend

runner = CliRunner()
QUESTIONS = [("how many dogs?", ["2"] * 10, "number"), ("what color?", ["red"] * 10, "other")]


def run_cli(*args: str):
    return runner.invoke(app, list(args))


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [row for row in result.output.splitlines() if row.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def only_folder(root: Path, task: str) -> Path:
    (folder,) = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(task)]
    return folder


@pytest.mark.parametrize(
    ("task", "flag", "shots", "paper"),
    [("vqav2", "--shots", 3, "0, 2, 4, 8"), ("hellaswag", "--num_fewshot", 2, "0, 1, 4")],
)
def test_shots_outside_the_paper_run_with_that_many_demos_and_say_so(tmp_path, task, flag, shots, paper):
    result = run_cli("run", task, "--sample", "--model", "chance", flag, str(shots), "--limit", "4",
                     "--output", str(tmp_path), "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    folder = only_folder(tmp_path, task)
    assert [len(r["demo_ids"]) for r in records(folder)] == [shots] * 4
    written = summary(folder)
    assert written["shots"] == shots and written["paper_setting"] is False
    assert written["why_not_paper_setting"] == [f"--shots {shots}, where the paper reports {paper}"]
    assert "gen_kwargs" not in written and "gen_kwargs" not in written["identity"]
    note = f"note: setting: not one the paper reports (--shots {shots}, where the paper reports {paper})"
    assert note in result.output


def test_a_paper_setting_is_labelled_as_one(tmp_path):
    result = run_cli("run", "hellaswag", "--sample", "--model", "chance", "--num-fewshot", "1", "--limit", "2",
                     "--output", str(tmp_path), "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    written = summary(only_folder(tmp_path, "hellaswag"))
    assert written["paper_setting"] is True and "why_not_paper_setting" not in written
    assert not any(note.startswith("setting:") for note in written["notes"])


def vqa_run(root: Path, data: Path, **gen_kwargs: float) -> tuple[Path, ScriptedBackend]:
    backend = ScriptedBackend(lambda request: "2")
    config = RunConfig(task="vqav2", backend="scripted", split="val", data_dir=str(data), output_dir=str(root),
                       gen_kwargs=gen_kwargs)  # fmt: skip
    return evaluate(config, backend=backend, progress=False).run_dir, backend


def test_gen_kwargs_reach_the_backend_and_are_identity_summary_and_label(tmp_path):
    data = tmp_path / "vqav2"
    write_vqav2(data, "val", QUESTIONS)
    plain, template = vqa_run(tmp_path / "runs", data)
    changed, given = vqa_run(tmp_path / "runs", data, max_new_tokens=2)
    # the template's decoding (prompts/vqav2.yaml: greedy, 10 tokens), then max_new_tokens laid over it
    assert [(r.max_new_tokens, r.num_beams) for r in template.requests] == [(10, 1), (10, 1)]
    assert [(r.max_new_tokens, r.num_beams) for r in given.requests] == [(2, 1), (2, 1)]
    assert [r.stop for r in given.requests] == [r.stop for r in template.requests]  # stops stay the template's
    assert plain != changed  # another identity, another run folder
    written = summary(changed)
    assert written["identity"]["gen_kwargs"] == {"max_new_tokens": 2} and written["gen_kwargs"] == {"max_new_tokens": 2}
    assert written["paper_setting"] is False
    assert written["why_not_paper_setting"] == ["--gen-kwargs max_new_tokens=2, where the paper decodes as "
                                                "prompts/vqav2.yaml says"]  # fmt: skip
    assert summary(plain)["paper_setting"] is True and "gen_kwargs" not in summary(plain)["identity"]
    runs = {run.path: run for run in find_runs([tmp_path / "runs"])}
    assert runs[changed].gen_kwargs == {"max_new_tokens": 2} and not runs[changed].paper_setting
    assert runs[plain].identity_hash != runs[changed].identity_hash and runs[plain].paper_setting
    assert "(not a paper setting)" in runs[changed].label

    table = leaderboard(list(runs.values()), paper_numbers())
    sources = dict(zip(table["run_dir"], table["source"], strict=False))
    assert sources[str(plain)] == "run" and sources[str(changed)] == "other setting"


def test_a_length_penalty_reaches_the_backend_and_is_identity_and_summary(tmp_path):
    data = tmp_path / "vqav2"
    write_vqav2(data, "val", QUESTIONS)
    _, plain = vqa_run(tmp_path / "runs", data, num_beams=3)
    changed, given = vqa_run(tmp_path / "runs", data, num_beams=3, length_penalty=2.0)
    assert [r.length_penalty for r in plain.requests] == [None, None]  # none given: the generation config's
    assert [(r.num_beams, r.length_penalty) for r in given.requests] == [(3, 2.0), (3, 2.0)]
    written = summary(changed)
    assert written["identity"]["gen_kwargs"] == written["gen_kwargs"] == {"length_penalty": 2.0, "num_beams": 3}
    assert written["why_not_paper_setting"] == ["--gen-kwargs length_penalty=2.0,num_beams=3, where the paper "
                                                "decodes as prompts/vqav2.yaml says"]  # fmt: skip
    assert parse_gen_kwargs("num_beams=3,length_penalty=0") == {"num_beams": 3, "length_penalty": 0.0}


def test_a_run_outside_the_paper_brings_no_paper_rows_and_no_paper_number(tmp_path):
    data = tmp_path / "vqav2"
    write_vqav2(data, "val", QUESTIONS)
    write_vqav2(data, "test-dev", QUESTIONS)
    changed, _ = vqa_run(tmp_path / "runs", data, num_beams=3)
    config = RunConfig(task="vqav2", backend="scripted", split="test-dev", data_dir=str(data),
                       output_dir=str(tmp_path / "runs"), gen_kwargs={"num_beams": 3})  # fmt: skip
    on_paper_split = evaluate(config, backend=ScriptedBackend(lambda r: "2"), progress=False).run_dir
    runs = find_runs([tmp_path / "runs"])
    table = leaderboard(runs, paper_numbers())
    assert set(table["source"]) == {"other setting"}  # no "paper" rows for a task run only outside the paper
    html = build_report([load_run(on_paper_split)])
    assert '<td class="paper num">other setting</td>' in html and "(not a paper setting)" in html
    assert '<td class="delta num"></td>' in html
    assert changed != on_paper_split


def test_an_identity_without_gen_kwargs_is_unchanged():
    """Run folders made before --gen-kwargs existed must keep their names (and so resume)."""
    config = RunConfig(task="vqav2", backend="chance", shots=2)
    identity = config.identity("pppppppp", "val")
    assert identity == {
        "task": "vqav2", "split": "val", "shots": 2, "seed": 1234, "backend": "chance", "model_args": {},
        "data_dir": None, "task_options": {}, "prompt_hash": "pppppppp", "sampler": "random",
    }  # fmt: skip
    assert RunConfig.identity_hash(identity) == "cff74bdd4f"
    sample = RunConfig(task="raven", backend="chance").identity("pppppppp", "test", on_sample=True)
    assert RunConfig.identity_hash(sample) == "a58e16ce67"
    tuned = RunConfig(task="vqav2", backend="chance", shots=2, gen_kwargs={"num_beams": 3, "max_new_tokens": 5})
    assert tuned.identity("pppppppp", "val") == {**identity, "gen_kwargs": {"max_new_tokens": 5, "num_beams": 3}}


def test_a_task_list_runs_every_task_and_prints_each_result(tmp_path):
    result = run_cli("run", "raven,vqav2", "--sample", "--model", "chance", "--output", str(tmp_path), "--no-progress")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "suite raven,vqav2: 2 runs"
    rows = {line.split()[0]: line for line in lines if line.startswith(("raven ", "vqav2 "))}
    assert set(rows) == {"raven", "vqav2"}
    assert only_folder(tmp_path, "raven").name in rows["raven"] and only_folder(tmp_path, "vqav2").name in rows["vqav2"]
    assert f"run folders: under {tmp_path}/" in lines
    assert summary(only_folder(tmp_path, "raven"))["n"] == 50 and summary(only_folder(tmp_path, "vqav2"))["n"] == 9


def test_a_task_list_gives_gen_kwargs_to_the_tasks_that_generate(tmp_path):
    result = run_cli("run", "--tasks", "raven,vqav2", "--sample", "--model", "chance", "--limit", "2",
                     "--gen_kwargs", "max_new_tokens=3", "--output", str(tmp_path), "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "suite raven,vqav2: --gen-kwargs left out for raven (they rank, not generate)" in result.output
    assert summary(only_folder(tmp_path, "raven"))["paper_setting"] is True
    vqa = summary(only_folder(tmp_path, "vqav2"))
    assert vqa["gen_kwargs"] == {"max_new_tokens": 3} and vqa["paper_setting"] is False
    assert "(other setting)" in next(line for line in result.output.splitlines() if line.startswith("vqav2 "))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vqav2", "--shots", "13"], "--shots 13: the demonstration pool of 'vqav2' (train) holds 12 usable examples"),
        (["winograd", "--shots", "10"], "the demonstration pool of 'winograd' (test) holds 9 usable examples"),
        (["raven", "--shots", "3"], "Task 'raven' has no demonstration pool to draw from"),
        (["vqav2", "--gen-kwargs", "beams=2"], "--gen-kwargs: unknown key 'beams' (known: max_new_tokens, num_beams,"),
        (["vqav2", "--gen-kwargs", "num_beams=two"], "--gen-kwargs num_beams must be a whole number of at least 1"),
        (["vqav2", "--gen-kwargs", "temperature=0.7"], "--gen-kwargs temperature=0.7 is not supported"),
        (["vqav2", "--gen-kwargs", "length_penalty=2"], "length_penalty changes only beam search and 'vqav2' decodes"),
        (["vqav2", "--gen-kwargs", "num_beams=1,length_penalty=2"], "'vqav2' decodes greedily"),
        (["vqav2", "--gen-kwargs", "num_beams=2,length_penalty=inf"], "length_penalty must be a finite number"),
        (["vqav2", "--gen-kwargs", "num_beams=2,length_penalty=x"], "length_penalty must be a finite number"),
        (["raven", "--gen-kwargs", "num_beams=2"], "Task 'raven' ranks answer candidates and generates no text"),
        (
            ["vqav2", "--gen-kwargs", "max_new_tokens=3", "--task-option", "max_new_tokens=4"],
            "max_new_tokens is given twice",
        ),
        (["raven,vqa2"], "in the task list 'raven,vqa2': Unknown task 'vqa2'. Did you mean 'vqav2'?"),
        (["raven,raven"], "the task list 'raven,raven' repeats a task"),
        # the largest setting is checked against the pool before the 1-shot run is computed
        (["storycloze", "--shots", "1,30"], "--shots 30: the demonstration pool of 'storycloze' (validation) holds 9"),
    ],
)
def test_bad_settings_are_one_line(tmp_path, args, message):
    result = run_cli("run", *args, "--sample", "--model", "chance", "--output", str(tmp_path / "o"))
    assert message in one_line_error(result)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())  # refused before any run folder


def test_gen_kwargs_that_ask_for_the_protocol_anyway_are_no_ops():
    """lm-eval commands often carry do_sample=false / temperature=0: what greedy decoding does already."""
    assert parse_gen_kwargs("do_sample=False,temperature=0,num_beams=2") == {"num_beams": 2}
    assert parse_gen_kwargs(None) == {}
    with pytest.raises(UserError, match="'num_beams' is given twice"):
        parse_gen_kwargs("num_beams=2,num_beams=3")


def test_rescoring_keeps_what_the_runner_said_about_the_setting_and_the_data(tmp_path):
    """`kosmos-eval score` changes the numbers, not what was run on what: the setting note of a run outside the
    paper's settings, and a sample's notes (its own answers for a withheld split), survive re-scoring."""
    from kosmos_eval.data.locate import SAMPLE_NOTE, WITHHELD_NOTE
    from kosmos_eval.reporting.rescore import rescore

    raven = evaluate(RunConfig(task="raven", backend="chance", sample=True, output_dir=str(tmp_path)), progress=False)
    config = RunConfig(task="vqav2", backend="chance", sample=True, shots=3, output_dir=str(tmp_path))
    vqa = evaluate(config, progress=False)
    for outcome in (raven, vqa):
        before = outcome.summary["notes"]
        _, run = rescore(outcome.run_dir)
        runner_notes = [note for note in before if note.startswith(("data: ", "answers: ", "setting: "))]
        assert runner_notes and run.summary["notes"][: len(runner_notes)] == runner_notes
    _, run = rescore(vqa.run_dir)
    assert run.summary["notes"][:3] == [
        SAMPLE_NOTE,
        WITHHELD_NOTE.format(split="test-dev"),
        "setting: not one the paper reports (--shots 3, where the paper reports 0, 2, 4, 8), so not compared with it",
    ]
