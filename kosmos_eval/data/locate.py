"""Where a task's data comes from: one place for every task, never a flag per path.

Order: `--data-dir PATH`, then `$KOSMOS_EVAL_DATA/<task>/`, then, for the few tasks that fall back to it (Raven:
the README's first run needs no data), the sample bundled with the package. `--sample` asks for the bundled
sample explicitly, for any task. `--data-dir` may point at the task's own folder or at a data root holding one
folder per task (`PATH/<task>/`); both are accepted so a single root serves whole suites.

A bundled sample is synthetic (kosmos_eval/generators) and only proves that a pipeline runs, so every run on
one is marked as such (`SAMPLE_ORIGIN`) and kept apart from real runs and from the paper's numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from kosmos_eval.core.identity import on_sample
from kosmos_eval.errors import DataError, UserError

DATA_ENV = "KOSMOS_EVAL_DATA"
SAMPLE_ORIGIN = "bundled sample"
# every bundled sample carries this file (written by kosmos_eval/generators/samples.py), so a run on a sample
# is recognised as one however its folder was given: --sample, --data-dir at the package or at a copy
SAMPLE_MARKER = "kosmos-eval-sample.json"
SAMPLE_NOTE = "data: the bundled synthetic sample (a smoke test of the pipeline, not a benchmark; no paper comparison)"
# the marker's list of splits whose real answers are withheld (scored by a server) but which the sample answers
WITHHELD_ANSWERS = "answers_for_withheld_splits"
WITHHELD_NOTE = (
    "answers: the sample's own; the real {split} answers are withheld (a run on the real data writes the "
    "evaluation server's submission file instead)"
)


def sample_digest(folder: Path) -> str:
    """A short hash of a bundled sample's files (names and bytes). A run on a sample keeps it in its identity,
    so a sample changed by an upgrade (answers added, pictures redrawn) is a new run, never resumed from records
    scored against the old one."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def sample_answer_notes(folder: Path | None, split: str) -> list[str]:
    """The note a run on a bundled sample carries when the split's answers exist only in the sample: the real
    split is scored by an evaluation server, so the score shown proves the scoring code runs, nothing more."""
    if folder is None or not (folder / SAMPLE_MARKER).is_file():
        return []
    try:
        marker = json.loads((folder / SAMPLE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    withheld = marker.get(WITHHELD_ANSWERS) if isinstance(marker, dict) else None
    return [WITHHELD_NOTE.format(split=split)] if isinstance(withheld, list) and split in withheld else []


def bundled_sample(task: str) -> Path | None:
    path = Path(str(resources.files("kosmos_eval.data").joinpath("samples", task)))
    return path if path.is_dir() else None


def resolve_data_dir(
    task: str, data_dir: str | Path | None, sample: bool = False, fallback_to_sample: bool = False
) -> tuple[Path | None, str]:
    """(folder, origin). folder is None when nothing is configured (a hub-backed task then reads the hub).

    `sample`: the bundled sample, whatever else is configured ($KOSMOS_EVAL_DATA is ignored; --data-dir is an
    error, since the two ask for different data). `fallback_to_sample`: use the sample when nothing is
    configured (the task's `sample_fallback`)."""
    if sample:
        if data_dir:
            raise UserError(f"--sample and --data-dir ({data_dir}) ask for different data: give one of them")
        folder = bundled_sample(task)
        if folder is None:
            raise DataError(f"{task}: no bundled sample ships with this installation")
        return folder, SAMPLE_ORIGIN
    if data_dir:
        path = Path(data_dir).expanduser()
        if not path.exists():
            raise DataError(f"--data-dir {path}: folder does not exist")
        if (path / task).is_dir():
            return _marked(path / task, f"--data-dir ({path}/{task})")
        return _marked(path, f"--data-dir ({path})")
    root = os.environ.get(DATA_ENV)
    if root and (Path(root) / task).is_dir():
        return _marked(Path(root) / task, f"${DATA_ENV} ({Path(root) / task})")
    if fallback_to_sample:
        folder = bundled_sample(task)
        if folder is not None:
            return folder, SAMPLE_ORIGIN
    return None, "missing"


def _marked(folder: Path, origin: str) -> tuple[Path, str]:
    """A configured folder that is (a copy of) a bundled sample is reported as the sample it is."""
    return (folder, SAMPLE_ORIGIN) if (folder / SAMPLE_MARKER).is_file() else (folder, origin)


def is_sample_summary(summary: dict[str, Any]) -> bool:
    """Whether a run summary was computed on a bundled sample: the run identity's rule (core/identity.py)."""
    return on_sample(summary)
