"""The eight language tasks: the exact prompts and options each template gives, full and partial (Winograd-style)
scoring, acc vs acc_norm on hand-computed scores, few-shot demonstrations, chance levels, the tiny model end to
end (HellaSwag 4-shot from the command line; Winogrande's partial scores against log-likelihoods computed by
hand), and the check that the paper's accuracies fit the split sizes we score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.core.registry import TASKS
from kosmos_eval.core.types import RankRequest
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.language import DATASETS
from kosmos_eval.runner.run import evaluate
from tests.backends import ScriptedRanker
from tests.test_language_formats import (
    BOOLQ_PASSAGE,
    BOOLQ_ROWS,
    CB_PEELED,
    CB_ROWS,
    COPA_ROWS,
    HELLASWAG_ROWS,
    PIQA_ROWS,
    STORY,
    STORY_TEXT,
    WINOGRANDE_ROWS,
    WSC_ROWS,
    write_jsonl,
)

ROWS = {
    "hellaswag": HELLASWAG_ROWS,
    "winograd": WSC_ROWS,
    "winogrande": WINOGRANDE_ROWS,
    "piqa": PIQA_ROWS,
    "boolq": BOOLQ_ROWS,
    "cb": CB_ROWS,
    "copa": COPA_ROWS,
    "storycloze": [STORY, dict(STORY, story_id="second", answer_right_ending=2)],
}
LANGUAGE_TASKS = tuple(ROWS)


def write_task_data(root: Path, task: str, rows: list[dict] | None = None) -> Path:
    """The same rows as every split the task has (demo pools included), in the hub schema."""
    folder = root / task
    for split in DATASETS[task].splits:
        write_jsonl(folder / f"{split}.jsonl", rows or ROWS[task])
    return folder


def task_of(name: str, **options: str):
    return TASKS.get(name)(seed=1234, options=options)


def first_requests(name: str, tmp_path: Path, demos: int = 0):
    task = task_of(name)
    examples = task.load(task.default_split, write_task_data(tmp_path, name))
    return task, examples, task.build(examples[0], examples[1 : 1 + demos])


# --- prompts --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "context", "options"),
    [
        ("storycloze", STORY_TEXT, (" He is happy now.", " He joined a gang.")),
        (
            "hellaswag",
            "Roof shingle removal: A man is sitting on a roof. He",
            tuple(" " + ending for ending in HELLASWAG_ROWS[0]["endings"]),
        ),
        (
            "piqa",
            "Question: When boiling butter, when it's ready, you can\nAnswer:",
            (" Pour it onto a plate", " Pour it into a jar"),
        ),
        (
            "boolq",
            f"{BOOLQ_PASSAGE}\nQuestion: do iran and afghanistan speak the same language?\nAnswer:",
            (" no", " yes"),
        ),
        (
            "cb",
            f"{CB_PEELED}\nQuestion: the language was peeled down. True, False, or Neither?\nAnswer:",
            (" True", " False", " Neither"),
        ),
        # lm-eval's COPA choices start with a space, so after its target delimiter the scored text has two
        ("copa", "My body cast a shadow over the grass because", ("  the sun was rising.", "  the grass was cut.")),
    ],
)
def test_full_tasks_rank_options_after_one_shared_context(tmp_path, name, context, options) -> None:
    _, _, requests = first_requests(name, tmp_path)
    assert requests == [RankRequest(requests[0].context, options)]
    assert requests[0].context.text == context


def test_copa_effect_questions_use_therefore(tmp_path) -> None:
    task = task_of("copa")
    second = task.load("validation", write_task_data(tmp_path, "copa"))[1]
    (request,) = task.build(second, [])
    assert request.context.text == "The man turned on the faucet therefore"
    assert request.continuations == ("  the toilet filled with water.", "  water flowed from the spout.")


@pytest.mark.parametrize(
    ("name", "contexts", "continuation"),
    [
        (
            "winogrande",
            tuple(f"Sarah was a much better surgeon than Maria so {name}" for name in ("Sarah", "Maria")),
            " always got the harder cases.",
        ),
        (
            "winograd",
            (
                "The city councilmen refused the demonstrators a permit because the city councilmen",
                "The city councilmen refused the demonstrators a permit because the demonstrators",
            ),
            " feared violence.",
        ),
    ],
)
def test_partial_tasks_score_the_same_continuation_after_each_filled_in_option(
    tmp_path, name, contexts, continuation
) -> None:
    task, _, requests = first_requests(name, tmp_path)
    assert [r.context.text for r in requests] == list(contexts)
    assert all(r.continuations == (continuation,) for r in requests)
    assert task.metrics == ("accuracy",)


@pytest.mark.parametrize("name", LANGUAGE_TASKS)
def test_a_demonstration_is_the_query_completed_by_its_right_answer(tmp_path, name) -> None:
    task, examples, _ = first_requests(name, tmp_path)
    demo, query = examples[0], examples[1]
    (shown,) = task.build(query, [demo])[:1]
    (alone,) = task.build(query, [])[:1]
    demo_requests = task.build(demo, [])
    gold = demo.fields["label"]
    if DATASETS[name].partial:
        expected = demo_requests[gold].context.text + demo_requests[gold].continuations[0]
    else:
        expected = demo_requests[0].context.text + demo_requests[0].continuations[gold]
    assert shown.context.text == expected + "\n\n" + alone.context.text


def test_one_shot_piqa_prompt(tmp_path) -> None:
    _, _, (request,) = first_requests("piqa", tmp_path, demos=1)
    assert request.context.text == (
        "Question: To make a kite fly higher, you can\nAnswer: Let out more string\n\n"
        "Question: When boiling butter, when it's ready, you can\nAnswer:"
    )


# --- scoring --------------------------------------------------------------------------------------------------


def run(name: str, backend, data: Path, out: Path, shots: int = 0, **options: str):
    config = RunConfig(task=name, backend="scripted", data_dir=str(data), output_dir=str(out), shots=shots,
                       task_options=options)  # fmt: skip
    return evaluate(config, backend=backend, progress=False)


def records_of(outcome) -> list[dict]:
    return [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]


def test_accuracy_sums_and_accuracy_norm_divides_by_characters(tmp_path) -> None:
    # Two PIQA options: " Pour it onto a plate" (21 characters) and " Pour it into a jar" (19).
    # Scores -4.2 and -4.0: the sum prefers the jar (-4.0 > -4.2), per character the plate (-0.2 > -0.2105).
    scores = {" Pour it onto a plate": -4.2, " Pour it into a jar": -4.0, " Let out more string": -1.0}
    backend = ScriptedRanker(lambda request, option: scores.get(option, -9.0))
    outcome = run("piqa", backend, write_task_data(tmp_path, "piqa"), tmp_path / "out")
    first, second = records_of(outcome)
    assert (first["prediction"], first["prediction_norm"], first["label"]) == (1, 0, 1)
    assert first["logprobs"] == [-4.2, -4.0]
    assert (second["prediction"], second["prediction_norm"], second["label"]) == (0, 0, 0)
    assert outcome.metrics["accuracy"].value == 1.0 and outcome.metrics["accuracy_norm"].value == 0.5
    assert list(outcome.metrics) == ["accuracy", "accuracy_norm"]


def test_hellaswag_headline_is_accuracy_norm(tmp_path) -> None:
    outcome = run("hellaswag", ScriptedRanker(lambda r, o: -float(len(o))), write_task_data(tmp_path, "hellaswag"),
                  tmp_path / "out")  # fmt: skip
    assert list(outcome.metrics) == ["accuracy_norm", "accuracy"]
    # -len(option) per option: the sum picks the shortest ending, per character every option ties at -1
    first = records_of(outcome)[0]
    assert first["prediction"] == 2 and first["ties"] == []


def test_partial_prediction_compares_the_continuation_under_each_option(tmp_path) -> None:
    # the scripted log-likelihood of the continuation depends on which option filled the gap
    def logprob(request, option):
        return -1.0 if request.context.text.endswith("Sarah") else -2.0

    outcome = run("winogrande", ScriptedRanker(logprob), write_task_data(tmp_path, "winogrande"), tmp_path / "out")
    first, second = records_of(outcome)
    assert first["logprobs"] == [-1.0, -2.0] and first["prediction"] == 0 and first["correct"]
    assert second["prediction"] == 0 and not second["correct"]  # the gold is Maria
    assert first["options"] == ["Sarah", "Maria"] and first["continuation"] == " always got the harder cases."
    assert outcome.metrics["accuracy"].value == 0.5 and list(outcome.metrics) == ["accuracy"]


def test_winograd_demonstrations_come_from_its_only_split_but_never_the_query(tmp_path) -> None:
    outcome = run("winograd", ScriptedRanker(lambda r, o: -1.0), write_task_data(tmp_path, "winograd"),
                  tmp_path / "out", shots=1)  # fmt: skip
    records = records_of(outcome)
    assert len(records) == 3
    assert all(len(r["demo_ids"]) == 1 and r["demo_ids"][0] != r["id"] for r in records)


def test_storycloze_scores_test_with_demonstrations_from_the_official_validation_csv(tmp_path) -> None:
    import csv

    from tests.test_language_formats import OFFICIAL_HEADER

    def write(name: str, story_ids: list[str]) -> None:
        with (tmp_path / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(OFFICIAL_HEADER)
            for story_id in story_ids:
                writer.writerow([story_id, *[STORY[f"input_sentence_{k}"] for k in range(1, 5)],
                                 STORY["sentence_quiz1"], STORY["sentence_quiz2"], 1])  # fmt: skip

    write("cloze_test_val__spring2016 - cloze_test_ALL_val.csv", ["v1", "v2"])
    write("cloze_test_test__spring2016 - cloze_test_ALL_test.csv", ["t1", "t2", "t3"])
    outcome = run("storycloze", ScriptedRanker(lambda r, o: -len(o)), tmp_path, tmp_path / "out", shots=1)
    records = records_of(outcome)
    assert [r["id"] for r in records] == ["t1", "t2", "t3"]
    assert all(r["demo_ids"][0] in ("v1", "v2") for r in records)
    assert outcome.metrics["accuracy"].value == 1.0  # the right ending is the shorter one


def test_unlabelled_rows_are_refused(tmp_path) -> None:
    folder = write_task_data(tmp_path, "winogrande", [dict(WINOGRANDE_ROWS[0], answer="")])
    with pytest.raises(DataError, match="validation-0 of split 'validation' has no answer label"):
        task_of("winogrande").load("validation", folder)


def test_chance_backend_gives_chance_accuracy(tmp_path) -> None:
    # 3 CB options, 2 Winogrande options: 1/3 and 1/2 within the 95% intervals over 600 items
    cb_rows = [dict(CB_ROWS[0], idx=i, premise=f"Premise number {i}.") for i in range(600)]
    winogrande_rows = [
        dict(WINOGRANDE_ROWS[i % 2], sentence=f"Item {i}: " + WINOGRANDE_ROWS[i % 2]["sentence"]) for i in range(600)
    ]
    for name, rows, level in [("cb", cb_rows, 1 / 3), ("winogrande", winogrande_rows, 1 / 2)]:
        config = RunConfig(task=name, backend="chance", data_dir=str(write_task_data(tmp_path, name, rows)),
                           output_dir=str(tmp_path / "out"))  # fmt: skip
        accuracy = evaluate(config, progress=False).metrics["accuracy"]
        assert accuracy.ci_low <= level <= accuracy.ci_high, (name, accuracy)


# --- options, hub sources -------------------------------------------------------------------------------------


def test_winograd_reads_wsc285_by_default_and_wsc273_on_request(monkeypatch) -> None:
    import datasets

    calls = []

    def load_dataset(hub_id, name=None, split=None):
        calls.append((hub_id, name, split))
        return WSC_ROWS

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    assert len(task_of("winograd").load("test", None)) == 3
    task_of("winograd", subset="wsc273").load("test", None)
    task_of("winograd", hub="someone/wsc:wsc273").load("test", None)
    assert calls == [
        ("coref-data/davis_wsc_raw", "wsc285", "test"),
        ("coref-data/davis_wsc_raw", "wsc273", "test"),
        ("someone/wsc", "wsc273", "test"),
    ]
    with pytest.raises(UserError, match=r"subset=.wsc300.: expected one of wsc285, wsc273"):
        task_of("winograd", subset="wsc300")


TABLE_13 = {  # KOSMOS-1 paper Table 13: LLM and KOSMOS-1 at 0, 1, 4 shots
    "storycloze": (72.9, 72.1, 72.9, 72.2, 73.1, 72.3),
    "hellaswag": (50.4, 50.0, 50.2, 50.0, 50.4, 50.3),
    "winograd": (71.6, 69.8, 71.2, 68.4, 70.9, 69.8),
    "winogrande": (56.7, 54.8, 56.7, 54.5, 57.0, 55.7),
    "piqa": (73.2, 72.9, 73.0, 72.5, 72.6, 72.3),
    "boolq": (56.4, 56.4, 55.1, 57.2, 58.7, 59.2),
    "cb": (39.3, 44.6, 41.1, 48.2, 42.9, 53.6),
    "copa": (68.0, 63.0, 69.0, 64.0, 69.0, 64.0),
}


def fits(value: float, n: int) -> bool:
    """Whether some count k out of n rounds to the reported percentage."""
    return any(round(100 * k / n, 1) == value for k in range(n + 1))


def test_paper_accuracies_fit_the_sizes_of_the_splits_we_score() -> None:
    for name, values in TABLE_13.items():
        n = DATASETS[name].sizes[TASKS.get(name).default_split]
        assert all(fits(value, n) for value in values), name
    # the reason Winograd defaults to WSC285: none of its six numbers is possible with WSC273's 273 items
    assert not any(fits(value, 273) for value in TABLE_13["winograd"])


# --- tiny model -----------------------------------------------------------------------------------------------


def hellaswag_rows(count: int, split: str) -> list[dict]:
    activities = ["Baking cookies", "Washing a car", "Playing guitar", "Painting a fence", "Riding a bike"]
    return [
        {
            "ind": index,
            "activity_label": activities[index % len(activities)],
            "ctx_a": f"A person starts step {index}.",
            "ctx_b": "then they",
            "endings": ["stop.", "keep going slowly.", "look around the room.", "sit down."],
            "split": split,
            "label": str(index % 4),
        }
        for index in range(count)
    ]


def test_hellaswag_four_shot_from_the_command_line_with_the_tiny_model(tmp_path, tiny_kosmos2, kosmos2_backend) -> None:
    data = tmp_path / "data"
    write_jsonl(data / "hellaswag" / "validation.jsonl", hellaswag_rows(3, "val"))
    write_jsonl(data / "hellaswag" / "train.jsonl", hellaswag_rows(6, "train"))
    result = CliRunner().invoke(
        app,
        ["run", "hellaswag", "--shots", "4", "--model-args", f"pretrained={tiny_kosmos2},dtype=float32",
         "--data-dir", str(data), "--output", str(tmp_path / "out"), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "out").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n"] == 3 and summary["shots"] == 4 and next(iter(summary["metrics"])) == "accuracy_norm"
    records = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    task = task_of("hellaswag")
    queries = task.load("validation", data / "hellaswag")
    pool = {e.id: e for e in task.load("train", data / "hellaswag")}
    for record, query in zip(records, queries, strict=True):
        assert len(record["demo_ids"]) == 4 and record["prompt"].count("\n\n") == 4
        (request,) = task.build(query, [pool[i] for i in record["demo_ids"]])
        (direct,) = kosmos2_backend.rank([request])
        assert record["logprobs"] == pytest.approx(list(direct.logprobs), abs=1e-4)
    expected = sum(r["correct_norm"] for r in records) / 3
    assert summary["metrics"]["accuracy_norm"]["value"] == pytest.approx(expected)


def test_partial_scores_equal_log_likelihoods_computed_by_hand(tmp_path, kosmos2_backend) -> None:
    task = task_of("winogrande")
    example = task.load("validation", write_task_data(tmp_path, "winogrande"))[0]
    requests = task.build(example, [])
    record = task.score(example, kosmos2_backend.rank(requests))
    tokenizer, model = kosmos2_backend.tokenizer, kosmos2_backend.loaded.model
    for request, logprob in zip(requests, record["logprobs"], strict=True):
        context_ids = tokenizer(request.context.text, add_special_tokens=False)["input_ids"]
        full = tokenizer(request.context.text + request.continuations[0], add_special_tokens=False)["input_ids"]
        assert full[: len(context_ids)] == context_ids
        ids = torch.tensor([[tokenizer.bos_token_id, *full]])
        with torch.no_grad():
            logits = model.text_model(input_ids=ids).logits[0].double()
        lp = torch.log_softmax(logits, dim=-1)
        expected = sum(lp[p - 1, ids[0, p]].item() for p in range(1 + len(context_ids), ids.shape[1]))
        assert logprob == pytest.approx(expected, abs=1e-4)
    assert record["prediction"] == max((0, 1), key=lambda i: record["logprobs"][i])


@pytest.mark.parametrize("name", LANGUAGE_TASKS)
def test_every_language_task_runs_one_shot_on_the_tiny_model(tmp_path, name, kosmos2_backend) -> None:
    config = RunConfig(task=name, backend="hf", data_dir=str(write_task_data(tmp_path, name)), shots=1,
                       output_dir=str(tmp_path / "out"))  # fmt: skip
    outcome = evaluate(config, backend=kosmos2_backend, progress=False)
    records = records_of(outcome)
    assert len(records) == len(ROWS[name]) and all(len(r["demo_ids"]) == 1 for r in records)
    assert all(lp < 0 for r in records for lp in r["logprobs"])
    assert outcome.metrics["accuracy"].value == pytest.approx(sum(r["correct"] for r in records) / len(records))


def test_text_only_ranking_on_tiny_llava(tmp_path, llava_backend) -> None:
    config = RunConfig(task="copa", backend="hf", data_dir=str(write_task_data(tmp_path, "copa")), shots=1,
                       output_dir=str(tmp_path / "out"))  # fmt: skip
    outcome = evaluate(config, backend=llava_backend, progress=False)
    task = task_of("copa")
    examples = {e.id: e for e in task.load("validation", write_task_data(tmp_path, "copa"))}
    for record in records_of(outcome):
        (request,) = task.build(examples[record["id"]], [examples[i] for i in record["demo_ids"]])
        assert record["logprobs"] == pytest.approx(list(llava_backend.rank([request])[0].logprobs), abs=1e-4)
