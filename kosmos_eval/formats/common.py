"""What every file-format reader shares: reading a JSON file with one actionable error line, and keeping the
image paths a data file names inside the task's data folder.

Why the second: a data file is often received from elsewhere, and an image path in it is opened, decoded and,
with a remote backend (`--model openai`), uploaded. An absolute path, a `..` or a symlink would let a record
name any file the user can read (`~/.ssh/id_rsa` renamed `x.jpg`), so every reader resolves such paths through
`DataFolder`, and a path that leaves the folder is refused before anything is read. Symlinks whose target lies
outside the folder are common in honest setups (`images -> /datasets/coco`); they are followed only into
folders the user lists in $KOSMOS_EVAL_DATA_ROOTS, an opt-in that lives outside the data folder, so a folder
cannot vouch for itself (docs/data.md, "Image paths stay inside the data folder").
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from kosmos_eval.errors import DataError

DATA_ROOTS_ENV = "KOSMOS_EVAL_DATA_ROOTS"
_DOCS = "docs/data.md, 'Image paths stay inside the data folder'"
_P = TypeVar("_P", str, Path)
_DRIVE = re.compile(r"[A-Za-z]:")  # C:\images or C:images: absolute on Windows, never meant as a folder name


class DataPathError(DataError):
    """A data file names a path outside the task's data folder. A refusal, not one problem among others:
    `data verify` stops on it (exit 2) instead of collecting it, as a run does."""


def load_json(path: Path) -> Any:
    """The parsed file; a missing, unreadable, non-UTF-8 or malformed file is a DataError naming it."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); re-download the file"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason}); re-download the file") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from exc


# folders the harness itself trusts for the duration of one read (the hub cache's blobs/ behind a snapshot's
# symlinks), set by `trusting`: scoped to the reading thread and context, never written into the environment
_TRUSTED_FOR_NOW: ContextVar[tuple[str, ...]] = ContextVar("kosmos_eval_trusted_for_now", default=())


def trusted_roots() -> list[str]:
    """The real paths of the folders in $KOSMOS_EVAL_DATA_ROOTS (separated like PATH), read at each call so a
    test or a long-lived process sees the current value, and any a `trusting` block adds."""
    value = os.environ.get(DATA_ROOTS_ENV, "")
    listed = [os.path.realpath(os.path.expanduser(entry)) for entry in value.split(os.pathsep) if entry.strip()]
    return [*listed, *_TRUSTED_FOR_NOW.get()]


@contextmanager
def trusting(folder: Path | str) -> Iterator[None]:
    """Symlinks into `folder` are followed, as into a $KOSMOS_EVAL_DATA_ROOTS folder, inside this block only."""
    token = _TRUSTED_FOR_NOW.set((*_TRUSTED_FOR_NOW.get(), os.path.realpath(folder)))
    try:
        yield
    finally:
        _TRUSTED_FOR_NOW.reset(token)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class DataFolder:
    """A task's data folder: the one place where paths found in data files become file paths.

    `relative` checks a name as written (no absolute path, no `..`); `resolve` joins it to the folder and
    `check` makes sure no symlink on the way leads out of the folder, except into $KOSMOS_EVAL_DATA_ROOTS.
    Real paths of directories are cached per instance (one reader call), so a check costs one lstat per file
    even for VQAv2's 200,000 questions.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._real_root = os.path.realpath(self.root)
        self._allowed = [self._real_root, *trusted_roots()]
        self._real_dirs: dict[str, str] = {}
        self._resolved: dict[tuple[str, str], Path] = {}

    def relative(self, name: str, where: str, field: str, *, may_be_empty: bool = False) -> PurePosixPath:
        """`name` as a clean relative posix path (Windows separators accepted); the refusal names `where`
        (the data file and record) and `field`. `may_be_empty`: "" and "." mean the folder itself."""
        return PurePosixPath(self._checked(name, where, field, may_be_empty))

    def resolve(self, name: str, where: str, field: str, base: Path | None = None) -> Path:
        """The file `name` (written in a data file, relative to `base`, a folder inside the data folder, by
        default the folder itself) names, refused when it is absolute, climbs out or leads out by a symlink."""
        base = self.root if base is None else base
        cache_key = (str(base), name)
        if cache_key not in self._resolved:
            full = Path(base, self._checked(name, where, field, False))
            self._resolved[cache_key] = self.check(full, f"{where}: field {field!r} names {full}, which")
        return self._resolved[cache_key]

    def _checked(self, name: str, where: str, field: str, may_be_empty: bool) -> str:
        """`name` with posix separators, or the one-line refusal. Plain string tests: this runs once per record
        of files with hundreds of thousands of them."""
        text = name.replace("\\", "/")
        parts = text.split("/")
        problem = None
        if text.startswith("/") or _DRIVE.match(text):
            problem = f"must be relative to the data folder {self.root}, is the absolute path {name!r}"
        elif ".." in parts:
            problem = f"must be a path inside the data folder {self.root}, but {name!r} climbs out with '..'"
        elif "\x00" in text:
            problem = f"must be a path inside the data folder {self.root}, but {name!r} contains a NUL character"
        elif not may_be_empty and all(part in ("", ".") for part in parts):
            problem = f"must name a file inside the data folder {self.root}, is {name!r}"
        if problem is not None:
            raise DataPathError(
                f"{where}: field {field!r} {problem}; fix the file so that it names the image relative to the "
                f"folder (see {_DOCS})"
            )
        return text

    def check(self, path: _P, where: str | None = None, *, is_link: bool | None = None) -> _P:
        """`path` (a path under the folder, found by listing it or built by a reader) unless a symlink on the
        way leads outside the folder and outside $KOSMOS_EVAL_DATA_ROOTS; then the refusal says which
        folder to trust, as one line starting with `where` (default: the path itself). `is_link`: whether the
        file itself is a symlink, when a directory listing already said so (saves the lstat)."""
        text = os.fspath(path)
        parent = os.path.dirname(text)
        real_parent = self._real_dirs.get(parent)
        if real_parent is None:
            real_parent = self._real_dirs[parent] = os.path.realpath(parent)
        if is_link is None:
            is_link = os.path.islink(text)
        real = os.path.realpath(text) if is_link else os.path.join(real_parent, os.path.basename(text))
        if any(_within(real, folder) for folder in self._allowed):
            return path
        trust = self._link_target(text) or os.path.dirname(real)
        current = os.environ.get(DATA_ROOTS_ENV, "").strip(os.pathsep)
        suggestion = f"{current}{os.pathsep}{trust}" if current else trust
        raise DataPathError(
            f"{where or f'{path}: it'} resolves through a symlink to {real}, outside the data folder {self.root}; "
            f"symlinks out of the data folder are followed only into folders you trust: if you trust {trust}, "
            f"run `export {DATA_ROOTS_ENV}={suggestion}` and rerun (see {_DOCS})"
        )

    def _link_target(self, text: str) -> str | None:
        """The real path of the outermost symlink between the folder and `text` (for `images -> /datasets/coco`
        that is /datasets/coco, the folder to trust), or its parent when that symlink is the file itself."""
        try:
            parts = Path(text).relative_to(self.root).parts
        except ValueError:
            return None
        current = self.root
        for index, part in enumerate(parts):
            current = current / part
            if current.is_symlink():
                real = os.path.realpath(current)
                return real if index < len(parts) - 1 else os.path.dirname(real)
        return None


def resolve_inside(root: Path, relative: str, where: str, field: str) -> Path:
    """`root / relative` for one path read from a data file, with `DataFolder`'s checks (a reader with many
    records keeps one `DataFolder`, which caches what it resolved)."""
    return DataFolder(root).resolve(relative, where, field)
