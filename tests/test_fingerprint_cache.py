"""The checkpoint hash cache must never vouch for bytes it did not hash: a weights file rewritten with the same
size and mtime (`cp -p`, `touch -r`, `os.utime`), in place or replaced by a rename, is hashed again, so a run
folder refuses to be resumed by the other model. Unchanged files are still not read twice."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from kosmos_eval.backends.hf import files
from kosmos_eval.backends.hf.files import checkpoint_files, file_sha256
from kosmos_eval.config import RunConfig
from kosmos_eval.errors import UserError
from kosmos_eval.runner.run import evaluate
from tests.runs import raven_data

# ctime comes from the kernel's coarse clock (a tick of a few milliseconds): a rewrite in the same tick as
# the hash would keep it. A real rewrite follows a hash by far more than that; a test waits one tick.
TICK_S = 0.05


def _rewrite_in_place(path: Path) -> None:
    """Other bytes, same size, same inode, the old mtime put back (what `touch -r old` does)."""
    before = path.stat()
    time.sleep(TICK_S)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    with path.open("r+b") as handle:  # no truncation: the inode and size stay
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def _replace_by_rename(path: Path) -> None:
    """Other bytes, same size and mtime, in a new file renamed over the old one (what `cp -p` + `mv` does)."""
    before = path.stat()
    time.sleep(TICK_S)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    new = path.with_name(path.name + ".new")
    new.write_bytes(data)
    os.utime(new, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(new, path)
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


@pytest.mark.parametrize("rewrite", [_rewrite_in_place, _replace_by_rename])
def test_a_rewrite_with_the_same_size_and_mtime_is_hashed_again(tmp_path, rewrite):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"weights of model A" * 100)
    cache: dict = {}
    first = file_sha256(path, cache)
    rewrite(path)
    assert file_sha256(path, cache) != first
    assert file_sha256(path) == file_sha256(path, cache)  # the cache agrees with the bytes


@pytest.mark.parametrize("rewrite", [_rewrite_in_place, _replace_by_rename])
def test_the_checkpoint_fingerprint_follows_the_bytes_through_the_cache_file(tmp_path, rewrite):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    weights = folder / "model.safetensors"
    weights.write_bytes(b"weights of model A" * 100)
    before = checkpoint_files(folder)
    rewrite(weights)
    assert checkpoint_files(folder)["weights_sha256"] != before["weights_sha256"]


def test_unchanged_files_are_not_read_again(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    before = checkpoint_files(folder)
    opened: list[Path] = []
    real_open = Path.open

    def recording_open(self: Path, *args, **kwargs):
        opened.append(self)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", recording_open)
    assert checkpoint_files(folder) == before
    assert not [p for p in opened if p.parent == folder]  # every hash came from the cache file


def test_the_cache_is_not_written_through_a_predictable_temporary_name(tmp_path, monkeypatch):
    """A link planted at the old temporary name (`.file-hashes.json.<pid>.tmp`) is neither followed nor used."""
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("not the cache's to write")
    (tmp_path / "cache" / f".file-hashes.json.{os.getpid()}.tmp").symlink_to(victim)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    checkpoint_files(folder)
    assert victim.read_text() == "not the cache's to write"
    cache_file = tmp_path / "cache" / "file-hashes.json"
    assert not cache_file.is_symlink() and str((folder / "model.safetensors").resolve()) in json.loads(
        cache_file.read_text()
    )


def test_a_run_is_not_resumed_with_weights_rewritten_under_the_same_size_and_mtime(tiny_kosmos2, tmp_path):
    model = shutil.copytree(tiny_kosmos2, tmp_path / "model")

    def config(limit: int) -> RunConfig:
        return RunConfig(
            task="raven",
            backend="hf",
            model_args={"pretrained": str(model), "dtype": "float32"},
            device="cpu",
            data_dir=str(raven_data()),
            limit=limit,
            output_dir=str(tmp_path / "runs"),
        )

    evaluate(config(2), progress=False)
    _rewrite_in_place(next(model.glob("*.safetensors")))
    with pytest.raises(UserError, match=r"computed with a different model \(weights_sha256 "):
        evaluate(config(3), progress=False)  # one example left: the loaded model's fingerprint
    with pytest.raises(UserError, match=r"weights_sha256 "):
        evaluate(config(2), progress=False)  # nothing left: the fingerprint from the files alone
