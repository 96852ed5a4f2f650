"""Visual-commonsense probes on the real published files: readers, the both-orders RelativeSize metric that an
always-Yes model cannot game, chance levels, position-free tie-breaking, and the ranking math against
log-likelihoods computed by hand from the tiny model."""

from __future__ import annotations

import json

import pytest
import torch

from kosmos_eval.config import RunConfig
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.commonsense import COLORS, read_color_terms, read_memory_colors, read_size_pairs
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.commonsense import MemoryColorTask, RelativeSizeTask
from tests.backends import ScriptedRanker
from tests.conftest import shared


def run(task: str, backend, tmp_path, **options: str):
    config = RunConfig(
        task=task, backend="scripted", data_dir=str(shared("commonsense")), output_dir=str(tmp_path),
        task_options=options,
    )  # fmt: skip
    return evaluate(config, backend=backend, progress=False)


def test_readers_on_the_published_files() -> None:
    folder = shared("commonsense")
    pairs = read_size_pairs(folder / "sizePairsFull.txt")
    assert len(pairs) == 486 and len({p.bigger for p in pairs} | {p.smaller for p in pairs}) == 41
    assert (pairs[0].bigger, pairs[0].smaller) == ("aeroplane", "apple")
    memory = read_memory_colors(folder / "memory_color_data.csv")  # CRLF line ends
    assert len(memory) == 109 and {m.color for m in memory} == set(COLORS)
    assert [(m.object, m.color) for m in memory[:3]] == [
        ("a sunflower", "yellow"),
        ("the ocean", "blue"),
        ("grass", "green"),
    ]
    terms = read_color_terms(folder / "color-concrete-objects.csv")
    assert len(terms) == 52 and (terms[1].object, terms[1].color) == ("banana", "yellow")


def test_malformed_files_name_the_line(tmp_path) -> None:
    bad = tmp_path / "sizePairsFull.txt"
    bad.write_text("sofa cat\nelephant\n")
    with pytest.raises(DataError, match=r"sizePairsFull.txt:2: expected 'bigger smaller'"):
        read_size_pairs(bad)
    colors = tmp_path / "color-concrete-objects.csv"
    colors.write_text("object,color\nsky,azure\n")
    with pytest.raises(DataError, match=r"row 2: colour 'azure' is not one of the 11 labels"):
        read_color_terms(colors)


def test_always_yes_scores_half_on_the_default_metric_and_all_on_the_paper_order(tmp_path) -> None:
    always_yes = ScriptedRanker(lambda request, option: 0.0 if option == " Yes" else -1.0)
    outcome = run("relative_size", always_yes, tmp_path)
    assert outcome.summary["n"] == 972
    assert outcome.metrics["accuracy"].value == 0.5
    assert outcome.metrics["accuracy_paper_order"].value == 1.0
    paper_only = run("relative_size", always_yes, tmp_path / "paper", orders="paper")
    assert paper_only.summary["n"] == 486 and paper_only.metrics["accuracy"].value == 1.0
    first = json.loads((outcome.run_dir / "samples.jsonl").read_text().splitlines()[0])
    assert first["prompt"] == "Is aeroplane larger than apple?"


def test_chance_levels_and_position_free_ties(tmp_path) -> None:
    config = RunConfig(task="relative_size", backend="chance", data_dir=str(shared("commonsense")),
                       output_dir=str(tmp_path))  # fmt: skip
    accuracy = evaluate(config, progress=False).metrics["accuracy"]
    assert accuracy.ci_low <= 0.5 <= accuracy.ci_high
    # a model that cannot tell the colours apart: every option ties, so the pick is random, not "black"
    flat = run("memory_color", ScriptedRanker(lambda request, option: -2.0), tmp_path / "flat")
    records = [json.loads(line) for line in (flat.run_dir / "samples.jsonl").read_text().splitlines()]
    assert all(len(r["ties"]) == 11 for r in records)
    assert len({r["prediction"] for r in records}) > 5
    assert flat.metrics["accuracy"].ci_low <= 1 / 11 <= flat.metrics["accuracy"].ci_high


def test_ranking_equals_log_likelihoods_computed_by_hand(tmp_path, kosmos2_backend) -> None:
    task = MemoryColorTask()
    example = task.load("test", shared("commonsense"))[1]  # "the ocean", blue
    (request,) = task.build(example, [])
    assert request.context.text == "The color of the ocean is?"
    record = task.score(example, kosmos2_backend.rank([request]))
    tokenizer, model = kosmos2_backend.tokenizer, kosmos2_backend.loaded.model
    context_ids = tokenizer(request.context.text, add_special_tokens=False)["input_ids"]
    for option, logprob in zip(record["options"], record["logprobs"], strict=True):
        full = tokenizer(request.context.text + option, add_special_tokens=False)["input_ids"]
        assert full[: len(context_ids)] == context_ids
        ids = torch.tensor([[tokenizer.bos_token_id, *full]])
        with torch.no_grad():
            logits = model.text_model(input_ids=ids).logits[0].double()
        lp = torch.log_softmax(logits, dim=-1)
        start = 1 + len(context_ids)
        expected = sum(lp[p - 1, ids[0, p]].item() for p in range(start, ids.shape[1]))
        assert logprob == pytest.approx(expected, abs=1e-4)
    best = max(range(len(COLORS)), key=lambda i: record["logprobs"][i])
    assert record["prediction"] == best and record["correct"] == (best == COLORS.index("blue"))


def test_relative_size_rejects_an_unknown_order_option() -> None:
    with pytest.raises(UserError, match=r"orders=.reversed.: expected one of both, paper"):
        RelativeSizeTask(options={"orders": "reversed"})
