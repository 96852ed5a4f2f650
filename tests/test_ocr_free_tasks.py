"""Rendered SST-2 (rank, generate, two-stage chain-of-thought) and HatefulMemes (P(yes), ROC AUC) end to end:
exact prompts, hand-computed metrics with scripted backends, the tiny model's scores against direct calls,
and chance levels."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.errors import UserError
from kosmos_eval.generators.pictures import make_image
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.ocr_free import HatefulMemesTask, RenderedSst2Task
from tests.backends import ScriptedBackend, ScriptedModel, ScriptedRanker

QUESTION = "Question: what is the sentiment of the opinion? Answer:"


def write_sst2(root: Path, per_label: int = 2, split: str = "test") -> Path:
    for label in ("negative", "positive"):
        for index in range(per_label):
            path = root / "rendered-sst2" / split / label / f"{index}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            make_image(index + (50 if label == "positive" else 0)).save(path)
    return root


def write_memes(root: Path, labels: list[int], split: str = "dev_seen") -> Path:
    (root / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for index, label in enumerate(labels):
        meme_id = f"{index + 1:05d}"
        make_image(index).save(root / "img" / f"{meme_id}.png")
        lines.append(json.dumps({"id": meme_id, "img": f"img/{meme_id}.png", "label": label, "text": f"meme {index}"}))
    (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return root


def run(task: str, backend, data: Path, out: Path, **options: str):
    config = RunConfig(task=task, backend="scripted", data_dir=str(data), output_dir=str(out), task_options=options)
    return evaluate(config, backend=backend, progress=False)


def records_of(outcome) -> list[dict]:
    return [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]


def image_name(request) -> str:
    return request.context.images[0].key


# --- Rendered SST-2 -------------------------------------------------------------------------------------------


def test_sst2_ranks_negative_against_positive_after_the_question(tmp_path) -> None:
    # the scripted model calls every image positive except test/negative/0.png
    def logprob(request, option):
        says_positive = image_name(request) != "test/negative/0.png"
        return -0.1 if (option == " positive") == says_positive else -2.0

    outcome = run("rendered_sst2", ScriptedRanker(logprob), write_sst2(tmp_path / "data"), tmp_path / "out")
    records = {r["id"]: r for r in records_of(outcome)}
    assert records["negative/0"]["prompt"] == f"<image1>{QUESTION}"
    assert records["negative/0"]["prediction_name"] == "negative" and records["negative/0"]["correct"]
    assert records["negative/1"]["prediction_name"] == "positive" and not records["negative/1"]["correct"]
    assert outcome.metrics["accuracy"].value == 0.75  # 3 of 4


def test_sst2_generate_mode_parses_the_first_label_word(tmp_path) -> None:
    answers = {
        "test/negative/0.png": "Negative, clearly.",
        "test/negative/1.png": "it is not positive but negative",  # first label word: positive
        "test/positive/0.png": "happy",  # names neither label: wrong, counted in a note
        "test/positive/1.png": " positive",
    }
    backend = ScriptedBackend(lambda request: answers[image_name(request)])
    outcome = run("rendered_sst2", backend, write_sst2(tmp_path / "data"), tmp_path / "out", mode="generate")
    records = {r["id"]: r for r in records_of(outcome)}
    assert [records[i]["prediction"] for i in ("negative/0", "negative/1", "positive/0", "positive/1")] == [
        0, 1, None, 1,
    ]  # fmt: skip
    assert outcome.metrics["accuracy"].value == 0.5
    assert outcome.scores.notes == ["1 of 4 generated answers named neither label; counted wrong"]
    assert backend.requests[0].candidates == ("negative", "positive")


def test_sst2_chain_of_thought_runs_two_stages_and_records_both(tmp_path) -> None:
    def rationale(request):
        return " The picture shows the words: a gloomy, tedious film." if "negative" in image_name(request) else (
            " A review saying: a joyous delight.")  # fmt: skip

    def logprob(request, option):  # the rationale, not the image, decides
        gloomy = "gloomy" in request.context.text
        return -0.1 if (option == " negative") == gloomy else -3.0

    backend = ScriptedModel(rationale, logprob)
    outcome = run("rendered_sst2", backend, write_sst2(tmp_path / "data"), tmp_path / "out", cot="true")
    assert outcome.metrics["accuracy"].value == 1.0
    first = records_of(outcome)[0]
    assert first["prompt"] == "<image1>Introduce this picture in detail:"
    assert first["rationale"] == "The picture shows the words: a gloomy, tedious film."
    assert first["stage2_prompt"] == (
        "<image1>Introduce this picture in detail: The picture shows the words: a gloomy, tedious film. " + QUESTION
    )
    assert len(backend.generated) == 4 and all(r.max_new_tokens == 64 for r in backend.generated)


@pytest.mark.slow
def test_sst2_chain_of_thought_on_the_tiny_model_scores_the_recorded_second_stage(tmp_path, kosmos2_backend) -> None:
    config = RunConfig(task="rendered_sst2", backend="hf", data_dir=str(write_sst2(tmp_path / "data", 1)),
                       output_dir=str(tmp_path / "out"), task_options={"cot": "true"})  # fmt: skip
    outcome = evaluate(config, backend=kosmos2_backend, progress=False)
    task = RenderedSst2Task(options={"cot": "true"})
    examples = {e.id: e for e in task.load("test", tmp_path / "data")}
    for record in records_of(outcome):
        example = examples[record["id"]]
        (stage1,) = task.build(example, [])
        assert kosmos2_backend.generate([stage1])[0].strip() == record["rationale"]
        (stage2,) = task.follow_up(example, [], [record["rationale"]])
        assert stage2.context.render() == record["stage2_prompt"]
        assert record["logprobs"] == pytest.approx(list(kosmos2_backend.rank([stage2])[0].logprobs), abs=1e-4)


def test_sst2_options_are_checked() -> None:
    with pytest.raises(UserError, match=r"--task-option mode=.*: expected one of rank, generate"):
        RenderedSst2Task(options={"mode": "vote"})


# --- HatefulMemes ---------------------------------------------------------------------------------------------


def test_hateful_memes_p_yes_roc_auc_and_accuracy_by_hand(tmp_path) -> None:
    labels = [1, 0, 1, 0]
    # log P(yes) - log P(no) per meme: 2, 1, 1, -1  ->  P(yes) = sigmoid of it
    margins = {"img/00001.png": 2.0, "img/00002.png": 1.0, "img/00003.png": 1.0, "img/00004.png": -1.0}

    def logprob(request, option):
        return -1.0 + (margins[image_name(request)] if option == " yes" else 0.0)

    outcome = run("hateful_memes", ScriptedRanker(logprob), write_memes(tmp_path / "data", labels), tmp_path / "out")
    records = records_of(outcome)
    assert [r["p_yes"] for r in records] == pytest.approx([1 / (1 + math.exp(-m)) for m in (2, 1, 1, -1)])
    # pairs (positive, negative): (2 vs 1) win, (2 vs -1) win, (1 vs 1) tie = 1/2, (1 vs -1) win -> 3.5 / 4
    assert outcome.metrics["roc_auc"].value == pytest.approx(0.875)
    assert list(outcome.metrics) == ["roc_auc", "accuracy"]
    # predictions yes, yes, yes, no against 1, 0, 1, 0 -> 3 of 4
    assert outcome.metrics["accuracy"].value == 0.75
    assert records[0]["prompt"] == "<image1>Question: does this picture contain real hate speech? Answer:"


def test_hateful_memes_with_text_option_adds_the_meme_text(tmp_path) -> None:
    task = HatefulMemesTask(options={"with_text": "true"})
    example = task.load("dev_seen", write_memes(tmp_path, [1, 0]))[1]
    (request,) = task.build(example, [])
    assert request.context.text == 'Text: "meme 1" Question: does this picture contain real hate speech? Answer:'
    assert request.continuations == (" yes", " no")


def test_hateful_memes_single_class_slice_says_why_auc_is_missing(tmp_path) -> None:
    outcome = run("hateful_memes", ScriptedRanker(lambda r, o: -1.0), write_memes(tmp_path / "d", [1, 1]),
                  tmp_path / "out")  # fmt: skip
    assert "roc_auc" not in outcome.metrics and "one class only" in outcome.scores.notes[0]


def test_chance_backend_is_at_chance_on_both(tmp_path) -> None:
    memes = write_memes(tmp_path / "memes", [i % 2 for i in range(200)])
    config = RunConfig(task="hateful_memes", backend="chance", data_dir=str(memes), output_dir=str(tmp_path / "o"))
    metrics = evaluate(config, progress=False).metrics
    assert metrics["roc_auc"].ci_low <= 0.5 <= metrics["roc_auc"].ci_high
    sst2 = write_sst2(tmp_path / "sst2", per_label=60)
    config = RunConfig(task="rendered_sst2", backend="chance", data_dir=str(sst2), output_dir=str(tmp_path / "o"))
    accuracy = evaluate(config, progress=False).metrics["accuracy"]
    assert accuracy.ci_low <= 0.5 <= accuracy.ci_high


def test_hateful_memes_on_the_tiny_model(tmp_path, kosmos2_backend) -> None:
    data = write_memes(tmp_path / "data", [1, 0, 0, 1])
    config = RunConfig(task="hateful_memes", backend="hf", data_dir=str(data), output_dir=str(tmp_path / "o"))
    outcome = evaluate(config, backend=kosmos2_backend, progress=False)
    task = HatefulMemesTask()
    for record, example in zip(records_of(outcome), task.load("dev_seen", data), strict=True):
        (direct,) = kosmos2_backend.rank(task.build(example, []))
        assert [record["logprob_yes"], record["logprob_no"]] == pytest.approx(list(direct.logprobs), abs=1e-4)


def test_hateful_memes_auc_over_the_raw_or_the_normalised_yes_probability(tmp_path) -> None:
    """A meme the model finds unlikely overall but far more 'yes' than 'no' ranks high on the normalised
    score and low on the raw one: the two choices the paper leaves open give AUC 1 and 0 here."""
    labels = [1, 0]
    logprobs = {"img/00001.png": {" yes": -1.0, " no": -5.0}, "img/00002.png": {" yes": -0.5, " no": -0.3}}
    backend = ScriptedRanker(lambda request, option: logprobs[image_name(request)][option])
    data = write_memes(tmp_path / "data", labels)
    normalised = run("hateful_memes", backend, data, tmp_path / "normalised")
    raw = run("hateful_memes", backend, data, tmp_path / "raw", auc_score="raw")
    assert normalised.metrics["roc_auc"].value == 1.0 and raw.metrics["roc_auc"].value == 0.0
    assert records_of(raw)[0]["score"] == pytest.approx(math.exp(-1.0))
    assert raw.summary["variant"] == "auc_score=raw" and normalised.summary["variant"] == ""


def test_sst2_chain_of_thought_without_the_image_in_stage_two_and_its_rationale_length(tmp_path) -> None:
    backend = ScriptedModel(lambda request: " a gloomy film", lambda request, option: -1.0)
    options = {"cot": "true", "cot_image": "false", "cot_max_new_tokens": "12"}
    outcome = run("rendered_sst2", backend, write_sst2(tmp_path / "data", per_label=1), tmp_path / "out", **options)
    first = records_of(outcome)[0]
    assert first["stage2_prompt"] == "Introduce this picture in detail: a gloomy film " + QUESTION  # no <image1>
    assert all(r.max_new_tokens == 12 for r in backend.generated)


def test_max_new_tokens_applies_in_every_task_that_generates(tmp_path) -> None:
    """One definition of the decoding block: the option reaches the requests of every generating task."""
    from kosmos_eval.tasks.imagenet import ImageNetTask

    sst2 = RenderedSst2Task(options={"mode": "generate", "max_new_tokens": "3"})
    example = sst2.load("test", write_sst2(tmp_path / "sst2", per_label=1))[0]
    assert sst2.build(example, [])[0].max_new_tokens == 3
    assert "max_new_tokens" in ImageNetTask.all_options()
    with pytest.raises(UserError, match=r"--task-option max_new_tokens=.*: expected a positive whole number"):
        RenderedSst2Task(options={"mode": "generate", "max_new_tokens": "0"}).decoding()


def test_prompt_templates_are_checked_against_what_their_task_reads() -> None:
    from kosmos_eval.prompting import PromptTemplate

    template = PromptTemplate("vqav2", {"task": "vqav2", "query": [{"text": "Q"}], "demo": [], "decoding": {}}, "x")
    template.validate(("query", "demo", "decoding"))
    with pytest.raises(UserError, match=r"prompts/vqav2.yaml: unknown key 'decodng'"):
        PromptTemplate("vqav2", {**template.data, "decodng": {}}, "x").validate(("query", "demo", "decoding"))
    with pytest.raises(UserError, match=r"decoding.beams is not a decoding setting"):
        PromptTemplate("vqav2", {**template.data, "decoding": {"beams": 2}}, "x").validate(
            ("query", "demo", "decoding")
        )
    with pytest.raises(UserError, match=r"decoding.length_penalty is not a decoding setting"):  # nothing reads it
        PromptTemplate("vqav2", {**template.data, "decoding": {"length_penalty": 2.0}}, "x").validate(
            ("query", "demo", "decoding")
        )
    with pytest.raises(UserError, match=r"query part 1 must be one of text, image, images"):
        PromptTemplate("vqav2", {**template.data, "query": [{"txt": "Q"}]}, "x").validate(("query", "demo", "decoding"))
