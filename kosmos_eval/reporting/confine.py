"""Which files a report may read: only those inside the folders it was given or that its runs name.

A runs folder can come from someone else (a tarball, a shared drive, a CI artifact), and its summaries and
records name files: a re-scored summary its `samples_file`, each record its `images`. Taken at their word,
`/home/me/.ssh/id_rsa.jsonl` or `../../private/photo.jpg` would be read and embedded in a page the user may
then mail on. So every path a run names is resolved (`..` and symbolic links included, os.path.realpath) and
kept only where it lands inside an allowed root: the run's own folder, the runs folders the user gave, or the
data folder the run recorded. An absolute path from a summary or a record is never taken; a refused path is
one warning line on stderr, so nothing is dropped without a word, and the report still opens.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path


def real(path: Path | str) -> str:
    """`path` with every link and `..` resolved: what is compared, and what is then opened (not the name the
    data gave), so a check and a read are about the same file."""
    return os.path.realpath(path)


def inside(path: Path | str, roots: Iterable[Path | str]) -> bool:
    """Whether `path`, resolved, is one of `roots` (resolved) or lies below one of them."""
    try:
        target = real(path)
        for root in roots:
            base = real(root)
            if target == base or target.startswith(base.rstrip(os.sep) + os.sep):
                return True
    except (OSError, ValueError):  # an unresolvable name (a NUL byte in it): never inside
        return False
    return False


def confined(base: Path | str, name: object, roots: Iterable[Path | str]) -> Path | None:
    """The resolved file `base`/`name` where `name` is a relative path (as a run writes it) that stays inside
    one of `roots`; None for an absolute name, an empty or non-text one, or one whose `..` or links lead out."""
    if not isinstance(name, str) or not name or "\0" in name or os.path.isabs(name):
        return None
    candidate = Path(base) / name
    return Path(real(candidate)) if inside(candidate, roots) else None


def warn(message: str) -> None:
    """One line on stderr for a path the report refused to follow (not a log record: it must reach the user
    of a plain `kosmos-eval report` whatever the logging set-up)."""
    print(f"warning: {message}", file=sys.stderr)
