"""Data-parallel runs: torchrun with 2 CPU processes (gloo) gives the single-process run's records and metrics,
and a run can be resumed with another number of processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.runner.distributed import World
from kosmos_eval.runner.results import RunFolder
from kosmos_eval.runner.run import evaluate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(processes: int, output: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={processes}",
        f"--master-port={free_port()}", "-m", "kosmos_eval", "run", "raven", "--model", "chance",
        "--output", str(output), "--no-progress", *args,
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def single(output: Path, limit: int | None = None):
    return evaluate(RunConfig(task="raven", backend="chance", output_dir=str(output), limit=limit), progress=False)


def run_dir(output: Path) -> Path:
    (path,) = [p for p in output.iterdir() if p.is_dir()]
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "samples.jsonl").read_text().splitlines()]


def test_shards_cover_every_example_once():
    items = list(range(11))
    shards = [World(rank, 3).shard(items) for rank in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
    reference = single(tmp_path / "one")
    result = torchrun(2, tmp_path / "two")
    folder = run_dir(tmp_path / "two")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["metrics"] == reference.summary["metrics"]
    assert json.loads((folder / "timing.json").read_text())["processes"] == 2
    # rank 0 merged the rank files into one samples.jsonl in the task's order, identical to one process
    assert lines(folder) == lines(reference.run_dir)
    assert not list(folder.glob("samples.rank*.jsonl"))
    assert result.stdout.count("run folder:") == 1  # only rank 0 reports


@pytest.mark.slow
def test_resume_with_another_number_of_processes(tmp_path):
    reference = single(tmp_path / "one")
    # started on two processes (20 problems), finished on one
    torchrun(2, tmp_path / "a", "--limit", "20")
    finished = single(tmp_path / "a")
    assert (finished.resumed, finished.computed) == (20, reference.computed - 20)
    assert finished.summary["metrics"] == reference.summary["metrics"]
    # started on one (7 problems), finished on two
    single(tmp_path / "b", limit=7)
    torchrun(2, tmp_path / "b")
    summary = json.loads((run_dir(tmp_path / "b") / "summary.json").read_text())
    assert json.loads((run_dir(tmp_path / "b") / "timing.json").read_text())["examples_resumed"] == 7
    assert summary["metrics"] == reference.summary["metrics"]
    assert lines(run_dir(tmp_path / "b")) == lines(reference.run_dir)


def test_rank_files_left_by_a_crash_are_resumed_by_one_process(tmp_path):
    reference = single(tmp_path / "one")
    # a data-parallel run killed midway: each rank's file holds part of its share, the last line cut short
    crashed = tmp_path / "crashed" / reference.run_dir.name
    crashed.mkdir(parents=True)
    (crashed / "run.json").write_text((reference.run_dir / "run.json").read_text())
    records = lines(reference.run_dir)
    for rank in (0, 1):
        share = [json.dumps(r) + "\n" for r in records[rank::2][:9]]
        (crashed / f"samples.rank{rank}.jsonl").write_text("".join(share) + share[0][:25])
    assert len(RunFolder(crashed).load_records(repair=False)) == 18
    resumed = single(tmp_path / "crashed")
    assert (resumed.resumed, resumed.computed) == (18, reference.computed - 18)
    assert resumed.summary["metrics"] == reference.summary["metrics"]
    assert lines(crashed) == records and not list(crashed.glob("samples.rank*.jsonl"))
