"""Runs that cannot be corrupted: byte-equal resume from a crash at any write, one writer per folder, damaged
files and file-system failures reported in one line naming the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kosmos_eval.backends.chance import ChanceBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.core.files import OutputError
from kosmos_eval.core.seeding import argmax_random_ties, seeded_rng
from kosmos_eval.errors import UserError
from kosmos_eval.runner import results as results_module
from kosmos_eval.runner.lock import RunInUse, RunLock
from kosmos_eval.runner.run import evaluate
from tests.runs import raven_data

VOLATILE = {"timing", "created", "run_dir", "harness", "versions"}


class BatchSensitive(ChanceBackend):
    """The chance scores plus a last-bits shift that depends on how many requests share the batch, as a real
    model's numbers do: records differ in their bytes unless every example meets the same neighbours."""

    def rank(self, requests):
        shift = 1e-9 * len(requests)
        return [
            type(r)(tuple(v + shift for v in r.logprobs), r.num_tokens, r.is_greedy) for r in super().rank(requests)
        ]


def _config(output: Path, **changes) -> RunConfig:
    base = {"task": "raven", "backend": "chance", "data_dir": str(raven_data()), "limit": 20, "batch_size": 4}
    return RunConfig(output_dir=str(output), **{**base, **changes})


def _run(output: Path, **changes):
    return evaluate(_config(output, **changes), BatchSensitive(seed=1234), progress=False)


def _summary(run_dir: Path) -> dict:
    """The summary without what legitimately differs between two folders (times, paths, versions)."""
    summary = {k: v for k, v in json.loads((run_dir / "summary.json").read_text()).items() if k not in VOLATILE}
    summary["config"] = {k: v for k, v in summary["config"].items() if k != "output_dir"}
    return summary


class Killed(BaseException):
    """What kill -9 looks like from inside: nothing after it runs (not even except Exception handlers)."""


def _crash_at(monkeypatch, step: int, cut: str) -> None:
    """Make the `step`-th append die: before writing (`nothing`), half-way through its bytes (`half`), or
    after all its bytes but before its commit (`uncommitted`)."""
    original = results_module.RunFolder.append
    calls = {"n": 0}

    def append(self, records):
        if calls["n"] == step:
            records = list(records)
            data = "".join(json.dumps(r, default=str) + "\n" for r in records).encode()
            if cut != "nothing":
                if not results_module.commits_path(self.samples_path).exists():
                    results_module._append_commit(self.samples_path, 0)
                with self.samples_path.open("ab") as handle:
                    handle.write(data if cut == "uncommitted" else data[: len(data) // 2])
            raise Killed
        calls["n"] += 1
        return original(self, records)

    monkeypatch.setattr(results_module.RunFolder, "append", append)


def test_a_crash_at_any_write_resumes_to_byte_identical_records_and_summary(tmp_path, monkeypatch):
    reference = _run(tmp_path / "reference")
    expected_bytes = (reference.run_dir / "samples.jsonl").read_bytes()
    steps = len((reference.run_dir / "samples.jsonl.commits").read_text().split()) - 1
    assert steps >= 4  # the run really has several steps to be cut between
    for step in range(steps):
        for cut in ("nothing", "half", "uncommitted"):
            output = tmp_path / f"crash-{step}-{cut}"
            with monkeypatch.context() as patched:
                _crash_at(patched, step, cut)
                with pytest.raises(Killed):
                    _run(output)
            resumed = _run(output)
            assert (resumed.run_dir / "samples.jsonl").read_bytes() == expected_bytes, (step, cut)
            assert _summary(resumed.run_dir) == _summary(reference.run_dir), (step, cut)


def test_the_batch_sensitive_backend_really_tells_batchings_apart(tmp_path):
    """Without step-wise commits a resume would batch examples with other neighbours: their bytes differ."""
    one = (_run(tmp_path / "a", batch_size=1).run_dir / "samples.jsonl").read_bytes()
    four = (_run(tmp_path / "b").run_dir / "samples.jsonl").read_bytes()
    assert one != four


def test_a_larger_limit_or_another_batch_size_never_changes_a_prediction(tmp_path):
    small = _run(tmp_path / "extend", limit=10)
    extended = _run(tmp_path / "extend", limit=20)
    assert extended.run_dir == small.run_dir and extended.resumed == 10
    other = _run(tmp_path / "batch", batch_size=7)
    predictions = {
        path.name: [json.loads(line)["prediction"] for line in (run.run_dir / "samples.jsonl").read_text().splitlines()]
        for path, run in ((Path("extended"), extended), (Path("batch7"), other))
    }
    assert predictions["extended"] == predictions["batch7"]
    assert extended.summary["metrics"] == other.summary["metrics"]


def test_near_ties_within_the_tolerance_go_to_the_seeded_rule():
    rng = lambda: seeded_rng(1, "tie-break", "x")  # noqa: E731
    index, tied = argmax_random_ties([-1.0, -1.0 + 5e-7, -3.0], rng())
    assert tied == [0, 1]
    again, _ = argmax_random_ties([-1.0 + 5e-7, -1.0, -3.0], rng())  # the noise the other way round
    assert again == index
    assert argmax_random_ties([-1.0, -1.001], rng()) == (0, [0])  # a real gap is not a tie


def test_a_generator_factory_is_called_only_on_a_tie_and_draws_what_the_generator_draws():
    calls = []

    def factory():
        calls.append(1)
        return seeded_rng(1, "tie-break", "x")

    assert argmax_random_ties([-2.0, -1.0, -3.0], factory) == (1, [1]) and not calls  # no tie: never seeded
    scores = [-1.0, -1.0, -1.0, -1.0, -5.0]
    assert argmax_random_ties(scores, factory) == argmax_random_ties(scores, seeded_rng(1, "tie-break", "x"))
    assert len(calls) == 1


# -- one writer per folder ---------------------------------------------------------------------------------


def test_a_second_process_on_the_same_folder_refuses_at_once_naming_the_holder(tmp_path):
    run_dir = _run(tmp_path / "runs", limit=4).run_dir
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from kosmos_eval.runner.lock import RunLock
                with RunLock(Path({str(run_dir)!r})):
                    print("locked", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.perf_counter()
        with pytest.raises(RunInUse, match=rf"{run_dir} is being computed by pid {holder.pid} on "):
            _run(tmp_path / "runs", limit=8)
        assert time.perf_counter() - started < 5  # refused at once, not after waiting or computing
        holder.kill()  # kill -9: the lock is left behind...
        holder.wait()
        again = _run(tmp_path / "runs", limit=8)  # ...and taken over
        assert again.resumed == 4 and again.computed == 4
    finally:
        holder.kill()


def test_the_cli_refuses_a_held_folder_in_one_line_with_exit_2(tmp_path):
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    run_dir = _run(tmp_path / "runs", limit=4, batch_size=None).run_dir
    with RunLock(run_dir):
        args = ["run", "raven", "--model", "chance", "--limit", "4", "--output", str(tmp_path / "runs")]
        args += ["--data-dir", str(raven_data()), "--no-progress"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "is being computed by pid" in lines[0]


def test_a_run_that_writes_nothing_leaves_no_folder_behind(tmp_path):
    def refuse(config):
        raise UserError("model cannot be loaded")

    with pytest.raises(UserError):
        evaluate(_config(tmp_path / "runs"), refuse, progress=False)
    assert list((tmp_path / "runs").iterdir()) == []


# -- damaged files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"foo": 1}\n', r"samples.jsonl:3: not a kosmos-eval sample record \(no 'id' field\)"),
        (b"[1, 2]\n", r"samples.jsonl:3: not a kosmos-eval sample record \(a JSON object was expected"),
        (b'{"record_format": 2, "id": "x"}\n', r"samples.jsonl:3: field 'prompt': missing"),
        (b'{"record_format": 9, "id": "x"}\n', r"samples.jsonl:3: a sample record of format 9, written by a newer"),
        (b"\xff\xfe not utf-8\n", r"samples.jsonl:3: not a JSON record"),
    ],
)
def test_a_damaged_samples_line_is_one_error_naming_file_and_line(tmp_path, line, message):
    run_dir = _run(tmp_path, limit=4).run_dir
    samples = run_dir / "samples.jsonl"
    lines = samples.read_bytes().splitlines(keepends=True)
    damaged = b"".join(lines[:2]) + line + b"".join(lines[2:])
    samples.write_bytes(damaged)
    (run_dir / "samples.jsonl.commits").write_text(f"{len(damaged)}\n")
    with pytest.raises(UserError, match=message):
        _run(tmp_path, limit=4)


def test_a_duplicate_record_that_differs_is_an_error_an_identical_one_is_not(tmp_path):
    run_dir = _run(tmp_path, limit=4).run_dir
    samples = run_dir / "samples.jsonl"
    first = json.loads(samples.read_text().splitlines()[0])
    rank_file = run_dir / "samples.rank1.jsonl"  # a data-parallel merge interrupted after writing samples.jsonl
    rank_file.write_text(json.dumps(first) + "\n")
    assert _run(tmp_path, limit=4).resumed == 4
    rank_file.write_text(json.dumps({**first, "prediction": (first["prediction"] + 1) % 6}) + "\n")
    with pytest.raises(UserError, match=r"samples.rank1.jsonl:1: a second record of example .* that differs"):
        _run(tmp_path, limit=4)


@pytest.mark.parametrize("content", ["", '{"identity": ', "\x00\x00"])
def test_an_empty_or_truncated_run_json_is_one_line(tmp_path, content):
    run_dir = _run(tmp_path, limit=2).run_dir
    (run_dir / "run.json").write_text(content)
    with pytest.raises(UserError, match=r"run.json: the run identity file \(run.json\) is (empty|damaged)"):
        _run(tmp_path, limit=2)


# -- the file system says no -------------------------------------------------------------------------------


def test_output_that_is_a_file_is_refused_before_any_model_loads(tmp_path):
    target = tmp_path / "not-a-folder"
    target.write_text("x")

    def never(config):
        raise AssertionError("the model must not be loaded")

    with pytest.raises(OutputError, match=r"--output .*not-a-folder is a file, not a folder"):
        evaluate(_config(target), never, progress=False)


def test_read_only_output_is_refused_before_any_model_loads(tmp_path, monkeypatch):
    from kosmos_eval.runner import run as run_module

    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o500)  # read-only for a normal user; root writes through, so ask as it would
    monkeypatch.setattr(run_module.os, "access", lambda path, mode: False)

    def never(config):
        raise AssertionError("the model must not be loaded")

    with pytest.raises(OutputError, match="cannot write there"):
        evaluate(_config(tmp_path / "ro"), never, progress=False)


def test_a_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch):
    import errno

    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results_module.os, "fsync", full)
    with pytest.raises(OutputError, match=r"^cannot (write|append to) /\S+: the disk is full; free space"):
        _run(tmp_path)
    monkeypatch.setattr(results_module.os, "fsync", real_fsync)
    resumed = _run(tmp_path)  # nothing half-counted: the rerun completes
    assert resumed.summary["n"] == 20


@pytest.mark.parametrize("content", ["", '{"task": "raven", "metr'])
def test_a_damaged_summary_is_one_line_for_every_reader(tmp_path, content):
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    run_dir = _run(tmp_path / "runs", limit=2).run_dir
    (run_dir / "summary.json").write_text(content)
    for command in (["leaderboard", str(tmp_path / "runs")], ["score", str(run_dir)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "summary.json: the summary is" in lines[0], lines
