"""Nothing is lost on a crash: an interrupted run, rerun, ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json

import pytest

from kosmos_eval.backends.chance import ChanceBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.runner.run import evaluate


class CrashingBackend(ChanceBackend):
    """The chance baseline that dies (like a killed job) after a number of rank calls."""

    def __init__(self, calls_before_crash: int) -> None:
        super().__init__(seed=1234)
        self.calls_left = calls_before_crash

    def rank(self, requests):
        if self.calls_left == 0:
            raise KeyboardInterrupt
        self.calls_left -= 1
        return super().rank(requests)


def records(run_dir):
    lines = (run_dir / "samples.jsonl").read_text().splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda r: r["id"])


def config(tmp_path, name):
    return RunConfig(task="raven", backend="chance", output_dir=str(tmp_path / name), batch_size=12)


def test_interrupted_run_resumes_to_the_uninterrupted_summary(tmp_path):
    full = evaluate(config(tmp_path, "full"), progress=False)

    with pytest.raises(KeyboardInterrupt):
        evaluate(config(tmp_path, "resumed"), backend=CrashingBackend(calls_before_crash=5), progress=False)
    partial = records(next((tmp_path / "resumed").iterdir()))
    assert 0 < len(partial) < 50

    resumed = evaluate(config(tmp_path, "resumed"), progress=False)
    assert resumed.resumed == len(partial)
    assert resumed.computed == 50 - len(partial)
    assert resumed.summary["metrics"] == full.summary["metrics"]
    assert records(resumed.run_dir) == records(full.run_dir)


def test_line_cut_short_by_a_crash_is_dropped_and_recomputed(tmp_path):
    full = evaluate(config(tmp_path, "full"), progress=False)
    run = evaluate(config(tmp_path, "cut"), progress=False)
    samples = run.run_dir / "samples.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(lines[:20]) + lines[20][: len(lines[20]) // 2])  # a crash mid-write
    again = evaluate(config(tmp_path, "cut"), progress=False)
    assert again.resumed == 20 and again.computed == 30
    assert records(again.run_dir) == records(full.run_dir)


def test_limit_extends_the_same_run(tmp_path):
    first = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=10), progress=False)
    more = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=25), progress=False)
    assert more.run_dir == first.run_dir and more.resumed == 10 and more.computed == 15
    assert more.metrics["accuracy"].n == 25


def test_summary_records_what_reproduces_the_run(tmp_path):
    outcome = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=6), progress=False)
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    assert summary["metrics"]["accuracy"]["n"] == 6
    assert set(summary["metrics"]["accuracy"]) == {"value", "ci_low", "ci_high", "n"}
    assert summary["fingerprint"] == {"backend": "chance", "seed": 1234}
    assert summary["identity"]["prompt_hash"]
    assert summary["versions"]["kosmos-eval"] and summary["versions"]["torch"]
    assert "commit" in summary["harness"]
    assert summary["data"]["origin"] == "bundled sample"
    timing = json.loads((outcome.run_dir / "timing.json").read_text())
    assert timing["examples_computed"] == 6 and timing["finished"]
    # when and how fast stay out of summary.json, which a resumed run rewrites byte for byte
    assert "timing" not in summary and "created" not in summary


def test_a_different_model_never_writes_into_an_existing_run(tmp_path):
    from kosmos_eval.errors import UserError

    outcome = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=3), progress=False)
    meta = json.loads((outcome.run_dir / "run.json").read_text())
    meta["fingerprint"]["seed"] = 99  # as if other weights had been put behind the same path
    (outcome.run_dir / "run.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="different model"):
        evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=5), progress=False)


def test_speed_settings_are_not_run_identity():
    """Packing budgets, image workers, padding side and the like change how fast, not what: same folder."""
    plain = RunConfig(task="raven", backend="hf", model_args={"pretrained": "m"})
    tuned = RunConfig(
        task="raven",
        backend="hf",
        model_args={"pretrained": "m", "max_pack_tokens": "256", "image_workers": "0", "padding_side": "left"},
    )
    other = RunConfig(task="raven", backend="hf", model_args={"pretrained": "m", "dtype": "bfloat16"})
    key = RunConfig.identity_hash
    assert key(plain.identity("p", "test")) == key(tuned.identity("p", "test"))
    assert key(plain.identity("p", "test")) != key(other.identity("p", "test"))


def test_a_smaller_limit_reports_a_slice_and_never_shrinks_the_summary(tmp_path):
    """After a 6-example run, `--limit 2` into the same folder prints the slice's numbers, marked as a slice,
    and summary.json still covers all six records (the leaderboard and compare read it)."""
    six = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=6), progress=False)
    summary_before = (six.run_dir / "summary.json").read_bytes()
    two = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=2), progress=False)
    assert two.run_dir == six.run_dir and two.computed == 0
    assert two.is_slice and two.folder_records == 6 and two.summary["slice"] == {"n": 2, "folder_records": 6}
    assert two.metrics["accuracy"].n == 2
    assert (six.run_dir / "summary.json").read_bytes() == summary_before
    assert json.loads(summary_before)["n"] == 6
    # the full run again is not a slice, and writes the same summary
    again = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=6), progress=False)
    assert not again.is_slice and (six.run_dir / "summary.json").read_bytes() == summary_before


def test_a_slice_run_prints_that_it_is_one(tmp_path):
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    args = ["run", "raven", "--model", "chance", "--output", str(tmp_path), "--no-progress"]
    assert CliRunner().invoke(app, [*args, "--limit", "6"]).exit_code == 0
    result = CliRunner().invoke(app, [*args, "--limit", "2"])
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())  # lines wrap at 100 columns
    assert "n=2 (slice: the folder holds 6 records)" in shown
    assert "summary.json covers all 6 of its records and was left as it is" in shown


@pytest.mark.slow
def test_checks_run_when_nothing_is_left_to_compute(tmp_path, tiny_kosmos2):
    """A finished run asked again with a device that is not there, or a model arg that is wrong, is refused as
    a fresh run would be, not reported "done" because nothing needed computing."""
    import torch

    from kosmos_eval.errors import UserError

    def run(**args):
        model_args = {"pretrained": str(tiny_kosmos2), **args}
        config = RunConfig(task="raven", backend="hf", model_args=model_args, output_dir=str(tmp_path), limit=2)
        return evaluate(config, progress=False)

    assert run(device="cpu").computed == 2
    assert run(device="cpu").computed == 0  # finished: nothing to compute
    with pytest.raises(UserError, match="packing='maybe'"):
        run(device="cpu", packing="maybe")
    with pytest.raises(UserError, match="dtype='float8'"):
        run(device="cpu", dtype="float8")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU is visible"):
            run(device="cuda")


def test_an_uncommitted_tail_is_dropped_with_one_line_saying_how_much_and_why(tmp_path, caplog):
    outcome = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=4), progress=False)
    samples = outcome.run_dir / "samples.jsonl"
    committed = samples.read_bytes()
    tail = b'{"id": "exp-9", "prompt": "cut sh'  # a step's write the run did not live to commit
    with samples.open("ab") as handle:
        handle.write(tail)
    from kosmos_eval.reporting.runs import load_run

    with caplog.at_level("WARNING"):
        assert len(load_run(outcome.run_dir).records) == 4  # a reader leaves the file alone
    assert samples.read_bytes() != committed
    assert f"ignoring its last {len(tail)} bytes: a step not yet committed" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        evaluate(RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=4), progress=False)
    assert samples.read_bytes() == committed
    assert [r.message for r in caplog.records if "bytes" in r.message] == [
        f"{samples}: dropping its last {len(tail)} bytes: a step that was being written when the run stopped, never "
        "committed; it is computed again"
    ]
