"""The background appender: steps written by a thread, at most one in hand, nothing finished lost on a stop."""

from __future__ import annotations

import threading

import pytest

from kosmos_eval.runner.appender import BackgroundAppender
from kosmos_eval.runner.results import RunFolder


class GatedFolder:
    """A folder whose writes wait for `gate` and note what they wrote, in which thread."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.written: list[list[dict]] = []
        self.threads: set[str] = set()

    def append(self, records: list[dict]) -> None:
        assert self.gate.wait(timeout=10)
        self.threads.add(threading.current_thread().name)
        self.written.append(records)


def _release_later(folder: GatedFolder, seconds: float = 0.2) -> threading.Timer:
    timer = threading.Timer(seconds, folder.gate.set)
    timer.start()
    return timer


def test_append_returns_at_once_and_the_block_waits_for_the_step_in_hand():
    folder = GatedFolder()
    with BackgroundAppender(folder) as appender:  # type: ignore[arg-type]
        appender.append([{"id": "a"}])  # the write is blocked, yet append returns
        assert folder.written == []
        _release_later(folder)
    assert folder.written == [[{"id": "a"}]]
    assert folder.threads and all(name.startswith("kosmos-eval-writer") for name in folder.threads)


def test_the_next_step_is_handed_over_only_once_the_previous_one_is_committed():
    folder = GatedFolder()
    with BackgroundAppender(folder) as appender:  # type: ignore[arg-type]
        appender.append([{"id": "a"}])
        _release_later(folder)
        appender.append([{"id": "b"}])  # waits for "a": at most one step is ever unwritten
        assert folder.written == [[{"id": "a"}]]
    assert folder.written == [[{"id": "a"}], [{"id": "b"}]]


def test_a_failed_write_raises_its_own_error_in_the_main_thread():
    class FullDisk:
        def append(self, records: list[dict]) -> None:
            raise OSError(28, "No space left on device")

    appender = BackgroundAppender(FullDisk())  # type: ignore[arg-type]
    with pytest.raises(OSError, match="No space left"), appender:
        appender.append([{"id": "a"}])
        appender.append([{"id": "b"}])  # raises here, the next chance the main thread has
    last = BackgroundAppender(FullDisk())  # type: ignore[arg-type]
    with pytest.raises(OSError, match="No space left"), last:
        last.append([{"id": "a"}])  # ... or when the block ends


def test_a_run_stopped_by_an_error_still_commits_the_finished_step_and_keeps_its_error():
    folder = GatedFolder()
    with pytest.raises(KeyboardInterrupt), BackgroundAppender(folder) as appender:  # type: ignore[arg-type]
        appender.append([{"id": "done"}])
        _release_later(folder)
        raise KeyboardInterrupt  # Ctrl-C while the next step computes
    assert folder.written == [[{"id": "done"}]]


def test_steps_through_the_appender_are_the_bytes_and_commits_of_direct_appends(tmp_path):
    steps = [[{"id": f"{s}-{i}", "score": s * 0.1 + i} for i in range(3)] for s in range(4)]
    direct = RunFolder(tmp_path / "direct")
    threaded = RunFolder(tmp_path / "threaded")
    for folder in (direct, threaded):
        folder.path.mkdir()
    for step in steps:
        direct.append(step)
    with BackgroundAppender(threaded) as appender:
        for step in steps:
            appender.append(step)
    assert threaded.samples_path.read_bytes() == direct.samples_path.read_bytes()
    commits = [p.with_name(p.name + ".commits").read_text() for p in (direct.samples_path, threaded.samples_path)]
    assert commits[0] == commits[1] and len(commits[0].split()) == len(steps) + 1
    assert list(threaded.load_records()) == [r["id"] for step in steps for r in step]
