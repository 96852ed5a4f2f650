"""The WebSRC task end to end: the paper's prompt (snapshot), exact EM/F1 of a scripted model, the
without-text variant, score-predictions on the official predictions format, and a tiny hf model run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.metrics.websrc import websrc_f1
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.websrc import WebSRCTask
from tests.backends import ScriptedBackend
from tests.conftest import shared

SNAPSHOT = Path(__file__).parent / "snapshots" / "websrc_prompts.txt"


def question_of(request) -> str:
    text = request.context.text
    return text[text.rindex(" Q: ") + 4 : text.rindex(" A:")]


def test_prompt_snapshot_with_and_without_page_text() -> None:
    data = shared("websrc-sample")
    blocks = []
    for setting in ("with_text", "without_text"):
        task = WebSRCTask(options={"setting": setting, "max_text_chars": "120"})
        example = task.load("dev", data)[0]
        (request,) = task.build(example, [])
        blocks.append(f"[{setting}] {example.id}\n{request.context.render()}\n")
    text = "\n".join(blocks)
    assert text == SNAPSHOT.read_text(), "prompt changed: review the diff, then update tests/snapshots"
    assert "Qusestion: Who is the publisher of this book?" in text  # the paper's typo, kept


def test_scripted_model_gets_exact_em_and_f1(tmp_path) -> None:
    data = shared("websrc-sample")
    examples = WebSRCTask().load("dev", data)
    by_question = {e.fields["question"]: e for e in examples}
    assert len(by_question) == len(examples)
    right, partial = examples[0], examples[1]

    def answer(request) -> str:
        example = by_question[question_of(request)]
        if example is right:
            return f" {right.fields['answer']}\nQ: next question"  # cut at the newline
        if example is partial:
            return f"{partial.fields['answer']} extra words here"
        return "nothing"

    config = RunConfig(task="websrc", backend="scripted", data_dir=str(data), output_dir=str(tmp_path))
    outcome = evaluate(config, backend=ScriptedBackend(answer), progress=False)
    n = len(examples)
    gold_tokens = len(partial.fields["answer"].split())
    # "gold + 3 extra tokens": precision g/(g+3), recall 1 (no articles or punctuation in these answers)
    precision = gold_tokens / (gold_tokens + 3)
    expected_f1 = (1 + 2 * precision / (precision + 1)) / n
    assert outcome.metrics["exact_match"].value == pytest.approx(1 / n)
    assert outcome.metrics["f1"].value == pytest.approx(expected_f1)
    predictions = json.loads((outcome.run_dir / "predictions_websrc_dev.json").read_text())
    assert len(predictions) == n
    assert predictions[right.id] == right.fields["answer"]
    assert predictions[partial.id] == f"{partial.fields['answer']} extra words here"


def test_without_text_variant_drops_the_page_text() -> None:
    data = shared("websrc-sample")
    with_text = WebSRCTask().build(WebSRCTask().load("dev", data)[0], [])[0].context.text
    task = WebSRCTask(options={"setting": "without_text"})
    without = task.build(task.load("dev", data)[0], [])[0].context.text
    assert "Context:" in with_text and "Context:" not in without
    assert len(without) < len(with_text)


def test_score_predictions_cli_matches_the_metric(tmp_path) -> None:
    data = shared("websrc-sample")
    examples = WebSRCTask().load("dev", data)
    predictions = {e.id: e.fields["answer"] for e in examples}
    predictions[examples[0].id] = "wrong"
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(predictions))
    result = CliRunner().invoke(
        app, ["score-predictions", "websrc", "--predictions", str(path), "--data-dir", str(data), "--json"]
    )
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    n = len(examples)
    assert scored["n"] == n and scored["metrics"]["exact_match"]["value"] == pytest.approx((n - 1) / n)
    del predictions[examples[1].id]
    path.write_text(json.dumps(predictions))
    result = CliRunner().invoke(
        app, ["score-predictions", "websrc", "--predictions", str(path), "--data-dir", str(data)]
    )
    assert result.exit_code == 2 and "no prediction for 1 of" in result.output


def test_tiny_hf_model_runs_websrc(tmp_path, tiny_kosmos2) -> None:
    data = shared("websrc-sample")
    args = ["run", "websrc", "--model-args", f"pretrained={tiny_kosmos2},dtype=float32", "--limit", "2"]
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data), "--output", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in next(tmp_path.iterdir()).joinpath("samples.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["prompt"].startswith("<image1>Given the context below from web page")
        assert record["f1"] == pytest.approx(websrc_f1(record["prediction"], record["answer"]))


LONG_PAGE = " ".join(f"item{i} price{i}" for i in range(1500)) + " Publisher Bluebird House"


def test_page_text_fills_the_models_context_instead_of_a_fixed_character_cut(monkeypatch, kosmos2_backend):
    import kosmos_eval.tasks.websrc as websrc_module
    from kosmos_eval.core.backend import PromptBudget
    from kosmos_eval.data.locate import bundled_sample

    monkeypatch.setattr(websrc_module, "page_text", lambda path: LONG_PAGE)
    task = WebSRCTask()
    example = task.load("dev", bundled_sample("websrc"))[0]
    (request,) = task.build(example, [])  # no budget known (the chance baseline): the whole page
    assert "Bluebird House" in request.context.text and len(LONG_PAGE) > 4000  # past the old 4,000-char cut
    assert task.prompt_info(example)["web_text_truncated"] is False

    budget = kosmos2_backend.prompt_budget()
    assert budget.max_tokens == 512  # the tiny Kosmos-2's positions
    task.use_backend(budget)
    (request,) = task.build(example, [])
    used = len(kosmos2_backend.adapter.encode(request.context).ids)
    room = 512 - task.decoding()["max_new_tokens"]
    assert room - 40 < used <= room  # as much page text as fits beside the screenshot, question and answer
    info = task.prompt_info(example)
    assert info["web_text_truncated"] and info["web_text_total_chars"] == len(LONG_PAGE)
    assert request.context.text.count("item") > 10 and "Bluebird House" not in request.context.text

    task.use_backend(PromptBudget(100_000, budget.count, budget.prefix))  # a long-context model: all of it
    (request,) = task.build(example, [])
    assert "Bluebird House" in request.context.text and not task.prompt_info(example)["web_text_truncated"]


def test_the_record_says_how_much_page_text_the_prompt_kept(monkeypatch, tmp_path, kosmos2_backend):
    import kosmos_eval.tasks.websrc as websrc_module

    monkeypatch.setattr(websrc_module, "page_text", lambda path: LONG_PAGE)
    config = RunConfig(task="websrc", backend="hf", sample=True, limit=1, output_dir=str(tmp_path), device="cpu")
    outcome = evaluate(config, backend=kosmos2_backend, progress=False)
    record = json.loads((outcome.run_dir / "samples.jsonl").read_text().splitlines()[0])
    assert record["prompt_info"]["web_text_truncated"] is True
    assert record["prompt_info"]["web_text_chars"] < record["prompt_info"]["web_text_total_chars"] == len(LONG_PAGE)
