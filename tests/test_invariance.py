"""`check-invariance`: batch size 1 against the run's batch size, with scripted backends whose batch effects are
known exactly, and with the tiny Kosmos-2 model (which must be invariant)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.core.backend import Backend, BackendInfo
from kosmos_eval.core.registry import BACKENDS
from kosmos_eval.core.types import GenerateRequest, RankRequest, RankResult
from kosmos_eval.generators.captions import write_json
from kosmos_eval.generators.pictures import make_image
from kosmos_eval.runner.invariance import (
    ArgmaxChange,
    GenerationChange,
    LogprobDifference,
    RecordChange,
    _differing_fields,
    check_invariance,
)

runner = CliRunner()

# Five memes; the scripted backends read each one's base log P(" yes") from its image key. Multiples of 1/64 so
# every sum below is exact in binary floating point.
MEME_BASES = {"01": -1 - 2 / 64, "02": -1 - 5 / 64, "03": -0.5, "04": -1 - 3 / 64, "05": -1 - 2 / 64}
MEME_LABELS = {"01": 1, "02": 0, "03": 1, "04": 0, "05": 0}
LOGPROB_NO = -1.0


def write_memes(root: Path) -> Path:
    """A tiny Hateful Memes release: img/<id>.png and dev_seen.jsonl (the task's default split)."""
    (root / "img").mkdir(parents=True)
    rows = []
    for index, (meme, label) in enumerate(MEME_LABELS.items()):
        make_image(index, (8, 6)).save(root / "img" / f"{meme}.png")
        rows.append(json.dumps({"id": meme, "img": f"img/{meme}.png", "label": label, "text": f"meme {meme}"}))
    (root / "dev_seen.jsonl").write_text("\n".join(rows) + "\n")
    return root


def meme_of(request: RankRequest | GenerateRequest) -> str:
    (image,) = request.context.images
    return Path(image.key).stem


class MemeRanker(Backend):
    """log P(" yes") = the meme's base + `shift_per_request` x (requests in the batch); log P(" no") = -1."""

    name = "meme-ranker"

    def __init__(self, seed: int = 1234, device: str | None = None, shift_per_request: float = 0.0) -> None:
        self.shift_per_request = shift_per_request
        self.batch_sizes: list[int] = []

    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        self.batch_sizes.append(len(requests))
        shift = self.shift_per_request * len(requests)
        yes = [MEME_BASES[meme_of(request)] + shift for request in requests]
        return [RankResult((value, LOGPROB_NO), (1, 1), (False, False)) for value in yes]

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        raise AssertionError("hateful_memes only ranks")

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": self.name}

    def default_batch_size(self) -> int:
        return 4


class SteadyMemeRanker(MemeRanker):
    """Registered under --model for the CLI tests; ignores the batch (shift 0)."""

    name = "steady-memes"

    def __init__(self, seed: int = 1234, device: str | None = None, **model_args: str) -> None:
        super().__init__(seed, device, shift_per_request=0.0)


class ShiftingMemeRanker(MemeRanker):
    name = "shifting-memes"

    def __init__(self, seed: int = 1234, device: str | None = None, **model_args: str) -> None:
        super().__init__(seed, device, shift_per_request=1 / 64)


def memes_config(data_dir: Path, **changes: Any) -> RunConfig:
    return RunConfig(task="hateful_memes", backend="meme-ranker", data_dir=str(data_dir), **changes)


def test_batch_dependent_logprobs_show_the_exact_difference_and_the_flipped_predictions(tmp_path):
    backend = MemeRanker(shift_per_request=1 / 64)
    report = check_invariance(memes_config(write_memes(tmp_path)), backend, 4, 1e-3, progress=False)
    # Batched pass: the runner's step rule takes 4 examples (at least 4, and 4 requests fill a batch of 4), then
    # the last one, so batches are [01 02 03 04] and [05]; the reference pass sends 5 batches of 1.
    assert backend.batch_sizes == [1, 1, 1, 1, 1, 4, 1]
    # yes at batch size 1 = base + 1/64; batched = base + 4/64 for 01-04 (difference 3/64) and base + 1/64 for 05.
    assert report.max_logprob_difference == 3 / 64 == 0.046875
    # the first of the four equal differences, in slice order: meme 01, its only request, " yes"
    assert report.largest == LogprobDifference("01", 0, " yes", -1 - 1 / 64, -1 + 2 / 64, 3 / 64)
    # 01: -1-1/64 < -1 -> " no" at batch size 1, but -1+2/64 > -1 -> " yes" batched; 04: -1-2/64 -> -1+1/64 flips
    # too; 02 stays below -1 (-1-4/64, -1-1/64), 03 stays above (-0.5+1/64, -0.5+4/64), 05 is alone both times.
    assert report.argmax_changes == [ArgmaxChange("01", 0, " no", " yes"), ArgmaxChange("04", 0, " no", " yes")]
    # Records: logprob_yes moves by 3/64 and p_yes = sigmoid(yes - no) by more than 1e-3 for 01-04 (03: sigmoid
    # (0.5+4/64) - sigmoid(0.5+1/64) = 0.6370 - 0.6261 = 0.011); prediction and correct flip for 01 and 04.
    # (`score` is what ROC AUC ranks by: p_yes under the default auc_score=normalised)
    flipped = ("correct", "logprob_yes", "p_yes", "prediction", "score")
    assert report.record_changes == [
        RecordChange("01", flipped),
        RecordChange("02", ("logprob_yes", "p_yes", "score")),
        RecordChange("03", ("logprob_yes", "p_yes", "score")),
        RecordChange("04", flipped),
    ]
    assert report.changed_examples == ["01", "02", "03", "04"]
    assert (report.rank_requests, report.generate_requests, report.continuations) == (5, 0, 10)
    assert report.batch_size == 4 and report.examples == 5 and not report.invariant
    data = report.to_dict()
    assert data["invariant"] is False and data["largest"]["example_id"] == "01"


def test_a_difference_within_the_tolerance_is_invariant_only_when_no_prediction_flips(tmp_path):
    data = write_memes(tmp_path)
    # shift 1/1024 per request: difference 3/1024 = 0.0029 for 01-04, no " yes"/" no" order flips (01: -1-2/64
    # + 4/1024 < -1), p_yes moves by at most 0.0029/4 < 1e-3 but logprob_yes by 0.0029 > 1e-3 -> not invariant
    report = check_invariance(memes_config(data, limit=4), MemeRanker(shift_per_request=1 / 1024), 4, 1e-3, False)
    assert report.max_logprob_difference == 3 / 1024 and report.argmax_changes == []
    assert [c.fields for c in report.record_changes] == [("logprob_yes",)] * 4 and not report.invariant
    # with --tolerance 0.01 the same difference passes and every record is equal within it
    report = check_invariance(memes_config(data, limit=4), MemeRanker(shift_per_request=1 / 1024), 4, 1e-2, False)
    assert report.max_logprob_difference == 3 / 1024 and report.changed_examples == [] and report.invariant


def run_cli(monkeypatch, tmp_path: Path, backend: type, *args: str):
    info = BackendInfo(name=backend.name, implementation=backend, description="test backend")
    monkeypatch.setitem(BACKENDS._entries, backend.name, info)
    tmp_path.mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path)
    data = write_memes(tmp_path / "memes")
    return runner.invoke(
        app, ["check-invariance", "hateful_memes", "--model", backend.name, "--data-dir", str(data), *args]
    )


def test_cli_batch_independent_backend_exits_0_and_writes_no_run_folder(monkeypatch, tmp_path):
    result = run_cli(monkeypatch, tmp_path, SteadyMemeRanker, "--json", "report.json", "--no-progress")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # --batch-size auto -> the backend's default_batch_size() = 4
    assert lines[0].startswith("hateful_memes | steady-memes | split dev_seen | 0-shot | seed 1234 | n=5")
    assert "batch size 1 vs 4 | tolerance 0.001" in lines[0]
    assert "max |Δ log-likelihood|    0" in result.output and lines[-2] == "invariant"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["max_logprob_difference"] == 0.0 and report["invariant"] is True
    assert (report["rank_requests"], report["continuations"], report["changed_examples"]) == (5, 10, [])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["memes", "report.json"]  # no runs/


def test_cli_batch_dependent_backend_exits_1_with_the_changes_listed(monkeypatch, tmp_path):
    result = run_cli(monkeypatch, tmp_path, ShiftingMemeRanker, "--batch-size", "4", "--no-progress")
    assert result.exit_code == 1, result.output
    assert "0.0469 (example 01, request 0, continuation ' yes': -1.015625 vs -0.96875)" in result.output
    assert "top continuation changed  2 (01 #0 ' no' -> ' yes'; 04 #0 ' no' -> ' yes')" in result.output
    assert result.output.splitlines()[-1] == "NOT invariant: 4 of 5 examples changed, max difference above 0.001"


def test_cli_bad_input_is_one_line_and_exit_2(monkeypatch, tmp_path):
    for args, message in [
        (("--batch-size", "1"), "error: --batch-size 1 would compare batch size 1 with itself"),
        (("--limit", "0"), "error: --limit must be at least 1, got 0"),
        (("--tolerance", "-1"), "error: --tolerance must be a non-negative number"),
        (("--split", "nope"), "error: Task 'hateful_memes' has splits dev_seen, dev_unseen, dev, train"),
    ]:
        result = run_cli(monkeypatch, tmp_path / args[0].strip("-"), SteadyMemeRanker, *args, "--no-progress")
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith(message), result.output


class RationaleModel(Backend):
    """Rendered SST-2 chain-of-thought: stage 1 generates a rationale, which for negative/b depends on the batch
    size; stage 2 ranks " negative" (-1) above " positive" (-2) whatever the batch."""

    name = "rationale-model"

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        keys = [request.context.images[0].key for request in requests]
        return [f"a sentence in a batch of {len(requests)}" if k.endswith("b.png") else "a sentence" for k in keys]

    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        return [RankResult((-1.0, -2.0), (1, 1), (False, False)) for _ in requests]

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": self.name}

    def default_batch_size(self) -> int:
        return 4


def test_changed_rationale_is_reported_and_its_second_stage_not_compared(tmp_path):
    for index, name in enumerate(["negative/a", "negative/b", "positive/c", "positive/d"]):
        path = tmp_path / "rendered-sst2" / "test" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (6, 4), (index * 40, 0, 0)).save(path)
    config = RunConfig(task="rendered_sst2", data_dir=str(tmp_path), task_options={"cot": "true"})
    report = check_invariance(config, RationaleModel(), None, 1e-3, progress=False)
    # one step of 4 examples: stage 1 is one batch of 4 generations, stage 2 one batch of 4 rankings
    assert report.generation_changes == [
        GenerationChange("negative/b", 0, "a sentence in a batch of 1", "a sentence in a batch of 4")
    ]
    # the stage-2 ranking of negative/b answered different prompts, so it is not compared; 3 x 2 continuations are
    assert (report.generate_requests, report.rank_requests, report.not_compared, report.continuations) == (4, 4, 1, 6)
    assert report.max_logprob_difference == 0.0 and report.argmax_changes == []
    assert report.record_changes == [RecordChange("negative/b", ("rationale", "stage2_prompt"))]
    assert report.changed_examples == ["negative/b"] and not report.invariant


def test_record_fields_compare_floats_within_tolerance_and_everything_else_exactly():
    one = {"p": 0.5, "n": 3, "ok": True, "candidates": [{"s": -1.0}, {"s": -2.0}], "ties": [1], "gen": "a"}
    many = {"p": 0.5005, "n": 3, "ok": False, "candidates": [{"s": -1.0}, {"s": -2.01}], "ties": [], "gen": "a"}
    # p: |0.5005 - 0.5| = 5e-4 <= 1e-3 equal; ok: True != False; candidates[1].s: 0.01 > 1e-3; ties: lengths 1 vs 0
    assert _differing_fields(one, many, 1e-3) == {"ok", "candidates[].s", "ties"}
    assert _differing_fields({"x": float("nan")}, {"x": float("nan")}, 0.0) == set()
    assert _differing_fields({"x": 1}, {"y": 1}, 0.0) == {"x", "y"}


def test_tiny_kosmos2_is_batch_invariant_on_raven(kosmos2_backend):
    # the bundled IQ50 sample: 2 problems x 6 candidates = 12 requests, " Yes" and " No" each -> 24 log-likelihoods
    report = check_invariance(RunConfig(task="raven", limit=2), kosmos2_backend, 4, 1e-4, progress=False)
    assert (report.rank_requests, report.continuations, report.batch_size) == (12, 24, 4)
    assert report.max_logprob_difference < 1e-4
    assert report.argmax_changes == [] and report.record_changes == [] and report.invariant


def test_tiny_kosmos2_is_batch_invariant_on_hateful_memes(tmp_path, kosmos2_backend):
    config = RunConfig(task="hateful_memes", data_dir=str(write_memes(tmp_path)))
    report = check_invariance(config, kosmos2_backend, 3, 1e-4, progress=False)
    assert (report.rank_requests, report.continuations) == (5, 10)
    assert report.max_logprob_difference < 1e-4 and report.changed_examples == [] and report.invariant


def test_json_report_round_trips(tmp_path):
    report = check_invariance(memes_config(write_memes(tmp_path)), MemeRanker(shift_per_request=1 / 64), 4, 1e-3, False)
    path = write_json(tmp_path / "r.json", report.to_dict())
    data = json.loads(path.read_text())
    assert data["argmax_changes"][0] == {"example_id": "01", "request": 0, "at_one": " no", "at_batch": " yes"}
    assert data["record_changes"][1] == {"example_id": "02", "fields": ["logprob_yes", "p_yes", "score"]}
