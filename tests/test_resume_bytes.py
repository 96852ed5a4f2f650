"""A run killed at any write to samples.jsonl and rerun, or extended with a larger --limit, writes the same bytes
as one uninterrupted run: samples.jsonl and summary.json, with the default thread count, for a ranking and a
generation task, on a real (tiny) transformers model.

The uninterrupted run and every rerun load the model afresh, as a new process does; the killed runs share one
loaded model that has computed other things before. Both kinds of history must leave no trace: before steps
forgot cached image features, an image first met in a later step (a rerun) was encoded beside other images
than in the uninterrupted run, and records differed in the last bits of their log-probabilities.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.runner import results
from kosmos_eval.runner.results import RunFolder
from kosmos_eval.runner.run import evaluate

pytestmark = pytest.mark.slow


class Killed(BaseException):
    """The process dies here: nothing after it runs (a BaseException, so no handler of the harness takes it)."""


class KillAtWrite:
    """Replaces `RunFolder.append`: the `at`-th step write (0-based) dies `how` — before writing anything, half
    way through the step's bytes, or after the bytes are on disk but before the commit — and every earlier
    write is the real one."""

    def __init__(self, at: int, how: str) -> None:
        self.at, self.how, self.calls = at, how, 0
        self.real = RunFolder.append

    def install(self, patch: pytest.MonkeyPatch) -> None:
        patch.setattr(RunFolder, "append", lambda folder, records: self.append(folder, records))

    def append(self, folder: RunFolder, records: list[dict]) -> None:
        call, self.calls = self.calls, self.calls + 1
        if call < self.at:
            return self.real(folder, records)
        if call > self.at:
            raise Killed  # a dead process writes nothing more
        path = folder.samples_path
        data = "".join(json.dumps(record, default=str) + "\n" for record in records).encode()
        if not results.commits_path(path).exists():
            results._append_commit(path, path.stat().st_size if path.exists() else 0)
        if self.how != "before":
            with path.open("ab") as handle:
                handle.write(data if self.how == "uncommitted" else data[: len(data) // 2])
        raise Killed


def config(root: Path, model: Path, task: str, limit: int, **extra) -> RunConfig:
    return RunConfig(
        task=task,
        backend="hf",
        model_args={"pretrained": str(model), "dtype": "float32"},
        output_dir=str(root),
        limit=limit,
        batch_size=2,  # small windows (Raven: 4 examples of 6 requests; VQAv2: 8): several writes to kill
        sample=True,
        **extra,
    )


def run_files(root: Path) -> dict[str, bytes]:
    (folder,) = [path for path in root.iterdir() if path.is_dir()]
    return {name: (folder / name).read_bytes() for name in ("samples.jsonl", "summary.json")}


def fresh(model: Path) -> HFBackend:
    """The model as a new process loads it: nothing computed yet."""
    return HFBackend(pretrained=str(model), dtype="float32", device="cpu")


def reference(tmp_path: Path, model: Path, task: str, limit: int, **extra) -> dict[str, bytes]:
    """The files of one uninterrupted run, computed at `tmp_path/run` and moved away so others reuse the path."""
    root = tmp_path / "run"
    evaluate(config(root, model, task, limit, **extra), backend=fresh(model), progress=False)
    files = run_files(root)
    shutil.rmtree(root)
    return files


# (task, --limit, examples per window, options): Raven ranks six contexts per problem, windows [0, 4), [4, 8),
# [8, 12) cut to 10; VQAv2 generates, two shots (demo images recur across queries), windows [0, 8), [8, 16) cut to 9
CASES = [("raven", 10, 4, {}), ("vqav2", 9, 8, {"split": "val", "shots": 2})]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("task", "limit", "window", "extra"), CASES, ids=IDS)
def test_killed_at_every_write_then_rerun_gives_the_same_bytes(
    task, limit, window, extra, tmp_path, tiny_kosmos2, kosmos2_backend, monkeypatch
):
    expected = reference(tmp_path, tiny_kosmos2, task, limit, **extra)
    root = tmp_path / "run"
    for at in range(-(-limit // window)):  # every step's write
        for how in ("before", "partial", "uncommitted"):
            with monkeypatch.context() as patch:
                KillAtWrite(at, how).install(patch)
                with pytest.raises(Killed):
                    evaluate(config(root, tiny_kosmos2, task, limit, **extra), backend=kosmos2_backend, progress=False)
            rerun = config(root, tiny_kosmos2, task, limit, **extra)
            outcome = evaluate(rerun, backend=fresh(tiny_kosmos2), progress=False)
            assert outcome.resumed == window * at, (at, how)
            assert run_files(root) == expected, f"killed at write {at} ({how})"
            shutil.rmtree(root)


@pytest.mark.parametrize(("task", "limit", "window", "extra"), CASES, ids=IDS)
def test_a_larger_limit_extends_to_the_same_bytes(task, limit, window, extra, tmp_path, tiny_kosmos2, kosmos2_backend):
    """--limit 3, then 6, then the full limit equals one run at the full limit: a window cut by --limit is
    computed whole, so its examples keep their neighbours (Raven: 3 and 6 fall in two windows; VQAv2: in one)."""
    expected = reference(tmp_path, tiny_kosmos2, task, limit, **extra)
    root = tmp_path / "run"
    evaluate(config(root, tiny_kosmos2, task, 3, **extra), backend=kosmos2_backend, progress=False)
    evaluate(config(root, tiny_kosmos2, task, 6, **extra), backend=fresh(tiny_kosmos2), progress=False)
    outcome = evaluate(config(root, tiny_kosmos2, task, limit, **extra), backend=fresh(tiny_kosmos2), progress=False)
    assert (outcome.resumed, outcome.computed) == (6, limit - 6)
    assert run_files(root) == expected


def test_steps_do_not_carry_image_features_over(tiny_kosmos2, kosmos2_backend, tmp_path):
    """The history the tests above exclude: a feature cached by one step is not used by the next."""
    evaluate(config(tmp_path / "a", tiny_kosmos2, "raven", 8), backend=kosmos2_backend, progress=False)
    images = kosmos2_backend.adapter.images
    assert images.encoded > 0
    kosmos2_backend.start_step()
    assert not images._features
