"""Where a task's data comes from: one place for every task, never a flag per path.

Order: `--data-dir PATH`, then `$KOSMOS_EVAL_DATA/<task>/`, then the sample bundled with the package.
`--data-dir` may point at the task's own folder or at a data root holding one folder per task
(`PATH/<task>/`); both are accepted so a single root serves whole suites.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from kosmos_eval.errors import DataError

DATA_ENV = "KOSMOS_EVAL_DATA"


def bundled_sample(task: str) -> Path | None:
    path = Path(str(resources.files("kosmos_eval.data").joinpath("samples", task)))
    return path if path.is_dir() else None


def resolve_data_dir(task: str, data_dir: str | Path | None) -> tuple[Path | None, str]:
    """(folder, origin). folder is None when nothing is configured and no sample is bundled."""
    if data_dir:
        path = Path(data_dir).expanduser()
        if not path.exists():
            raise DataError(f"--data-dir {path}: folder does not exist")
        if (path / task).is_dir():
            return path / task, f"--data-dir ({path}/{task})"
        return path, f"--data-dir ({path})"
    root = os.environ.get(DATA_ENV)
    if root and (Path(root) / task).is_dir():
        return Path(root) / task, f"${DATA_ENV} ({Path(root) / task})"
    sample = bundled_sample(task)
    if sample is not None:
        return sample, "bundled sample"
    return None, "missing"
