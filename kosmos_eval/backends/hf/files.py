"""What a local checkpoint folder holds that can change a number, hashed (without importing torch).

Weights are not the only thing: a rebuilt tokenizer, another chat template, a different processor or
generation config in the same folder changes every prompt or every decision while the weights stay the same.
So the fingerprint of a local checkpoint hashes every file in it except documentation, and lists the small
files one by one, so that a refusal can say which file changed. Hashes are cached by (path, size, mtime):
a multi-gigabyte model is read once, not at every start of a run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, path)
    except OSError:  # a read-only home only costs the re-hash next time
        pass


def file_sha256(path: Path, cache: dict[str, Any] | None = None) -> str:
    stat = path.stat()
    key = str(path.resolve())
    stamp = [stat.st_size, stat.st_mtime_ns]
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
