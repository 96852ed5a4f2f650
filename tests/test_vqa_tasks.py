"""VQAv2 and VizWiz end to end: exact VQA accuracy of a scripted model with breakdowns, the server
submission for test-dev, few-shot demos from the training split (rendered prompt snapshot), VizWiz
unanswerability, score-predictions with the official files, and tiny hf models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.generators.vqa import write_vizwiz, write_vqav2
from kosmos_eval.metrics.vqa import vqa_accuracy
from kosmos_eval.runner.run import evaluate
from tests.backends import ScriptedBackend

SNAPSHOT = Path(__file__).parent / "snapshots" / "vqa_prompts.txt"
TEN = 10

VAL = [
    ("What color is the bus?", ["red"] * TEN, "other"),  # "Red." -> "red" by our post-processing: 1.0
    ("How many dogs are there?", ["2"] * 2 + ["3"] * 8, "number"),  # "two" -> "2", 2 of 10 match: 0.6
    ("Is it raining?", ["no"] * TEN, "yes/no"),  # "yes": 0
]
ANSWERS = {
    "What color is the bus?": " Red.",
    "How many dogs are there?": " two\nQuestion: more",
    "Is it raining?": "yes",
}
TRAIN = [
    ("What is on the plate?", ["rice"] * 6 + ["food"] * 4, "other"),
    ("Is the cat asleep?", ["yes"] * TEN, "yes/no"),
    ("How many kites?", ["4"] * 7 + ["four"] * 3, "number"),
]


def question_of(request) -> str:
    text = request.context.text
    return text[text.rindex("Question: ") + len("Question: ") : text.rindex(" Answer:")]


@pytest.fixture
def vqav2_dir(tmp_path) -> Path:
    root = tmp_path / "vqav2"
    write_vqav2(root, "val", VAL, first_image=1)
    write_vqav2(root, "train", TRAIN, first_image=50)
    write_vqav2(root, "test-dev", VAL[:2], first_image=90)
    return root


def run(task: str, data: Path, out: Path, backend, **overrides):
    config = RunConfig(task=task, backend="scripted", data_dir=str(data), output_dir=str(out), **overrides)
    return evaluate(config, backend=backend, progress=False)


def test_vqav2_val_accuracy_and_breakdowns_are_exact(vqav2_dir, tmp_path) -> None:
    backend = ScriptedBackend(lambda r: ANSWERS[question_of(r)])
    outcome = run("vqav2", vqav2_dir, tmp_path / "runs", backend, split="val")
    assert outcome.metrics["accuracy"].value == pytest.approx((1.0 + 0.6 + 0.0) / 3)
    by_type = outcome.summary["breakdowns"]["answer_type"]
    assert by_type == {
        "number": {"value": pytest.approx(0.6), "n": 1},
        "other": {"value": 1.0, "n": 1},
        "yes/no": {"value": 0.0, "n": 1},
    }
    records = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    # generated answers are cut and given the official normalisation before they are scored or submitted
    assert [r["prediction"] for r in records] == ["red", "2", "yes"]
    assert all(r.max_new_tokens == 10 and r.num_beams == 1 for r in backend.requests)


def test_vqav2_test_dev_writes_the_server_submission(vqav2_dir, tmp_path) -> None:
    outcome = run("vqav2", vqav2_dir, tmp_path / "runs", ScriptedBackend(lambda r: "yes"))
    assert outcome.summary["split"] == "test-dev" and outcome.metrics == {}
    assert any("evaluation server" in note for note in outcome.summary["notes"])
    (path,) = outcome.summary["exports"].values()
    assert json.loads(Path(path).read_text()) == [
        {"question_id": 900, "answer": "yes"},
        {"question_id": 910, "answer": "yes"},
    ]


@pytest.mark.parametrize(("task", "split", "questions"), [("vqav2", "test-dev", 9), ("vizwiz", "test", 8)])
def test_the_sample_scores_its_default_split_with_answers_of_its_own_and_says_so(task, split, questions, tmp_path):
    """The real test-dev/test answers are withheld; the bundled sample carries its own, named in its marker, so
    the README's first VQA command shows a score. The note says whose answers they are, the submission file is
    still written, and answer-less real data still gets only the server's note (test above)."""
    from kosmos_eval.data.locate import WITHHELD_NOTE

    outcome = evaluate(RunConfig(task=task, backend="chance", sample=True, output_dir=str(tmp_path)), progress=False)
    assert (outcome.summary["split"], outcome.summary["n"]) == (split, questions)
    accuracy = outcome.metrics["accuracy"]
    assert accuracy.ci_low is not None and accuracy.ci_low <= accuracy.value <= accuracy.ci_high
    assert WITHHELD_NOTE.format(split=split) in outcome.summary["notes"]
    assert not any("no public answers" in note for note in outcome.summary["notes"])
    (path,) = outcome.summary["exports"].values()
    assert len(json.loads(Path(path).read_text())) == questions
    # scored against ten human-style answers per question, as the official files give them
    records = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    assert all(len(record["answers"]) == TEN for record in records)


def test_a_changed_sample_is_a_new_run_never_resumed_from_the_old_records(tmp_path) -> None:
    """A run on a sample keeps the sample's digest in its identity: an upgrade that changes the sample (as adding
    test-dev answers did) starts a new folder instead of resuming records scored against the old one."""
    import shutil

    from kosmos_eval.data.locate import bundled_sample

    copy = tmp_path / "vqav2"
    shutil.copytree(bundled_sample("vqav2"), copy)  # a copy of the sample is still the sample (its marker)

    def folder() -> Path:
        config = RunConfig(task="vqav2", backend="chance", data_dir=str(copy), output_dir=str(tmp_path / "runs"))
        outcome = evaluate(config, progress=False)
        assert outcome.summary["data"]["origin"] == "bundled sample"
        return outcome.run_dir

    first = folder()
    assert folder() == first  # unchanged: resumed
    annotations = copy / "v2_mscoco_test-dev2015_annotations.json"
    annotations.write_text(annotations.read_text().replace('"answer": "', '"answer": "x', 1))
    assert folder() != first


def test_few_shot_demos_come_from_train_and_render_as_the_snapshot(vqav2_dir, tmp_path) -> None:
    backend = ScriptedBackend(lambda r: "yes")
    outcome = run("vqav2", vqav2_dir, tmp_path / "runs", backend, split="val", shots=2)
    records = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    train_ids = {"500", "510", "520"}
    for record in records:
        assert len(record["demo_ids"]) == 2 and set(record["demo_ids"]) <= train_ids
        assert len(record["images"]) == 3
    text = "\n".join(f"{r['id']}: {r['prompt']}" for r in records) + "\n"
    assert text == SNAPSHOT.read_text(), "prompt changed: review the diff, then update tests/snapshots"
    # demos are the query's own: a rerun with another batch size draws the same ones
    again = run(
        "vqav2", vqav2_dir, tmp_path / "again", ScriptedBackend(lambda r: "yes"), split="val", shots=2, batch_size=1
    )
    rerun = [json.loads(line) for line in (again.run_dir / "samples.jsonl").read_text().splitlines()]
    assert [r["demo_ids"] for r in rerun] == [r["demo_ids"] for r in records]


def test_a_resumed_few_shot_run_equals_an_uninterrupted_one(vqav2_dir, tmp_path) -> None:
    def answer(request) -> str:  # depends on the whole prompt, demos included
        return ["yes", "no", "2", "red"][len(request.context.text) % 4]

    full = run("vqav2", vqav2_dir, tmp_path / "full", ScriptedBackend(answer), split="val", shots=2)
    first = run("vqav2", vqav2_dir, tmp_path / "parts", ScriptedBackend(answer), split="val", shots=2, limit=1)
    rest = run("vqav2", vqav2_dir, tmp_path / "parts", ScriptedBackend(answer), split="val", shots=2)
    assert first.run_dir == rest.run_dir and rest.resumed == 1 and rest.computed == 2
    assert sorted(records_of(rest.run_dir), key=lambda r: r["id"]) == records_of(full.run_dir)
    assert rest.metrics == full.metrics


def records_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_vizwiz_accuracy_and_unanswerability(tmp_path) -> None:
    root = tmp_path / "vizwiz"
    write_vizwiz(
        root,
        "val",
        [
            ("What is this?", ["soup"] * 10, 1),
            ("What color is it?", ["unanswerable"] * 8 + ["blue"] * 2, 0),
            ("Can you read it?", ["unanswerable"] * 10, 0),
            ("What brand?", ["heinz"] * 3 + ["ketchup"] * 7, 1),
        ],
    )
    answers = {
        "What is this?": "Soup",
        "What color is it?": "unanswerable",
        "Can you read it?": "red",
        "What brand?": "heinz",
    }
    outcome = run("vizwiz", root, tmp_path / "runs", ScriptedBackend(lambda r: answers[question_of(r)]), split="val")
    # VizWiz normalises the prediction ("Soup" -> "soup"); 8 of 10 "unanswerable" -> 1.0; 3 of 10 "heinz":
    # the 3 leave-one-out subsets without one of them have 2 matches (2/3), the other 7 have 3 (1) -> 0.9
    assert outcome.metrics["accuracy"].value == pytest.approx((1.0 + 1.0 + 0.0 + 0.9) / 4)
    # unanswerable predicted for question 2 only: precision 1, recall 1/2 -> F1 2/3; AP: ranking puts q2
    # first (score 1), the rest tie at 0 -> AP = 1/2 * 1 + 1/2 * (2/4) = 0.75
    assert outcome.metrics["unanswerable_f1"].value == pytest.approx(2 / 3)
    assert outcome.metrics["unanswerable_ap"].value == pytest.approx(0.75)
    (path,) = outcome.summary["exports"].values()
    submitted = json.loads(Path(path).read_text())
    assert submitted[1] == {"image": "VizWiz_val_00000001.jpg", "answer": "unanswerable", "answerable": 0.0}


def score_cli(*args: str):
    return CliRunner().invoke(app, ["score-predictions", "vqav2", "--split", "val", *args])


def write_predictions(path: Path, answers: list[str]) -> Path:
    path.write_text(json.dumps([{"question_id": 10 * (i + 1), "answer": a} for i, a in enumerate(answers)]))
    return path


def test_score_predictions_with_official_files_equals_the_run(vqav2_dir, tmp_path) -> None:
    predictions = write_predictions(tmp_path / "preds.json", ["red", "two", "yes"])
    annotations = str(vqav2_dir / "v2_mscoco_val2014_annotations.json")
    questions = str(vqav2_dir / "v2_OpenEnded_mscoco_val2014_questions.json")
    result = score_cli(
        "--predictions", str(predictions), "--json", "--annotations", annotations, "--questions", questions
    )
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    assert scored["metrics"]["accuracy"]["value"] == pytest.approx(1.6 / 3)
    assert scored["breakdowns"]["answer_type"]["number"]["value"] == pytest.approx(0.6)
    # an external prediction is scored exactly as the official code does: against ten identical answers
    # the prediction is not normalised, so "Red." scores 0 (a run's own answers are normalised first)
    write_predictions(predictions, ["Red.", "two", "yes"])
    result = score_cli("--predictions", str(predictions), "--json", "--data-dir", str(vqav2_dir))
    assert json.loads(result.output)["metrics"]["accuracy"]["value"] == pytest.approx(0.6 / 3)
    missing = score_cli("--predictions", str(predictions), "--annotations", annotations)
    assert missing.exit_code == 2 and "--questions" in missing.output


@pytest.mark.parametrize("fixture", ["tiny_kosmos2", "tiny_llava"])
def test_tiny_hf_models_run_vqav2_zero_and_few_shot(vqav2_dir, tmp_path, fixture, request) -> None:
    model = request.getfixturevalue(fixture)
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "vqav2",
            "--split",
            "val",
            "--shots",
            "0,2",
            "--model-args",
            f"pretrained={model},dtype=float32",
            "--data-dir",
            str(vqav2_dir),
            "--output",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("accuracy") == 2
    folders = sorted(out.iterdir())
    assert len(folders) == 2
    for folder in folders:
        for record in map(json.loads, (folder / "samples.jsonl").read_text().splitlines()):
            assert record["accuracy"] == pytest.approx(vqa_accuracy(record["prediction"], record["answers"]))


def test_tiny_kosmos2_runs_vizwiz_two_shot(tmp_path, tiny_kosmos2) -> None:
    root = tmp_path / "vizwiz"
    write_vizwiz(root, "val", [("What is this?", ["soup"] * 10, 1), ("Is it blue?", ["unanswerable"] * 10, 0)])
    write_vizwiz(root, "train", [("What brand?", ["heinz"] * 10, 1), ("Which way?", ["left"] * 10, 1),
                                 ("What is it?", ["unanswerable"] * 10, 0)])  # fmt: skip
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        ["run", "vizwiz", "--split", "val", "--shots", "2", "--model-args", f"pretrained={tiny_kosmos2},dtype=float32",
         "--data-dir", str(root), "--output", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    records = records_of(run_dir)
    assert all(len(r["demo_ids"]) == 2 and r["prompt"].count("Question:") == 3 for r in records)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["metrics"]) == {"accuracy", "unanswerable_ap", "unanswerable_f1"}
