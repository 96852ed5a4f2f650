"""The numbers the KOSMOS-1 paper reports (arXiv 2302.14045, Tables 2-16), read from results/paper/kosmos1.csv.

The CSV is installed as package data of `kosmos_eval.paper`, so an installed harness can print the paper's
number beside a user's run (leaderboards, reports) without any file of its own. One row is one printed cell,
keyed by (model, task, variant, shots, metric) in this harness's names: `task` is a registered task, `metric`
one of its metric names, `variant` the `--task-option`s that reproduce the row's setting (as `Task.variant`
spells them, "" for the default setting). Values stay on the paper's scale: percent points and CIDEr x100
(84.7, not 0.847), so compare them with a run's metric times 100. results/paper/README.md describes the
columns and where each table's numbers were read.
"""

from __future__ import annotations

import csv
import io
import math
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from kosmos_eval.errors import DataError

if TYPE_CHECKING:  # importlib.abc.Traversable moves to importlib.resources.abc in newer Pythons
    from importlib.abc import Traversable

PAPER_MODEL = "KOSMOS-1"
PAPER_PACKAGE = "kosmos_eval.paper"
PAPER_CSV = "kosmos1.csv"
COLUMNS = ("table", "model", "task", "variant", "shots", "metric", "value", "note")
KEY = ("model", "task", "variant", "shots", "metric")

_TABLES = re.compile(r"^\d+(;\d+)*$")
_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=[^;=]+$")
_FIRST_TABLE, _LAST_TABLE = 2, 16  # the paper's result tables (Table 1 lists tasks, 17-19 are hyperparameters)


def paper_csv() -> Traversable:
    """Where the installed CSV lives (results/paper/kosmos1.csv in an editable install)."""
    return resources.files(PAPER_PACKAGE) / PAPER_CSV


def normalise_variant(variant: str) -> str:
    """`k=v;k=v` with keys sorted, as `Task.variant` writes it, so option order never decides a match."""
    parts = [part.strip() for part in variant.split(";") if part.strip()]
    return ";".join(sorted(parts))


def _row_error(source: str, line: int, message: str) -> DataError:
    return DataError(f"{source}:{line}: {message}; fix that row (columns: {','.join(COLUMNS)})")


def _check_row(source: str, line: int, row: dict[str, str]) -> dict[str, object]:
    """One CSV row as typed values, or a DataError that names the file, the line and the field."""
    tables = row["table"]
    if not _TABLES.match(tables) or not all(_FIRST_TABLE <= int(t) <= _LAST_TABLE for t in tables.split(";")):
        raise _row_error(source, line, f"table {tables!r} is not a table number 2-16 (or several joined by ';')")
    for name in ("model", "task", "metric"):
        if not row[name].strip():
            raise _row_error(source, line, f"field {name!r} is empty")
    variant = row["variant"].strip()
    if variant and not all(_OPTION.match(part) for part in variant.split(";")):
        raise _row_error(source, line, f"variant {variant!r} is not of the form key=value;key=value")
    try:
        shots = int(row["shots"])
    except ValueError:
        raise _row_error(source, line, f"shots {row['shots']!r} is not a whole number") from None
    if shots < 0:
        raise _row_error(source, line, f"shots {shots} is negative")
    try:
        value = float(row["value"])
    except ValueError:
        raise _row_error(source, line, f"value {row['value']!r} is not a number (skip '–' cells)") from None
    if not math.isfinite(value):
        raise _row_error(source, line, f"value {row['value']!r} is not a finite number")
    return {
        "table": tables,
        "model": row["model"].strip(),
        "task": row["task"].strip(),
        "variant": normalise_variant(variant),
        "shots": shots,
        "metric": row["metric"].strip(),
        "value": value,
        "note": row["note"].strip(),
    }


def read_paper_numbers(source: Path | Traversable) -> pd.DataFrame:
    """Read and validate a paper-numbers CSV (uncached; `paper_numbers` is the cached, installed one).

    Every problem is a one-line DataError naming the file and line: a wrong header, a row with the wrong number
    of fields, a bad table/shots/value/variant cell, or a second row for a key already given (the same cell
    printed in two tables is one row whose `table` lists both, so a repeat is a transcription error)."""
    name = str(source)
    try:
        text = source.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as error:
        raise DataError(f"{name}: cannot read the paper numbers ({error}); reinstall kosmos-eval") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise DataError(f"{name}:1: header must be exactly {','.join(COLUMNS)}, got {','.join(header or [])!r}")
    records: list[dict[str, object]] = []
    seen: dict[tuple[object, ...], int] = {}
    for fields in reader:
        line = reader.line_num
        if not fields:
            continue
        if len(fields) != len(COLUMNS):
            raise _row_error(name, line, f"has {len(fields)} fields, expected {len(COLUMNS)} (quote commas)")
        record = _check_row(name, line, dict(zip(COLUMNS, fields, strict=True)))
        key = tuple(record[column] for column in KEY)
        if key in seen:
            raise _row_error(name, line, f"repeats the key {key} of line {seen[key]} (list both tables in one row)")
        seen[key] = line
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    text_columns = [column for column in COLUMNS if column not in ("shots", "value")]
    return frame.astype({**dict.fromkeys(text_columns, str), "shots": "int64", "value": "float64"})


@lru_cache(maxsize=1)
def _installed_numbers() -> pd.DataFrame:
    return read_paper_numbers(paper_csv())


def paper_numbers() -> pd.DataFrame:
    """Every number of the paper's Tables 2-16, one row per printed cell, in the paper's table order.

    Columns: table (str, e.g. "2;14" when two tables print the same cell), model, task, variant ("" = the
    task's default setting), shots (int), metric, value (float, paper scale: percent / CIDEr x100), note.
    Read once per process; callers get a copy they may modify."""
    return _installed_numbers().copy()


@lru_cache(maxsize=1)
def _reference_index() -> dict[tuple[str, str, str, int, str], float]:
    frame = _installed_numbers()
    return {
        (row.model, row.task, row.variant, int(row.shots), row.metric): float(row.value)
        for row in frame.itertuples(index=False)
    }


@lru_cache(maxsize=64)
def paper_split(task: str) -> str:
    """The split the paper reports for `task`: the task's default split (each task's default is the paper's)."""
    from kosmos_eval.core.registry import TASKS

    return str(TASKS.get(task).default_split)


def reference(
    task: str, metric: str, shots: int, variant: str = "", model: str = PAPER_MODEL, split: str | None = None
) -> float | None:
    """The paper's number for one setting on the paper's scale (x100), or None when the paper prints none.

    `variant` is a run's `Task.variant` (key order does not matter); the default model is KOSMOS-1 itself.
    With `split` (the run's), a number is given only when it is the paper's split: a VQAv2 run on val is not
    comparable with the paper's test-dev number."""
    if split is not None and split != paper_split(task):
        return None
    return _reference_index().get((model, task, normalise_variant(variant), int(shots), metric))


def paper_column_order() -> list[tuple[str, str, str, int]]:
    """(task, variant, metric, shots) in the order each first appears in the paper, for pivot-table columns."""
    order: dict[tuple[str, str, str, int], None] = {}
    for row in _installed_numbers().itertuples(index=False):
        order.setdefault((row.task, row.variant, row.metric, int(row.shots)), None)
    return list(order)
