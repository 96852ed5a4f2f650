"""`kosmos-eval compare`: the paired bootstrap on constructed cases with known answers, and the gate on run
folders made by real runs (chance backend, tiny Kosmos-2)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.errors import UserError
from kosmos_eval.metrics.classification import auc_or_nan
from kosmos_eval.metrics.resample import ExampleMetric, custom_rows, paired_bootstrap
from kosmos_eval.reporting.compare import allowed_drop, compare_runs, parse_max_drop
from kosmos_eval.reporting.runs import find_runs
from kosmos_eval.runner.run import evaluate
from tests.backends import ScriptedRanker
from tests.runs import chance_run, tiny_raven_run

IDS = [str(i) for i in range(1000)]


def accuracy_rows(correct: list[int]) -> ExampleMetric:
    return ExampleMetric({i: float(c) for i, c in zip(IDS, correct, strict=True)})


def test_identical_runs_have_zero_delta_and_are_never_flagged():
    rng = np.random.default_rng(0)
    rows = accuracy_rows(list(rng.integers(0, 2, size=1000)))
    result = paired_bootstrap(rows, rows, IDS, seed=3)
    assert result.delta == 0.0
    assert (result.ci_low, result.ci_high) == (0.0, 0.0)
    assert result.p_worse == 1.0  # every resampled delta is exactly 0: nothing says "worse"


def test_a_candidate_worse_on_30_percent_of_1000_examples_is_flagged():
    baseline = [1] * 1000
    candidate = [0] * 300 + [1] * 700  # wrong where the baseline was right, on 300 of 1,000 examples
    result = paired_bootstrap(accuracy_rows(baseline), accuracy_rows(candidate), IDS, seed=3)
    assert result.baseline == 1.0 and result.candidate == 0.7
    assert result.delta == pytest.approx(-0.3)
    # paired deltas are -1 on 30% of examples: resampled means ~ -0.3 +- 1.96 * sqrt(.3 * .7 / 1000) = +-0.028
    assert -0.335 < result.ci_low < -0.32 and -0.28 < result.ci_high < -0.265
    assert result.p_worse == pytest.approx(1 / 2001)  # no resample reaches 0: the floor (0 + 1) / (2000 + 1)


def test_pairing_removes_shared_noise():
    """Both runs wrong on the same hard half: the paired interval of a 1-example change is tight, where two
    independent intervals would overlap widely."""
    base = [1] * 500 + [0] * 500
    cand = [1] * 499 + [0] * 501
    result = paired_bootstrap(accuracy_rows(base), accuracy_rows(cand), IDS, seed=1)
    assert result.delta == pytest.approx(-0.001)
    # the paired deltas are -1 on one example, 0 elsewhere: a resample holds it 0, 1, 2... times
    assert result.ci_low >= -0.004 and result.ci_high <= 0.0


def test_roc_auc_is_recomputed_on_each_resample():
    # 4 examples (score, label): baseline ranks both positives above both negatives: AUC 1; the candidate
    # swaps one positive below one negative: 3 of 4 positive-negative pairs ordered -> AUC 0.75
    ids = ["a", "b", "c", "d"]
    base = custom_rows({"a": (0.9, 1), "b": (0.8, 1), "c": (0.2, 0), "d": (0.1, 0)}, auc_or_nan)
    cand = custom_rows({"a": (0.9, 1), "b": (0.15, 1), "c": (0.2, 0), "d": (0.1, 0)}, auc_or_nan)
    result = paired_bootstrap(base, cand, ids, seed=0, resamples=500)
    assert (result.baseline, result.candidate) == (1.0, 0.75)
    assert result.delta == -0.25
    assert result.ci_high <= 0.0  # no resample can make the candidate better than a perfect baseline


def test_max_drop_parsing_most_specific_wins():
    allowed = parse_max_drop(["0.5", "cider=2", "vqav2/accuracy=1.5"])
    assert allowed_drop(allowed, "raven", "accuracy") == 0.5
    assert allowed_drop(allowed, "coco_caption", "cider") == 2.0
    assert allowed_drop(allowed, "vqav2", "accuracy") == 1.5
    with pytest.raises(UserError, match="non-negative"):
        parse_max_drop(["-1"])
    with pytest.raises(UserError, match="POINTS"):
        parse_max_drop(["accuracy=lots"])


# -- on real run folders ------------------------------------------------------------------------------------


def raven_ids() -> list[str]:
    from kosmos_eval.data.locate import bundled_sample
    from kosmos_eval.tasks.raven import RavenTask

    return [e.id for e in RavenTask().load("test", bundled_sample("raven"))]


def scripted_run(output: Path, right: set[str]) -> Path:
    """Raven with a ranker that gives P(" Yes") to the right candidate exactly for the example ids in `right`
    (to every wrong candidate otherwise), so the accuracy is known: len(right) of the examples."""
    from kosmos_eval.data.locate import bundled_sample
    from kosmos_eval.tasks.raven import RavenTask

    gold = {e.id: e.fields["answer_index"] for e in RavenTask().load("test", bundled_sample("raven"))}

    def logprob(request, continuation):
        if continuation.strip() != "Yes":
            return -1.0
        folder, name = request.context.images[-1].key.split("/")[-2:]  # e.g. exp-3/answer-b.png
        candidate = "abcdef".index(name.removesuffix(".png")[-1])
        return 0.0 if (candidate == gold[folder]) == (folder in right) else -5.0

    config = RunConfig(task="raven", backend="scripted", limit=30, output_dir=str(output))
    return evaluate(config, backend=ScriptedRanker(logprob), progress=False).run_dir


def test_same_runs_pass_and_a_worse_checkpoint_fails_the_gate(tmp_path):
    ids = raven_ids()[:30]
    good = scripted_run(tmp_path / "good", set(ids))  # 30 of 30 right
    bad = scripted_run(tmp_path / "bad", set(ids[:12]))  # 12 of 30 right
    assert json.loads((good / "summary.json").read_text())["metrics"]["accuracy"]["value"] == 1.0
    assert json.loads((bad / "summary.json").read_text())["metrics"]["accuracy"]["value"] == 0.4

    same = compare_runs(find_runs([good]), find_runs([good]))
    assert not same.failed and all(m.delta == 0 for m in same.metrics)

    worse = compare_runs(find_runs([good]), find_runs([bad]), parse_max_drop(["5"]))
    accuracy = next(m for m in worse.metrics if m.metric == "accuracy")
    assert accuracy.delta == pytest.approx(-60.0) and accuracy.n == 30
    assert accuracy.failed and worse.failed
    # allowed to drop 70 points: the same significant drop passes
    assert not compare_runs(find_runs([good]), find_runs([bad]), parse_max_drop(["70"])).failed

    runner = CliRunner()
    junit = tmp_path / "compare.xml"
    summary = tmp_path / "step_summary.md"
    result = runner.invoke(
        app, ["compare", str(good), str(bad), "--max-drop", "5", "--junit", str(junit), "--summary", str(summary)]
    )
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "-60.00" in result.output
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("raven 0-shot", "accuracy"),
        ("raven 0-shot", "accuracy_yes_vs_no"),
    ]
    assert cases[0].find("failure") is not None
    assert summary.read_text().startswith("### kosmos-eval compare: FAIL")
    assert runner.invoke(app, ["compare", str(good), str(good)]).exit_code == 0


def test_deltas_equal_the_summaries_of_real_chance_and_tiny_model_runs(tmp_path, tiny_kosmos2):
    chance = chance_run(tmp_path / "chance", limit=6)
    tiny = tiny_raven_run(tmp_path / "tiny", tiny_kosmos2, limit=6)
    result = compare_runs(find_runs([chance]), find_runs([tiny]))
    base = json.loads((chance / "summary.json").read_text())["metrics"]
    cand = json.loads((tiny / "summary.json").read_text())["metrics"]
    for m in result.metrics:
        assert m.delta == pytest.approx((cand[m.metric]["value"] - base[m.metric]["value"]) * 100)
        assert m.n == 6


def test_incomparable_runs_are_refused_with_the_field_that_differs(tmp_path):
    zero = chance_run(tmp_path / "a")
    other_split = tmp_path / "b"
    other = chance_run(other_split)
    summary_path = other / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["identity"]["prompt_hash"] = "0" * 64  # as if the prompt template had been edited
    summary_path.write_text(json.dumps(summary))
    with pytest.raises(UserError, match="prompt hash differs"):
        compare_runs(find_runs([zero]), find_runs([other]))
    forced = compare_runs(find_runs([zero]), find_runs([other]), force=True)
    assert any("prompt hash" in note for note in forced.notes)
    result = CliRunner().invoke(app, ["compare", str(zero), str(other)])
    assert result.exit_code == 2 and "prompt hash differs" in result.output


def test_results_roots_pair_runs_by_setting_and_report_the_unpaired(tmp_path):
    base_root, cand_root = tmp_path / "base", tmp_path / "cand"
    chance_run(base_root, seed=1)
    chance_run(base_root, seed=2)
    chance_run(cand_root, seed=1)
    result = compare_runs(find_runs([base_root]), find_runs([cand_root]))
    assert {m.metric for m in result.metrics} == {"accuracy", "accuracy_yes_vs_no"}
    assert all(m.delta == 0 for m in result.metrics)  # the chance baseline with the same seed is the same run
    assert any(note.startswith("only in the baseline: raven") for note in result.notes)
    with pytest.raises(UserError, match="no run of the candidate"):
        compare_runs(find_runs([base_root]), find_runs([chance_run(tmp_path / "x", seed=9)]))


def test_runs_on_partly_different_examples_are_compared_on_the_shared_ones(tmp_path):
    small = chance_run(tmp_path / "small", limit=10)
    large = chance_run(tmp_path / "large", limit=30)
    result = compare_runs(find_runs([small]), find_runs([large]))
    assert all(m.n == 10 for m in result.metrics)
    assert all(m.delta == 0 for m in result.metrics)  # same seed, same first ten examples
    assert any("the 10 examples both runs scored" in note for note in result.notes)
