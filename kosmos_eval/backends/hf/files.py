"""What a local checkpoint folder holds that can change a number, hashed (without importing torch).

Weights are not the only thing: a rebuilt tokenizer, another chat template, a different processor or
generation config in the same folder changes every prompt or every decision while the weights stay the same.
So the fingerprint of a local checkpoint hashes every file in it except documentation, and lists the small
files one by one, so that a refusal can say which file changed. Hashes are cached, so a multi-gigabyte model
is read once, not at every start of a run; the cache trusts a file only while its device, inode, size,
mtime and ctime are all unchanged. Size and mtime alone are not enough: `cp -p`, `rsync -t` or `touch -r`
give a rewritten file the old mtime, and a run would then be resumed with another model's weights. ctime
cannot be set from user space (any write or utime moves it to now), and a file replaced by a rename gets
another inode, so either way of rewriting a file is noticed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kosmos_eval.core.files import OutputError, write_text_atomic

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
IGNORED_SUFFIXES = (".md", ".txt.lock", ".lock")
IGNORED_NAMES = {"LICENSE", "LICENSE.txt", "NOTICE", ".gitattributes"}
CACHE_ENV = "KOSMOS_EVAL_CACHE"


def _cache_file() -> Path:
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "kosmos-eval")
    return root / "file-hashes.json"


def _load_cache() -> dict[str, Any]:
    try:
        return json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(cache: dict[str, Any]) -> None:
    """Written atomically under a name no other process picks (a predictable temporary name in a shared
    cache folder could be pre-created by another user as a link)."""
    with contextlib.suppress(OSError, OutputError):  # a read-only home only costs the re-hash next time
        write_text_atomic(_cache_file(), json.dumps(cache))


def file_stamp(stat: os.stat_result) -> list[int]:
    """What must be unchanged for a cached hash to stand (see the module docstring); an entry written by an
    older harness (size and mtime only) never matches, so it is hashed once more."""
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def file_sha256(path: Path, cache: dict[str, Any] | None = None) -> str:
    """SHA-256 of `path`, taken from `cache` (path -> stamp and hash) while the file's stamp is unchanged."""
    stat = path.stat()
    key = str(path.resolve())
    stamp = file_stamp(stat)
    if cache is not None and cache.get(key, {}).get("stamp") == stamp:
        return str(cache[key]["sha256"])
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    if cache is not None:
        cache[key] = {"stamp": stamp, "sha256": digest.hexdigest()}
    return digest.hexdigest()


def _counted(path: Path, folder: Path) -> bool:
    relative = path.relative_to(folder)
    hidden = any(part.startswith(".") for part in relative.parts)
    return path.is_file() and not hidden and path.name not in IGNORED_NAMES and not path.name.endswith(IGNORED_SUFFIXES)


def checkpoint_files(folder: Path) -> dict[str, Any]:
    """`weights_sha256` (names and bytes of the weight files, in order) and `files` (name -> SHA-256 of each
    other file: configs, tokenizer, processor, chat template, generation config)."""
    cache = _load_cache()
    weights = hashlib.sha256()
    others: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if _counted(p, folder)):
        name = path.relative_to(folder).as_posix()
        digest = file_sha256(path, cache)
        if path.suffix in WEIGHT_SUFFIXES:
            weights.update(name.encode() + b"\0" + digest.encode())
        else:
            others[name] = digest
    _save_cache(cache)
    return {"weights_sha256": weights.hexdigest(), "files": others}


def static_fingerprint(model_args: Mapping[str, str]) -> dict[str, Any] | None:
    """The parts of the hf fingerprint knowable without loading the model: the files of a local folder
    (None for a hub id, whose revision pins its files)."""
    from kosmos_eval.config import DEFAULT_MODEL_ID

    folder = Path(model_args.get("pretrained", DEFAULT_MODEL_ID)).expanduser()
    return checkpoint_files(folder) if folder.is_dir() else None
