"""Where the rows of a text dataset come from: a local file, a `save_to_disk` folder, or the Hugging Face Hub.

Kept apart from the per-dataset converters in `language.py`: this module knows file formats and the ways the
`datasets` library fails (offline, script-based repositories, unknown configs), nothing about any one dataset's
fields. Every row comes back as a plain dict in the hub schema, with a `source` string for error messages.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import load_json

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
# The file stems accepted for each split: the hub's name, and the names official releases use for validation
# (SuperGLUE's val.jsonl, WinoGrande's dev.jsonl).
SPLIT_STEMS: dict[str, tuple[str, ...]] = {"validation": ("validation", "val", "dev"), "train": ("train",)}
DOCS = "docs/data_language.md"


@dataclass(frozen=True)
class Rows:
    """Rows in a dataset's hub schema and a description of where they were read from."""

    rows: list[dict[str, Any]]
    source: str


def candidate_files(data_dir: Path, split: str, patterns: tuple[str, ...] = ()) -> list[Path]:
    """The files in `data_dir` that may hold `split`: `<stem><suffix>` for the split's stems, plus `patterns`
    (globs for official file names). Sorted and without duplicates."""
    found = {data_dir / f"{stem}{suffix}" for stem in SPLIT_STEMS.get(split, (split,)) for suffix in SUFFIXES}
    found = {path for path in found if path.is_file()}
    for pattern in patterns:
        found.update(path for path in data_dir.glob(pattern) if path.is_file())
    return sorted(found)


def local_rows(data_dir: Path, split: str, hf_split: str, patterns: tuple[str, ...] = ()) -> Rows:
    """Rows of `split` from a folder: exactly one matching file, else a `save_to_disk` folder at
    `<data_dir>/<split>`, else a saved DatasetDict at `<data_dir>` (its `hf_split` member)."""
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data folder does not exist")
    files = candidate_files(data_dir, split, patterns)
    if len(files) > 1:
        names = ", ".join(repr(path.name) for path in files)
        raise DataError(f"{data_dir}: several files could hold split '{split}' ({names}); keep only one of them")
    if files:
        return Rows(read_rows_file(files[0]), str(files[0]))
    if _is_saved(data_dir / split):
        return Rows(_load_saved(data_dir / split, hf_split), str(data_dir / split))
    if (data_dir / "dataset_dict.json").is_file():
        return Rows(_load_saved(data_dir, hf_split), f"{data_dir} [{hf_split}]")
    stems = "/".join(SPLIT_STEMS.get(split, (split,)))
    extra = f", {' or '.join(patterns)}" if patterns else ""
    raise DataError(
        f"{data_dir}: no data for split '{split}': expected {stems} with suffix .jsonl/.json/.csv/.parquet{extra}, "
        f"or a datasets.save_to_disk folder (see {DOCS})"
    )


def read_rows_file(path: Path) -> list[dict[str, Any]]:
    """The rows of one .jsonl, .json (a list of objects, or JSON lines), .csv (header row) or .parquet file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        rows = _read_parquet(path)
    elif suffix == ".csv":
        rows = _read_csv(path)
    elif suffix == ".json" and _read_text(path).lstrip().startswith("["):
        rows = load_json(path)
    else:
        rows = _read_json_lines(path)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"{path}: row {index} is not an object with named fields, is {type(row).__name__}")
    return rows


def _read_text(path: Path, encoding: str = "utf-8") -> str:
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason}); re-download the file") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from exc


def _read_json_lines(path: Path) -> list[Any]:
    rows = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}: line {number} is not valid JSON ({exc.msg}); "
                "expected one JSON object per line, or a JSON list of objects"
            ) from exc
    return rows


def _read_csv(path: Path) -> list[dict[str, Any]]:
    # utf-8-sig: spreadsheet exports of the official StoryCloze files may start with a byte-order mark.
    lines = _read_text(path, encoding="utf-8-sig").splitlines()
    try:
        return [dict(row) for row in csv.DictReader(lines, skipinitialspace=True)]
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from exc


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DataError(f"{path}: cannot read Parquet ({exc.__class__.__name__}: {exc})") from exc


def _is_saved(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_file() for name in ("state.json", "dataset_dict.json"))


def _load_saved(folder: Path, hf_split: str) -> list[dict[str, Any]]:
    """Rows of a folder written by Dataset.save_to_disk, or of the `hf_split` member of a saved DatasetDict."""
    import datasets

    try:
        saved = datasets.load_from_disk(str(folder))
    except Exception as exc:
        raise DataError(
            f"{folder}: cannot read the saved dataset ({exc.__class__.__name__}: {_first_line(exc)})"
        ) from exc
    if isinstance(saved, datasets.DatasetDict):
        if hf_split not in saved:
            raise DataError(f"{folder}: saved DatasetDict has no split '{hf_split}' (it has {', '.join(saved)})")
        saved = saved[hf_split]
    return [dict(row) for row in saved]


def hub_rows(dataset: str, hub_id: str, config: str | None, hf_split: str, split: str) -> Rows:
    """Rows of `hf_split` of a hub dataset via `datasets.load_dataset` (the local cache when offline). Any failure
    becomes one DataError line naming what was tried and how to supply the data instead."""
    import datasets

    source = f"hub {hub_id} (config {config or 'default'}, split {hf_split})"
    try:
        loaded = datasets.load_dataset(hub_id, name=config, split=hf_split)
    except Exception as exc:
        raise DataError(_hub_failure(dataset, source, split, exc)) from exc
    return Rows([dict(row) for row in loaded], source)


def _hub_failure(dataset: str, source: str, split: str, exc: Exception) -> str:
    remedy = (
        f"put {split}.jsonl in the hub schema in a folder and pass it with --data-dir (see {DOCS}), "
        "or run once online so the hub copy is cached"
    )
    if isinstance(exc, ConnectionError):  # datasets' answer when offline (HF_HUB_OFFLINE=1) and not cached
        reason = "the hub cannot be reached and no cached copy exists"
    elif isinstance(exc, RuntimeError) and "scripts are no longer supported" in str(exc):
        reason = "it is a script-based repository, which datasets>=4 cannot load"
        remedy = f"pass --hub with a Parquet copy (id[:config]) or put {split}.jsonl in a folder given with --data-dir"
    elif isinstance(exc, FileNotFoundError):
        reason = f"not found ({_first_line(exc)})"
    else:
        reason = f"{exc.__class__.__name__}: {_first_line(exc)}"
    return f"{dataset}: cannot load {source}: {reason}; {remedy}"


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else exc.__class__.__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
