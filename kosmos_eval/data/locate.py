"""Where a task's data comes from: one place for every task, never a flag per path.

Order: `--data-dir PATH`, then `$KOSMOS_EVAL_DATA/<task>/`, then, for the few tasks that fall back to it (Raven:
the README's first run needs no data), the sample bundled with the package. `--sample` asks for the bundled
sample explicitly, for any task. `--data-dir` may point at the task's own folder or at a data root holding one
folder per task (`PATH/<task>/`); both are accepted so a single root serves whole suites.

A bundled sample is synthetic (kosmos_eval/generators) and only proves that a pipeline runs, so every run on
one is marked as such (`SAMPLE_ORIGIN`) and kept apart from real runs and from the paper's numbers.
"""

from __future__ import annotations

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
