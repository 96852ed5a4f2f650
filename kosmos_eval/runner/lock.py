"""One writer per run folder: an advisory lock held for the whole run.

Two processes computing the same run would both do all the work and write every record twice. The lock is
an exclusive `flock` on `.lock` in the run folder, taken before the model loads (the folder is created for
it, and removed again if the run leaves nothing else in it, e.g. when the model fails to load), so a second
process started with the same command refuses at once, naming the folder and the holder (pid, host, start
time, command; the command redacted by core/redact.py, since a key typed on the command line must not land in
a file). The kernel releases a `flock` when its process dies, however it dies, so a lock left behind by a
killed run is simply taken over by the next one. Under torchrun / accelerate each rank locks its own file
(`.lock.rank<R>`, rank 0 the plain one), so a second launch of the same job is refused by every rank, and a
single-process run and a data-parallel run of one folder exclude each other through rank 0.

A run that ends removes its lock file, while still holding it. So a process that opened the file just before
it was removed, and then got the `flock` on it, holds a lock on a file no one else can see: after taking the
`flock` the holder checks that the path still names the file it locked (device and inode), and starts over
with the new file otherwise.

Taking the lock is also when the folder is checked (core/files.py `check_folder`), before anything in it is
read or written: a run folder owned by another user, or holding a symbolic link or a special file, is refused
in one line (and every file, this lock file included, is opened without following a link: `open_plain`). The
run folder itself may be a link if the link and its target are the user's own: a run moved to scratch and
linked back is as common as a linked --output, and through a linked folder a trap could only make the run
create new files; it is a link to a file inside that would have it overwrite or cut one. Rank 0 then removes
the temporary files that killed writes left in the folder (core/files.py `remove_stale_temps`): rank 0 is the
one rank that writes whole files, and its lock makes sure no other run writes there meanwhile.

Where `fcntl` does not exist (Windows), the lock file is created exclusively and a holder that is no longer
running on this host is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from kosmos_eval.core.files import (
    NOFOLLOW,
    UnsafeFile,
    check_folder,
    open_plain,
    read_plain,
    remove_stale_temps,
    writing,
)
from kosmos_eval.core.redact import redact
from kosmos_eval.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: exclusive creation instead
    fcntl = None  # type: ignore[assignment]


class RunInUse(UserError):
    """Another process holds the run folder."""


LOCK_NAME = ".lock"
ATTEMPTS = 20  # each retry means a holder finished between our open and our flock: more is not plausible


def lock_path(run_dir: Path, rank: int = 0) -> Path:
    return run_dir / (LOCK_NAME if rank == 0 else f"{LOCK_NAME}.rank{rank}")


def _holder_text() -> str:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": redact(" ".join(sys.argv))[:300],
    }
    return json.dumps(holder) + "\n"


def _read_holder(path: Path) -> dict[str, Any]:
    holder = json.loads(read_plain(path))
    if not isinstance(holder, dict):
        raise ValueError("not a lock file")
    return holder


def _describe(path: Path) -> str:
    try:
        holder = _read_holder(path)
    except (OSError, ValueError, UserError):
        return "another process"
    command = redact(str(holder.get("command")))  # written by an older version, perhaps unredacted
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started')} ({command})"


def _names_file(path: Path, fd: int) -> bool:
    """Whether `path` is (still) the file open as `fd`."""
    try:
        here = os.lstat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _remove_if_free(path: Path) -> None:
    """Remove the lock file `path` unless a live process holds it (left by a killed run, or by an older
    version, which kept its lock files)."""
    if fcntl is None:
        path.unlink(missing_ok=True)
        return
    try:
        fd = open_plain(path, os.O_RDWR)
    except (OSError, UserError):
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _names_file(path, fd):
            path.unlink()
    except OSError:
        pass  # held: its holder removes it
    finally:
        os.close(fd)


class RunLock:
    """`with RunLock(run_dir, rank):` holds the folder's lock; a second holder gets RunInUse (exit 2), a folder
    that is not safe to write into (see the module docstring) UnsafeFile."""

    def __init__(self, run_dir: Path, rank: int = 0) -> None:
        self.run_dir = run_dir
        self.rank = rank
        self.path = lock_path(run_dir, rank)
        self._fd: int | None = None  # the locked file (flock)
        self._created = False  # the lock file was created exclusively (no fcntl)

    def __enter__(self) -> RunLock:
        with writing(self.path, "create the lock file"):
            for attempt in range(ATTEMPTS):
                try:
                    self.run_dir.mkdir(parents=True, exist_ok=True)
                    check_folder(self.run_dir)  # refused before anything is read or written in it
                    if fcntl is None:
                        self._take_exclusive()
                        break
                    if self._take_flock():
                        break
                except (FileNotFoundError, FileExistsError):
                    if attempt == ATTEMPTS - 1:
                        raise  # a file where the folder should be, or a folder on the way missing
                    continue  # a run that ended removed the folder it left empty: make it again
            else:
                raise self._in_use()
        if self.rank == 0:
            try:
                with writing(self.run_dir, "clean up"):
                    remove_stale_temps(self.run_dir)
            except BaseException:
                self.__exit__(None, None, None)
                raise
        return self

    def _take_flock(self) -> bool:
        """Lock the lock file; False when the file locked was removed meanwhile (see the module docstring)."""
        fd = open_plain(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not _names_file(self.path, fd):
                return False
            os.ftruncate(fd, 0)
            os.write(fd, _holder_text().encode("utf-8"))
            self._fd, fd = fd, -1
            return True
        except BlockingIOError:
            raise self._in_use() from None
        finally:
            if fd >= 0:
                os.close(fd)

    def _take_exclusive(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | NOFOLLOW)
            except FileExistsError:
                if os.path.islink(self.path):
                    raise UnsafeFile(f"{self.path} is a symbolic link; remove it, or move the folder away") from None
                if self._holder_alive():
                    raise self._in_use() from None
                self.path.unlink(missing_ok=True)  # left by a run that is gone: take it over
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(_holder_text())
            self._created = True
            return
        raise self._in_use()

    def _holder_alive(self) -> bool:
        try:
            holder = _read_holder(self.path)
            if holder.get("host") != socket.gethostname():
                return True  # another machine's process cannot be checked: assume it runs
            os.kill(int(holder["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError, UserError):
            return False
        return True

    def _in_use(self) -> RunInUse:
        return RunInUse(
            f"{self.run_dir} is being computed by {_describe(self.path)}; wait for it to finish, or stop it "
            "(a killed run's lock is taken over automatically)"
        )

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._fd is not None:
            try:
                if _names_file(self.path, self._fd):
                    self.path.unlink()  # before the lock is released: see the module docstring
            except OSError:
                pass  # the folder is gone or read-only now: the file stays, and is taken over next time
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
        elif self._created:
            self.path.unlink(missing_ok=True)
        self._fd, self._created = None, False
        # a run that wrote nothing (its model failed to load, its data was refused) leaves nothing behind
        try:
            names = os.listdir(self.run_dir)
            if all(name.startswith(LOCK_NAME) for name in names):
                for name in names:
                    _remove_if_free(self.run_dir / name)
                self.run_dir.rmdir()
        except OSError:
            pass  # another process is using the folder, or it is already gone
