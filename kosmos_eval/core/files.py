"""Writing files so that a crash, a full disk, a second process or a planted link never leaves a harmed one.

Every file the harness writes whole (summaries, run.json, exports, reports) goes through `write_text_atomic`:
the bytes go to a temporary file with a name no other process uses, are flushed and fsynced, and the file is
renamed over the target, so a reader sees the old file or the new one, never a mix or an empty file. A file
that would not change is not rewritten at all. File-system failures (disk full, read-only or missing folder,
a path that is a file, I/O errors) become one `OutputError` line naming the path, instead of a traceback.

Files are opened with `open_plain`, which never follows a symbolic link (O_NOFOLLOW where the system has it)
and accepts only a plain file: a run folder unpacked from someone's tarball, or pre-created on a shared
--output, could otherwise hold `samples.jsonl -> ~/.bashrc` and make an append or a truncation land on the
file the link points to. Such a file is refused in one `UnsafeFile` line. Only the last part of a path is
held to this: a folder on the way may be a link (results -> /scratch/results is common and the user's own).
`check_folder` refuses a whole folder up front: one owned by another user, or holding links or special files.

A write killed mid-way leaves its temporary file (`.<name>.<pid>.<hex>.tmp`); `remove_stale_temps` removes
those whose writing process is gone.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kosmos_eval.errors import UserError

log = logging.getLogger(__name__)

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

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# close-on-exec (child processes such as the Java scorers must not inherit a run's files); binary on Windows,
# where a descriptor is otherwise in text mode and would write "\r\n"
_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_TEMP_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")  # what temporary_name makes


class OutputError(UserError):
    """The harness could not write a file it needs to write."""


class UnsafeFile(UserError):
    """A file or folder the harness would write through is a link, a special file, or another user's."""


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


def _not_plain(path: Path | str, mode: int) -> UnsafeFile:
    if stat.S_ISLNK(mode):
        return UnsafeFile(
            f"{path} is a symbolic link, which kosmos-eval never writes or reads through (a link in a run folder "
            "could make it overwrite the file it points to); remove the link, or move the folder away to start over"
        )
    return UnsafeFile(f"{path} is not a plain file; remove it, or move the folder away to start over")


def open_plain(path: Path, flags: int, mode: int = 0o666) -> int:
    """A descriptor of the plain file at `path`, opened with `flags` without following a link (see the module
    docstring); a link or a special file is an UnsafeFile error, other failures the usual OSError."""
    if not NOFOLLOW and os.path.islink(path):  # no O_NOFOLLOW (Windows): check first, as well as it can be
        raise _not_plain(path, stat.S_IFLNK)
    nonblock = getattr(os, "O_NONBLOCK", 0)  # a planted FIFO must not hang the open
    try:
        fd = os.open(path, flags | NOFOLLOW | nonblock | _OPEN_FLAGS, mode)
    except OSError:
        if os.path.islink(path):  # ELOOP on Linux and macOS, EMLINK on FreeBSD
            raise _not_plain(path, stat.S_IFLNK) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_plain(path, info.st_mode)
        if nonblock:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_plain(path: Path) -> bytes:
    """The bytes of the plain file at `path`, never through a link (open_plain)."""
    with os.fdopen(open_plain(path, os.O_RDONLY), "rb") as handle:
        return handle.read()


def owned_by_user(info: os.stat_result) -> bool:
    """Whether the file or folder `info` describes belongs to the user running the harness (always true where
    the system has no user ids)."""
    getuid = getattr(os, "getuid", None)
    return getuid is None or info.st_uid == getuid()


def check_folder(folder: Path) -> None:
    """Refuse, in one line, a folder the harness is about to write into that could turn the writes against
    its user: a folder of another user (its files could be planted: forged records, links, hard links), or
    one holding a link or a special file. The folder itself may be a link (the user's own, e.g. a run moved to
    scratch and linked back), if the link and the folder it points to are both the user's."""
    for info in (os.lstat(folder), os.stat(folder)):
        if not owned_by_user(info):
            raise UnsafeFile(
                f"{folder} belongs to another user (uid {info.st_uid}), whose files there could mislead or harm "
                "this run; move it away, or choose another --output"
            )
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except FileNotFoundError:
                continue  # removed while we looked
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise _not_plain(entry.path, mode)


def temporary_name(path: Path) -> Path:
    """A sibling of `path` no other process or thread will pick (pid and random suffix)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def pid_alive(pid: int) -> bool:
    """Whether `pid` may be a running process on this host (True where that cannot be asked safely)."""
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill does not probe: it stops the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False  # no process has such an id
    except OSError:
        return True  # another user's process (EPERM)
    return True


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files (temporary_name) in `folder` that killed writes left: those whose writer's
    pid is no running process on this host. Anything else is kept, a live writer's temporary file included
    (`kosmos-eval score` writes into a run folder without its lock). Call it holding the folder's lock, so
    that no run of ours writes there meanwhile. A pid is looked up on this host only: on a folder shared by
    several hosts, a `kosmos-eval score` writing from another host at that moment could lose its write (it
    then fails in one line, and is run again). Returns what was removed."""
    removed: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _TEMP_NAME.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False) or pid_alive(int(match["pid"])):
                continue
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed.append(Path(entry.path))
    if removed:
        log.info("%s: removed %d temporary files left by writes that were killed", folder, len(removed))
    return removed


def _holds(path: Path, data: bytes) -> bool:
    """Whether `path` is a plain file holding exactly `data`; a link is refused (UnsafeFile), not read."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    if stat.S_ISLNK(mode):
        raise _not_plain(path, mode)
    if not stat.S_ISREG(mode):
        return False  # a folder or a special file: the rename below says what is wrong
    try:
        with os.fdopen(open_plain(path, os.O_RDONLY), "rb") as handle:
            return os.fstat(handle.fileno()).st_size == len(data) and handle.read(len(data) + 1) == data
    except OSError:
        return False  # unreadable: rewrite it


def write_text_atomic(path: Path, text: str) -> Path:
    """Replace `path` by `text` in one step (see the module docstring). Returns `path`. A `path` that is a
    symbolic link is refused: the rename would replace the link, not write where it points, and a link where
    the harness writes is more likely planted than meant."""
    path = Path(path)
    data = text.encode("utf-8")
    if _holds(path, data):
        return path  # nothing changes: keep the file, and its time stamp
    return _replace(path, [data])


def write_lines_atomic(path: Path, lines: Iterable[str]) -> Path:
    """Replace `path` by `lines` in one step, as `write_text_atomic` does, encoding and writing one line at a
    time: a 100k-record samples file is never held in memory as one string (`kosmos-eval score`)."""
    path = Path(path)
    _holds(path, b"")  # refuses a link
    return _replace(path, (line.encode("utf-8") for line in lines))


def _replace(path: Path, chunks: Iterable[bytes]) -> Path:
    """Write `chunks` to a fresh temporary sibling (O_EXCL, no link followed), fsync, rename over `path`."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_name(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | _OPEN_FLAGS, 0o666)
        done = False
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            done = True
        finally:
            if not done:
                tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path: Path, data: Any, indent: int | None = 2) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=indent, default=str) + "\n")


def read_json(path: Path, what: str) -> Any:
    """A JSON file the harness wrote itself; a damaged one is one line saying what to do; a link is refused."""
    try:
        text = read_plain(path).decode("utf-8")
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
