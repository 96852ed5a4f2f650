"""Writing files so that a crash, a full disk or a second process never leaves a half-written one.

Every file the harness writes whole (summaries, run.json, exports, reports) goes through `write_text_atomic`:
the bytes go to a temporary file with a name no other process uses, are flushed and fsynced, and the file is
renamed over the target, so a reader sees the old file or the new one, never a mix or an empty file. A file
that would not change is not rewritten at all. File-system failures (disk full, read-only or missing folder,
a path that is a file, I/O errors) become one `OutputError` line naming the path, instead of a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kosmos_eval.errors import UserError

REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.EIO: "an input/output error from the device",
    errno.ENOENT: "a folder on the way does not exist",
}


class OutputError(UserError):
    """The harness could not write a file it needs to write."""


def reason(exc: OSError) -> str:
    return REASONS.get(exc.errno or -1, exc.strerror or exc.__class__.__name__)


@contextmanager
def writing(path: Path, what: str = "write") -> Iterator[None]:
    """Turn an OSError raised while writing `path` into one OutputError line naming it."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot {what} {path}: {reason(exc)}; free space or choose another --output") from exc


def temporary_name(path: Path) -> Path:
    """A sibling of `path` no other process or thread will pick (pid and random suffix)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_text_atomic(path: Path, text: str) -> Path:
    """Replace `path` by `text` in one step (see the module docstring). Returns `path`."""
    path = Path(path)
    data = text.encode("utf-8")
    try:
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return path  # nothing changes: keep the file, and its time stamp
    except OSError:
        pass  # unreadable: rewrite it below
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_name(path)
        try:
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    return path


def write_json_atomic(path: Path, data: Any, indent: int | None = 2) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=indent, default=str) + "\n")


def read_json(path: Path, what: str) -> Any:
    """A JSON file the harness wrote itself; a damaged one is one line saying what to do."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: the {what} is damaged (not UTF-8 text); move it away to start over") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what}: {reason(exc)}") from None
    if not text.strip():
        raise UserError(f"{path}: the {what} is empty (a crash while it was written?); move it away to start over")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: the {what} is damaged (line {exc.lineno}: {exc.msg}); move it away to start over"
        ) from None
