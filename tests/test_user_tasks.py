"""Tasks declared as data: one YAML file plus its data, in a folder outside the package (tasks/user_tasks.py,
tasks/declarative.py). Every fixture is written here (tiny Pillow images), in tmp folders."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from kosmos_eval.config import RunConfig
from kosmos_eval.core.registry import TASKS
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks import user_tasks
from kosmos_eval.tasks.user_tasks import include_task_paths, remove_tasks
from tests.backends import ScriptedBackend, ScriptedRanker

SHAPES = [("circle", "yes"), ("square", "no"), ("circle", "no"), ("triangle", "yes"), ("circle", "yes")]

PROBE = {
    "task": "shape_probe",
    "description": "Is there a circle in the picture? ranked yes / no",
    "kind": "rank",
    "data": {"files": {"test": "probe.jsonl"}, "id": "qid", "images": {"image": "image"}},
    "choices": ["yes", "no"],
    "label": "answer",
    "query": [{"image": "image"}, {"text": "Question: is there a {shape} in this picture? Answer:"}],
}


@pytest.fixture(autouse=True)
def _forget_user_tasks(monkeypatch):
    """No user task outlives its test (other tests list every registered task)."""
    monkeypatch.delenv(user_tasks.TASKS_ENV, raising=False)
    yield
    monkeypatch.delenv(user_tasks.TASKS_ENV, raising=False)  # a test may have set it (to a broken file, even)
    remove_tasks([name for name in TASKS.names() if TASKS.user_source(name)])


def write_image(path: Path, colour: tuple[int, int, int]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 12), colour).save(path)
    return path.name


def write_yaml(path: Path, spec: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def write_probe(folder: Path, spec: dict | None = None, rows: list[dict] | None = None) -> Path:
    """The yes/no image probe: probe.yaml + probe.jsonl + images/ (what a user writes); returns the folder."""
    if rows is None:
        rows = []
        for index, (shape, answer) in enumerate(SHAPES):
            write_image(folder / "images" / f"{index}.png", (40 * index, 90, 200))
            rows.append({"qid": f"q{index}", "image": f"images/{index}.png", "shape": shape, "answer": answer})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    write_yaml(folder / "probe.yaml", spec or PROBE)
    return folder


def records_of(outcome) -> list[dict]:
    return [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]


def run(task: str, output: Path, backend=None, **config) -> object:
    name = "chance" if backend is None else "scripted"
    return evaluate(RunConfig(task=task, backend=name, output_dir=str(output), **config), backend, progress=False)


# --- ranked ---------------------------------------------------------------------------------------------------


def test_a_ranked_image_probe_runs_on_the_chance_baseline(tmp_path) -> None:
    folder = write_probe(tmp_path / "my_tasks")
    assert sorted(p.name for p in folder.iterdir()) == ["images", "probe.jsonl", "probe.yaml"]  # all it needs
    assert include_task_paths([folder]) == ["shape_probe"]
    outcome = run("shape_probe", tmp_path / "runs")
    records = records_of(outcome)
    assert [r["id"] for r in records] == [f"q{i}" for i in range(5)]
    gold = [0 if answer == "yes" else 1 for _, answer in SHAPES]
    assert [r["label"] for r in records] == gold and all(r["options"] == [" yes", " no"] for r in records)
    for record in records:
        assert record["correct"] == (record["prediction"] == record["label"])
        assert record["prompt"].startswith("<image1>Question: is there a ")
    accuracy = outcome.metrics["accuracy"]
    assert accuracy.value == sum(r["correct"] for r in records) / 5 and accuracy.n == 5
    summary = outcome.summary
    assert summary["family"] == "user task" and summary["split"] == "test"
    assert summary["data"]["origin"] == f"the task file's folder ({folder})"  # where the rows came from
    assert summary["paper_setting"] is False and "user task" in summary["why_not_paper_setting"][0]
    assert any("not a task of the KOSMOS-1 paper" in note for note in summary["notes"])
    from kosmos_eval.reporting.paper import reference

    assert reference("shape_probe", "accuracy", 0, split="test") is None
    # --data-dir names the folder explicitly: the same examples, another identity (the data folder is in it)
    again = run("shape_probe", tmp_path / "runs", data_dir=str(folder))
    assert [r["prediction"] for r in records_of(again)] == [r["prediction"] for r in records]


def test_the_ranked_probe_on_the_tiny_kosmos2_records_log_probs_and_takes_their_argmax(tmp_path, kosmos2_backend):
    include_task_paths([write_probe(tmp_path / "my_tasks")])
    config = RunConfig(task="shape_probe", backend="hf", output_dir=str(tmp_path / "runs"))
    outcome = evaluate(config, backend=kosmos2_backend, progress=False)
    task = TASKS.get("shape_probe")()
    examples = {e.id: e for e in task.load("test", None)}
    for record in records_of(outcome):
        logprobs = record["logprobs"]
        assert len(logprobs) == 2 and all(math.isfinite(lp) and lp < 0 for lp in logprobs)
        if not record["ties"]:
            assert record["prediction"] == max(range(2), key=lambda i: logprobs[i])
        (direct,) = kosmos2_backend.rank(task.build(examples[record["id"]], []))
        assert logprobs == pytest.approx(list(direct.logprobs), abs=1e-4)


def test_per_example_options_from_a_csv_file(tmp_path) -> None:
    folder = tmp_path / "quiz"
    rows = [
        ("a", '["red", "green", "blue"]', "blue"),
        ("b", '["cat", "dog"]', "1"),  # an index
        ("c", '["one", "two", "three", "four"]', "two"),
    ]
    folder.mkdir()
    with (folder / "quiz.csv").open("w", newline="") as handle:  # the options: a JSON list in one cell
        csv.writer(handle).writerows(
            [("id", "question", "options", "gold"), *((i, "What is it?", o, g) for i, o, g in rows)]
        )
    spec = {
        "task": "text_quiz",
        "kind": "rank",
        "data": {"files": {"test": "quiz.csv"}, "id": "id"},
        "choices_field": "options",
        "label": "gold",
        "metrics": ["accuracy", "accuracy_norm"],
        "query": [{"text": "{question} Answer:"}],
    }
    include_task_paths([write_yaml(folder / "quiz.yaml", spec)])
    # the scripted model prefers the longest option: " green" on a and " three" on c (both wrong), b a tie
    ranker = ScriptedRanker(lambda request, option: float(len(option)))
    outcome = run("text_quiz", tmp_path / "runs", ranker)
    records = {r["id"]: r for r in records_of(outcome)}
    assert records["a"]["options"] == [" red", " green", " blue"] and records["a"]["label"] == 2
    assert records["b"]["options"] == [" cat", " dog"] and records["b"]["label"] == 1
    assert [records[k]["prediction"] for k in "abc"] == [1, records["b"]["prediction"], 2]
    assert records["b"]["ties"] == [0, 1]  # " cat" and " dog" tie: a seeded draw, never the first by position
    expected = (records["b"]["prediction"] == 1) / 3
    assert outcome.metrics["accuracy"].value == pytest.approx(expected)
    assert list(outcome.metrics) == ["accuracy", "accuracy_norm"]


def test_a_parquet_file_with_image_bytes(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def png(colour: tuple[int, int, int]) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
        return buffer.getvalue()

    folder = tmp_path / "colours"
    folder.mkdir()
    table = pa.table(
        {
            "picture": [{"bytes": png((255, 0, 0)), "path": None}, {"bytes": png((0, 0, 255)), "path": None}],
            "colour": ["red", "blue"],
        }
    )
    pq.write_table(table, folder / "test.parquet")
    spec = {
        "task": "colour_names",
        "kind": "rank",
        "data": {"files": {"test": "test.parquet"}, "images": {"picture": "picture"}, "fields": {}},
        "choices": ["red", "green", "blue"],
        "label": "colour",
        "end_of_sequence": True,
        "query": [{"image": "picture"}, {"text": "The colour is"}],
    }
    include_task_paths([write_yaml(folder / "colours.yaml", spec)])
    task = TASKS.get("colour_names")()
    examples = task.load("test", None)
    assert [e.id for e in examples] == ["0", "1"] and [e.fields["label"] for e in examples] == [0, 2]
    assert examples[1].image("picture").load().getpixel((0, 0)) == (0, 0, 255)
    (request,) = task.build(examples[0], [])
    assert request.end_of_sequence and request.continuations == (" red", " green", " blue")
    outcome = run("colour_names", tmp_path / "runs")
    assert outcome.summary["n"] == 2


# --- generated ------------------------------------------------------------------------------------------------

VQA_ROWS = [  # question, ten answers, what the scripted model says, its VQA accuracy
    ("is it sunny?", ["yes"] * 10, "Yes.\nQuestion: and now?", 1.0),
    ("how many dogs?", ["2"] * 3 + ["3"] * 7, "two", 0.9),  # "two" -> "2": 3 of 10 agree
    ("what colour?", ["red"] + ["blue"] * 9, "red", 0.3),  # 1 of 10 agrees
    ("where?", ["park"] * 10, "green", 0.0),
]

VQA = {
    "task": "my_vqa",
    "kind": "generate",
    "data": {
        "files": {"test": "questions.jsonl", "train": "train.jsonl"},
        "demo_split": "train",
        "id": "question_id",
        "images": {"image": "image"},
        "fields": {"question": "question", "kind": "kind"},
    },
    "shots": [0, 2],
    "references": "answers",
    "metrics": ["vqa_accuracy", "exact_match"],
    "postprocess": "vqa",
    "breakdowns": ["kind"],
    "demo": [{"image": "image"}, {"text": "Question: {question} Answer: {answer}"}],
    "query": [{"image": "image"}, {"text": "Question: {question} Answer:"}],
    "decoding": {"max_new_tokens": 10, "stop": ["\n"]},
}


def write_vqa(folder: Path) -> Path:
    write_image(folder / "img" / "a.png", (1, 2, 3))
    test = [
        {"question_id": i, "image": "img/a.png", "question": q, "answers": a, "kind": "yes/no" if i == 0 else "other"}
        for i, (q, a, _, _) in enumerate(VQA_ROWS)
    ]
    train = [
        {
            "question_id": 100 + i,
            "image": "img/a.png",
            "question": f"demo {i}?",
            "answers": ["x", "y", "y"],
            "kind": "d",
        }
        for i in range(3)
    ]
    (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    write_yaml(folder / "my_vqa.yaml", VQA)
    return folder


def test_a_vqa_style_task_is_scored_with_vqa_accuracy(tmp_path) -> None:
    include_task_paths([write_vqa(tmp_path / "vqa")])
    said = {q: answer for q, _, answer, _ in VQA_ROWS}
    backend = ScriptedBackend(lambda request: next(a for q, a in said.items() if q in request.context.text))
    outcome = run("my_vqa", tmp_path / "runs", backend)
    records = records_of(outcome)
    assert [r["vqa_accuracy"] for r in records] == pytest.approx([row[3] for row in VQA_ROWS])
    assert [r["prediction"] for r in records] == ["yes", "2", "red", "green"]
    assert outcome.metrics["vqa_accuracy"].value == pytest.approx(0.55)  # (1 + 0.9 + 0.3 + 0) / 4
    assert outcome.metrics["exact_match"].value == pytest.approx(0.75)  # best reference: all but "green"
    assert outcome.scores.breakdowns["kind"]["yes/no"] == {"value": 1.0, "n": 1}
    assert backend.requests[0].max_new_tokens == 10 and backend.requests[0].stop == ("\n",)
    # two shots: demos from the train split, each showing its most common answer
    backend.requests.clear()
    run("my_vqa", tmp_path / "runs", backend, shots=2)
    prompts = sorted(request.context.render() for request in backend.requests)
    assert len(prompts) == 4 and all(p.count("Answer: y<image") == 2 and p.endswith("? Answer:") for p in prompts)


def test_user_tasks_come_from_the_environment_and_show_in_list(tmp_path, monkeypatch) -> None:
    from kosmos_eval.cli import app

    folder = write_probe(tmp_path / "probe")
    write_vqa(tmp_path / "vqa")
    assert "shape_probe" not in TASKS
    monkeypatch.setenv(user_tasks.TASKS_ENV, f"{folder}:{tmp_path / 'vqa'}")
    assert {"shape_probe", "my_vqa"} <= set(TASKS.names())
    assert TASKS.user_source("shape_probe") == str(folder.resolve() / "probe.yaml")
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if row.startswith("shape_probe"))
    assert "accuracy" in line and "found" in line
    assert "none: a user task" in line  # no paper setting
    monkeypatch.setenv(user_tasks.TASKS_ENV, str(tmp_path / "vqa"))
    assert "shape_probe" not in TASKS and "my_vqa" in TASKS  # read again when the value changes


# --- refusals -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image", ["../outside.png", "/etc/passwd", "images/../../outside.png"])
def test_image_paths_that_leave_the_data_folder_are_refused(tmp_path, image) -> None:
    write_image(tmp_path / "outside.png", (0, 0, 0))
    rows = [{"qid": "q0", "image": image, "shape": "circle", "answer": "yes"}]
    include_task_paths([write_probe(tmp_path / "probe", rows=rows)])
    with pytest.raises(DataError, match=r"probe.jsonl row 0: field 'image' must be"):
        run("shape_probe", tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_data_file_outside_the_folder_is_refused(tmp_path) -> None:
    spec = {**PROBE, "data": {**PROBE["data"], "files": {"test": "../probe.jsonl"}}}
    include_task_paths([write_probe(tmp_path / "probe", spec)])
    with pytest.raises(DataError, match=r"probe.yaml: field 'data.files.test' must be a path inside"):
        TASKS.get("shape_probe")().load("test", None)


@pytest.mark.parametrize("name, what", [("vqav2", "task"), ("raven", "task"), ("kosmos1", "suite")])
def test_a_name_of_a_built_in_is_refused(tmp_path, name, what) -> None:
    folder = write_probe(tmp_path / "probe", {**PROBE, "task": name})
    with pytest.raises(UserError, match=rf"probe.yaml: field 'task': '{name}' is the name of a built-in {what}"):
        include_task_paths([folder])
    assert TASKS.user_source(name) is None and TASKS.get("vqav2").family == "perception-language"


def test_two_files_declaring_one_name_are_refused(tmp_path) -> None:
    folder = write_probe(tmp_path / "probe")
    write_yaml(folder / "copy" / "again.yaml", PROBE)
    with pytest.raises(
        UserError, match=r"(probe|again).yaml: field 'task': 'shape_probe' is also declared by .*(again|probe).yaml$"
    ):
        include_task_paths([folder])
    assert "shape_probe" not in TASKS  # nothing of a bad folder is registered


BAD_FIELDS = [
    ({"kind": "rnak"}, "kind"),
    ({"task": "Shape Probe"}, "task"),
    ({"choises": ["yes", "no"]}, "choises"),  # a typo: one line, with the close name
    ({"metrics": ["cider"]}, "metrics"),
    ({"shots": [0, 2]}, "shots"),  # no demo split, no demo layout
    ({"label": None}, "label"),
    ({"choices_field": "options"}, "choices"),  # both choices and choices_field
    ({"option": " {answer}"}, "option"),
    ({"data": {"files": {"test": "probe.txt"}}}, "data.files.test"),
    ({"data": {"files": {"test": "probe.jsonl"}, "demo_split": "train"}}, "data.demo_split"),
    ({"data": {"files": {"test": "probe.jsonl"}, "fields": {"label": "answer"}}}, "data.fields.label"),
    ({"data": {"hub": {"id": "no-owner", "splits": {"test": "test"}}}}, "data.hub.id"),
    ({"query": [{"txt": "Answer:"}]}, "query[1]"),
    ({"query": [{"image": "photo"}]}, "query[1].image"),
    ({"references": "answers"}, "references"),  # a generation setting in a ranking task
]


@pytest.mark.parametrize("change, field", BAD_FIELDS)
def test_a_bad_field_is_one_line_naming_the_file_and_the_field(tmp_path, change, field) -> None:
    spec = {**PROBE, **change}
    spec = {key: value for key, value in spec.items() if value is not None}
    folder = write_probe(tmp_path / "probe", spec)
    with pytest.raises(UserError) as error:
        include_task_paths([folder])
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{folder.resolve() / 'probe.yaml'}: field '{field}'")


def test_a_bad_decoding_setting_names_the_file(tmp_path) -> None:
    spec = {**VQA, "decoding": {"max_new_tokens": 5, "beams": 2}}
    path = write_yaml(tmp_path / "vqa" / "my_vqa.yaml", spec)
    with pytest.raises(UserError, match=rf"^{path}: decoding.beams is not a decoding setting"):
        include_task_paths([path])


def test_a_yaml_file_without_a_task_key_is_left_alone(tmp_path) -> None:
    folder = write_probe(tmp_path / "probe")
    write_yaml(folder / "suite.yaml", {"name": "mine", "runs": [{"task": "shape_probe"}]})
    assert include_task_paths([folder]) == ["shape_probe"]
    with pytest.raises(UserError, match=r"--include-path .*nowhere: no such file or folder"):
        include_task_paths([tmp_path / "nowhere"])


# --- reading runs back ----------------------------------------------------------------------------------------


def test_reports_and_leaderboards_show_user_task_runs_without_a_paper_number(tmp_path) -> None:
    from kosmos_eval.reporting.leaderboard import leaderboard
    from kosmos_eval.reporting.paper import paper_numbers
    from kosmos_eval.reporting.report import build_report
    from kosmos_eval.reporting.runs import find_runs

    include_task_paths([write_probe(tmp_path / "probe")])
    run("shape_probe", tmp_path / "runs")
    for registered in (True, False):  # known to this process, or a run folder from someone else's task
        if not registered:
            remove_tasks(["shape_probe"])
        runs = find_runs([tmp_path / "runs"])
        table = leaderboard(runs, paper_numbers())
        rows = table[table["task"] == "shape_probe"]
        assert list(rows["source"]) == ["other setting"]  # a user task is in no paper setting
        assert (table["source"] == "paper").sum() == 0
        html = build_report(runs)
        assert "shape_probe" in html


def test_include_path_adds_a_folder_of_tasks_to_the_command_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    folder = write_probe(tmp_path / "my_tasks")
    runner = CliRunner()
    listed = runner.invoke(app, ["list", "--include-path", str(folder)])
    assert listed.exit_code == 0, listed.output
    assert any(line.startswith("shape_probe ") and "user task" in line for line in listed.stdout.splitlines())
    result = runner.invoke(
        app, ["run", "shape_probe", "--include-path", str(folder), "--model", "chance", "--output", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "shape_probe | chance | 0-shot" in result.stdout
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.yaml").write_text("task: Bad Name\n")
    refused = runner.invoke(app, ["list", "--include-path", str(broken)])
    assert refused.exit_code == 2 and refused.output.count("\n") == 1 and "bad.yaml" in refused.output
