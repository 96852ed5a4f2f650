"""One writer per run folder: an advisory lock held for the whole run.

Two processes computing the same run would both do all the work and write every record twice. The lock is
an exclusive `flock` on `.lock` in the run folder, taken before the model loads (the folder is created for
it, and removed again if the run leaves nothing else in it, e.g. when the model fails to load), so a second
process started with the same command refuses at once, naming the folder and the holder (pid, host, start
time, command). The kernel releases a `flock` when its process dies, however it dies, so a lock left behind
by a killed run is simply taken over by the next one. Under torchrun / accelerate each rank locks its own
file (`.lock.rank<R>`, rank 0 the plain one), so a second launch of the same job is refused by every rank,
and a single-process run and a data-parallel run of one folder exclude each other through rank 0.

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

from kosmos_eval.core.files import writing
from kosmos_eval.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: exclusive creation instead
    fcntl = None  # type: ignore[assignment]


class RunInUse(UserError):
    """Another process holds the run folder."""


LOCK_NAME = ".lock"


def lock_path(run_dir: Path, rank: int = 0) -> Path:
    return run_dir / (LOCK_NAME if rank == 0 else f"{LOCK_NAME}.rank{rank}")


def _holder_text() -> str:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv)[:300],
    }
    return json.dumps(holder) + "\n"


def _describe(path: Path) -> str:
    try:
        holder: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return "another process"
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started')} ({holder.get('command')})"


class RunLock:
    """`with RunLock(run_dir, rank):` holds the folder's lock; a second holder gets RunInUse (exit 2)."""

    def __init__(self, run_dir: Path, rank: int = 0) -> None:
        self.run_dir = run_dir
        self.path = lock_path(run_dir, rank)
        self._handle: Any = None

    def __enter__(self) -> RunLock:
        with writing(self.path, "create the lock file"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if fcntl is not None:
                self._take_flock()
            else:
                self._take_exclusive()
        return self

    def _take_flock(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise self._in_use() from None
        handle.seek(0)
        handle.truncate()
        handle.write(_holder_text())
        handle.flush()
        self._handle = handle

    def _take_exclusive(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self._holder_alive():
                    raise self._in_use() from None
                self.path.unlink(missing_ok=True)  # left by a run that is gone: take it over
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(_holder_text())
            self._handle = True
            return
        raise self._in_use()

    def _holder_alive(self) -> bool:
        try:
            holder = json.loads(self.path.read_text())
            if holder.get("host") != socket.gethostname():
                return True  # another machine's process cannot be checked: assume it runs
            os.kill(int(holder["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
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
        if fcntl is not None and self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
        elif self._handle is True:
            self.path.unlink(missing_ok=True)
        self._handle = None
        # a run that wrote nothing (its model failed to load, its data was refused) leaves nothing behind
        try:
            if all(p.name.startswith(LOCK_NAME) for p in self.run_dir.iterdir()):
                for path in self.run_dir.iterdir():
                    path.unlink(missing_ok=True)
                self.run_dir.rmdir()
        except OSError:
            pass  # another process is using the folder, or it is already gone
