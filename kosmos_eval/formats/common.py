"""What every file-format reader shares: reading a JSON file with one actionable error line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kosmos_eval.errors import DataError


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
