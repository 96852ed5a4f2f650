"""The Raven task: paper prompt, chance level on IQ50, no leakage of candidate position."""

from __future__ import annotations

from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.core.backend import Backend
from kosmos_eval.core.seeding import argmax_random_ties, seeded_rng
from kosmos_eval.core.types import RankResult
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.raven import RavenTask
from tests.conftest import shared

SNAPSHOT = Path(__file__).parent / "snapshots" / "raven_prompts.txt"


class ConstantBackend(Backend):
    """Gives every candidate exactly the same score: only tie-breaking decides."""

    name = "constant"

    def rank(self, requests):
        return [
            RankResult(
                tuple(-1.0 for _ in r.continuations), (1,) * len(r.continuations), (False,) * len(r.continuations)
            )
            for r in requests
        ]

    def generate(self, requests):
        return [""] * len(requests)

    def fingerprint(self):
        return {"backend": "constant"}

    def default_batch_size(self):
        return 64


class FirstShownBackend(ConstantBackend):
    """Prefers whichever candidate is shown first in the request order of an example (a position bias)."""

    def __init__(self):
        self.seen = 0

    def rank(self, requests):
        out = []
        for _r in requests:
            out.append(RankResult((0.0 if self.seen % 6 == 0 else -5.0, -1.0), (1, 1), (False, False)))
            self.seen += 1
        return out


def rendered_prompts(examples) -> str:
    task = RavenTask(seed=1)
    blocks = []
    for example in examples:
        request = task.build(example, [])[0]
        blocks.append(
            f"[{len(example.images['panels'])} panels]\n{request.context.render()}\n{request.continuations!r}"
        )
    return "\n\n".join(blocks) + "\n"


def test_prompt_snapshot_for_3_4_and_8_panel_examples():
    task = RavenTask(seed=1)
    examples = task.load("test", Path(__file__).resolve().parents[1] / "kosmos_eval" / "data" / "samples" / "raven")
    by_count = {}
    for example in examples:
        by_count.setdefault(len(example.images["panels"]), example)
    assert sorted(by_count) == [3, 4, 8]
    text = rendered_prompts([by_count[3], by_count[4], by_count[8]])
    assert text == SNAPSHOT.read_text(), "prompt changed: review the diff, then update tests/snapshots"


@pytest.mark.slow
def test_iq50_chance_accuracy_ci_contains_one_sixth(tmp_path):
    """A single seed is one draw of 50 coin flips (its CI misses 1/6 about one time in twenty), so check the
    property over many seeds: the 95% CI covers 1/6 nearly always, and the mean accuracy is 1/6."""
    values, covered = [], 0
    for seed in range(30):
        outcome = evaluate(
            RunConfig(
                task="raven", backend="chance", seed=seed, data_dir=str(shared("iq50")), output_dir=str(tmp_path)
            ),
            progress=False,
        )
        accuracy = outcome.metrics["accuracy"]
        assert accuracy.n == 50
        assert accuracy.ci_high < 0.5  # far from the 1.0 a position leak would give
        values.append(accuracy.value)
        covered += accuracy.ci_low <= 1 / 6 <= accuracy.ci_high
    assert covered >= 25
    assert abs(sum(values) / len(values) - 1 / 6) < 0.03


def test_candidate_position_never_leaks_on_iq50(tmp_path):
    """IQ50 stores the answer as answer-a; a model with no preference must not profit from that."""
    outcome = evaluate(
        RunConfig(task="raven", backend="constant", data_dir=str(shared("iq50")), output_dir=str(tmp_path)),
        backend=ConstantBackend(),
        progress=False,
    )
    accuracy = outcome.metrics["accuracy"]
    assert accuracy.ci_low <= 1 / 6 <= accuracy.ci_high
    assert accuracy.value < 0.4
    records = [__import__("json").loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    assert all(len(r["ties"]) == 6 for r in records)  # every example was a full tie, broken at random
    assert len({r["prediction"] for r in records}) > 3


def test_position_biased_model_scores_chance_because_order_is_shuffled(tmp_path):
    outcome = evaluate(
        RunConfig(task="raven", backend="biased", data_dir=str(shared("iq50")), output_dir=str(tmp_path), batch_size=6),
        backend=FirstShownBackend(),
        progress=False,
    )
    assert outcome.metrics["accuracy"].value < 0.4


def test_candidate_order_is_seeded_per_example_and_recorded():
    task = RavenTask(seed=7)
    example = task.load("test", Path(__file__).resolve().parents[1] / "kosmos_eval" / "data" / "samples" / "raven")[0]
    assert task.candidate_order(example) == RavenTask(seed=7).candidate_order(example)
    orders = {tuple(RavenTask(seed=s).candidate_order(example)) for s in range(20)}
    assert len(orders) > 10


def test_ties_are_broken_uniformly():
    counts = [0, 0, 0]
    for i in range(3000):
        index, tied = argmax_random_ties([1.0, 1.0, 1.0, 0.5], seeded_rng(0, i))
        assert tied == [0, 1, 2]
        counts[index] += 1
    assert all(900 < c < 1100 for c in counts)


def test_score_picks_highest_p_yes_and_normalised_variant():
    task = RavenTask(seed=3)
    example = task.load("test", Path(__file__).resolve().parents[1] / "kosmos_eval" / "data" / "samples" / "raven")[0]
    order = task.candidate_order(example)
    # original candidate 2 has the highest P(Yes); original candidate 4 the highest P(Yes)/(P(Yes)+P(No))
    yes = {i: -3.0 for i in range(6)}
    no = {i: -1.0 for i in range(6)}
    yes[2], no[2] = -0.5, -0.1
    yes[4], no[4] = -1.0, -6.0
    outputs = [RankResult((yes[i], no[i]), (1, 1), (False, False)) for i in order]
    record = task.score(example, outputs)
    assert record["prediction"] == 2 and record["prediction_yes_vs_no"] == 4
    assert record["correct"] is False  # the answer of this layout is candidate 0
    assert [c["index"] for c in record["candidates"]] == order


def test_results_do_not_depend_on_where_the_data_lives(tmp_path):
    import shutil

    from kosmos_eval.data.locate import bundled_sample

    moved = tmp_path / "elsewhere" / "raven"
    shutil.copytree(bundled_sample("raven"), moved)
    here = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path / "a")), progress=False)
    there = evaluate(
        RunConfig(task="raven", backend="chance", data_dir=str(moved), output_dir=str(tmp_path / "b")), progress=False
    )
    assert here.summary["metrics"] == there.summary["metrics"]
    first = (here.run_dir / "samples.jsonl").read_text().splitlines()[0]
    assert str(bundled_sample("raven")) not in first  # records hold no machine paths
