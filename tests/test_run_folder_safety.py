"""A run folder cannot be turned against its user (issue 27): links planted in it are refused and the files they
point to never touched, another user's folder is refused, a killed write's temporary files and a finished run's
lock file do not stay behind, and the command recorded in the lock file carries no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.core.files import UnsafeFile
from kosmos_eval.errors import UserError
from kosmos_eval.runner import lock as lock_module
from kosmos_eval.runner.lock import RunInUse, RunLock
from kosmos_eval.runner.results import RunFolder
from kosmos_eval.runner.run import evaluate

fcntl = pytest.importorskip("fcntl")


def run(output: Path, limit: int = 4):
    """The chance baseline on the bundled Raven sample."""
    return evaluate(RunConfig(task="raven", backend="chance", output_dir=str(output), limit=limit), progress=False)


def refused(call, name: str, error: type[Exception] = UserError) -> str:
    """`call()` fails with one line naming `name`; returns the line."""
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and name in message, message
    return message


def plant_link(path: Path, victim: Path, content: bytes | None = None) -> bytes:
    """Replace `path` by a link to `victim` (holding `content`, or `path`'s own bytes); returns the victim's bytes."""
    victim.write_bytes(path.read_bytes() if content is None else content)
    path.unlink(missing_ok=True)
    path.symlink_to(victim)
    return victim.read_bytes()


# -- links planted in a run folder -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("samples.jsonl", None),  # reads as the run's own samples: a rerun would append to it
        ("samples.jsonl.commits", b"precious\n"),  # would be appended to, and samples.jsonl cut
        ("run.json", None),  # reads as the run's identity
        ("summary.json", b"precious\n"),
        ("timing.json", b"precious\n"),
        (".lock", b"precious\n"),  # was opened for append and truncated
    ],
)
def test_a_link_in_a_run_folder_is_refused_and_its_target_left_as_it_was(tmp_path, name, content):
    run_dir = run(tmp_path / "runs").run_dir
    (run_dir / name).touch()
    victim = tmp_path / "victim"
    before = plant_link(run_dir / name, victim, content)
    message = refused(lambda: run(tmp_path / "runs", limit=8), name, UnsafeFile)
    assert "symbolic link" in message
    assert victim.read_bytes() == before


@pytest.mark.parametrize("name", [".lock", ".lock.rank1"])
def test_the_lock_file_is_never_opened_through_a_link(tmp_path, name):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    (run_dir / name).symlink_to(victim)
    refused(lambda: RunLock(run_dir, rank=1 if name.endswith("rank1") else 0).__enter__(), name, UnsafeFile)
    assert victim.read_bytes() == b"precious\n"


def test_the_run_folder_opens_no_file_through_a_link_even_unlocked(tmp_path):
    """Readers (leaderboard, report) read a folder without its lock; rank files are appended to."""
    run_dir = run(tmp_path / "runs").run_dir
    victim = tmp_path / "victim"
    before = plant_link(run_dir / "samples.jsonl", victim)
    refused(lambda: RunFolder(run_dir).load_records(repair=False), "samples.jsonl", UnsafeFile)

    rank_file = run_dir / "samples.rank1.jsonl"
    rank_file.symlink_to(victim)
    refused(lambda: RunFolder(run_dir, rank=1).append([{"id": "x"}]), "samples.rank1.jsonl", UnsafeFile)

    (run_dir / "samples.jsonl").unlink()
    (run_dir / "samples.jsonl").write_bytes(before)
    plant_link(run_dir / "samples.jsonl.commits", tmp_path / "other", b"precious\n")
    refused(lambda: RunFolder(run_dir).append([{"id": "x"}]), "samples.jsonl.commits", UnsafeFile)
    assert victim.read_bytes() == before and (tmp_path / "other").read_bytes() == b"precious\n"
    assert (run_dir / "samples.jsonl").read_bytes() == before  # nothing appended before the refusal


@pytest.mark.parametrize("name", ["summary.json", "timing.json"])
def test_summary_files_are_not_written_over_a_link(tmp_path, name):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    (run_dir / name).symlink_to(victim)
    refused(lambda: RunFolder(run_dir).write_summary({"n": 1}, {"wall_seconds": 1}), name, UnsafeFile)
    assert victim.read_bytes() == b"precious\n" and (run_dir / name).is_symlink()


def test_an_export_is_not_written_over_a_link(tmp_path):
    from kosmos_eval.core.registry import TASKS

    task = TASKS.get("coco_caption")(seed=0, options={})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    export = run_dir / "captions_coco_caption_test_results.json"
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    export.symlink_to(victim)
    records = [{"id": "1", "image_id": 1, "prediction": "a cat"}]
    refused(lambda: task.export(records, run_dir, "test"), export.name, UnsafeFile)
    assert victim.read_bytes() == b"precious\n"


# -- whose folder ----------------------------------------------------------------------------------------------


def test_a_run_folder_of_another_user_is_refused_untouched(tmp_path, monkeypatch):
    run_dir = run(tmp_path / "runs").run_dir
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: uid + 1)  # tests cannot chown: be someone else instead
    message = refused(lambda: run(tmp_path / "runs", limit=8), str(run_dir), UnsafeFile)
    assert "another user" in message
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_a_linked_output_folder_and_a_linked_run_folder_of_ones_own_are_used(tmp_path):
    """results -> /scratch/results is common, and so is a run moved elsewhere and linked back."""
    (tmp_path / "scratch").mkdir()
    (tmp_path / "results").symlink_to(tmp_path / "scratch")
    first = run(tmp_path / "results")
    moved = tmp_path / "scratch-run"
    first.run_dir.rename(moved)
    first.run_dir.symlink_to(moved)
    again = run(tmp_path / "results", limit=8)
    assert again.resumed == 4 and again.computed == 4
    assert len((moved / "samples.jsonl").read_text().splitlines()) == 8


# -- what a run leaves behind ----------------------------------------------------------------------------------


def test_temporary_files_of_killed_writes_are_removed_by_the_next_run(tmp_path):
    run_dir = run(tmp_path / "runs").run_dir
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [
        run_dir / f".summary.json.{dead.pid}.0123abcd.tmp",
        run_dir / f".run.json.{dead.pid}.89abcdef.tmp",
        run_dir / f".captions_coco_caption_test_results.json.{dead.pid}.deadbeef.tmp",
    ]
    live = run_dir / f".summary-rescored-1.json.{os.getppid()}.0123abcd.tmp"  # `kosmos-eval score`, still writing
    kept = [live, run_dir / "notes.txt", run_dir / ".notes.tmp", run_dir / f".x.{dead.pid}.tmp"]
    for path in stale + kept:
        path.write_text("{")
    with RunLock(run_dir, rank=1):  # not rank 0: not the one that writes whole files
        assert all(path.exists() for path in stale)
    run(tmp_path / "runs", limit=8)
    assert [path for path in stale if path.exists()] == []
    assert all(path.exists() for path in kept)


def test_a_finished_or_failed_run_leaves_no_lock_file(tmp_path):
    run_dir = run(tmp_path / "runs").run_dir
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".lock")) == []
    (run_dir / ".lock.rank3").write_text("{}")  # left by a killed rank of an older version
    with pytest.raises(RuntimeError), RunLock(run_dir):
        raise RuntimeError("the model failed")
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".lock")) == [".lock.rank3"]
    with RunLock(tmp_path / "empty", rank=1):
        (tmp_path / "empty" / ".lock").write_text("{}")  # an empty folder's lock files all go, and the folder
    assert not (tmp_path / "empty").exists()


def test_a_lock_file_removed_between_open_and_flock_does_not_count(tmp_path, monkeypatch):
    """A finishing holder removes its lock file; a process that had opened it, and gets its flock once the
    holder lets go, must not take that for the lock while another process holds the new file."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text("{}")
    real_flock = fcntl.flock
    others: list[RunLock] = []
    between = [True]  # the first flock only: the other run's own flock goes through

    def flock(fd, operation):
        if operation & fcntl.LOCK_EX and between.pop() if between else False:
            os.unlink(run_dir / ".lock")  # the holder finishes...
            others.append(RunLock(run_dir).__enter__())  # ...and the next run locks the new file
        return real_flock(fd, operation)

    monkeypatch.setattr(lock_module.fcntl, "flock", flock)
    refused(lambda: RunLock(run_dir).__enter__(), str(run_dir), RunInUse)
    others[0].__exit__(None, None, None)
    with RunLock(run_dir):
        pass
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.json"]


@pytest.mark.slow
def test_many_processes_taking_and_dropping_the_lock_never_hold_it_together(tmp_path):
    """The lock file is removed on every exit, and the empty folder with it: mutual exclusion still holds."""
    script = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from kosmos_eval.runner.lock import RunInUse, RunLock
        run_dir, marker, held = Path({str(tmp_path / "run")!r}), Path({str(tmp_path / "held")!r}), 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                with RunLock(run_dir):
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL))  # fails if another holds the lock too
                    held += 1
                    os.unlink(marker)
            except RunInUse:
                pass
        print(held)
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    results = [worker.communicate(timeout=60) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), results
    assert sum(int(out) for out, _ in results) > 0
    assert not (tmp_path / "run").exists()


# -- what the lock file says -----------------------------------------------------------------------------------


def test_the_lock_file_keeps_no_secret_from_the_command_line(tmp_path, monkeypatch):
    secret_args = "base_url=https://alice:sk-planted@api.example/v1,api_key=sk-other"
    monkeypatch.setattr(sys, "argv", ["kosmos-eval", "run", "vqav2", "--model-args", secret_args])
    with RunLock(tmp_path / "run"):
        text = (tmp_path / "run" / ".lock").read_text()
    assert "sk-planted" not in text and "alice" not in text and "sk-other" not in text
    assert "api.example" in json.loads(text)["command"]


def test_a_refusal_names_the_holder_without_its_secret(tmp_path):
    """A lock file written by an older version holds the command as typed; the refusal line redacts it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        holder = {"pid": 1, "host": "h", "started": "then", "command": "run --model-args base_url=https://u:sk-x@h/v1"}
        os.write(fd, json.dumps(holder).encode())
        message = refused(lambda: RunLock(run_dir).__enter__(), "is being computed by pid 1", RunInUse)
        assert "sk-x" not in message
    finally:
        os.close(fd)
