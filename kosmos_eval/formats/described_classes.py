"""Classification with descriptions (KOSMOS-1 §4.7.1, Tables 11-12): a JSONL task format and its reader.

The paper's CUB-based set was never released; it is three binary groups (a general category such as
"woodpecker" and two specific categories, each with a one-sentence description), 20 images per category.
This module fixes a small, self-contained file format for such sets, so a set built from CUB-200-2011
(`kosmos_eval.formats.cub_builder`) and a set a user assembles by hand are read the same way.

One example per line:

    {"id": "...", "image": "images/downy_woodpecker/x.jpg", "general_category": "woodpecker",
     "candidates": [{"name": "three toed woodpecker", "description": "It has ..."},
                    {"name": "downy woodpecker", "description": "It has ..."}],
     "label": "downy woodpecker"}

`image` is relative to the JSONL file's folder (records stay machine-independent), `label` is the name of
the right candidate, and there are at least two candidates with distinct names. Other fields are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import DataFolder

DEFAULT_FILE_NAME = "descriptions.jsonl"


@dataclass(frozen=True)
class Candidate:
    """A specific category the model may name, with the description the prompt gives for it."""

    name: str
    description: str


@dataclass(frozen=True)
class DescribedItem:
    """One image to classify among `candidates`; `candidates[label_index]` is the right one."""

    id: str
    image: ImageInput
    general_category: str
    candidates: tuple[Candidate, ...]
    label_index: int

    @property
    def label(self) -> str:
        return self.candidates[self.label_index].name


def make_record(
    example_id: str, image: str, general_category: str, candidates: list[Candidate], label: str
) -> dict[str, Any]:
    """The JSON object of one line, with the fields in their documented order (what the builder writes)."""
    return {
        "id": example_id,
        "image": image,
        "general_category": general_category,
        "candidates": [{"name": c.name, "description": c.description} for c in candidates],
        "label": label,
    }


def find_descriptions_file(data_dir: Path) -> Path:
    """The set's JSONL file: `data_dir` itself when it is a .jsonl file, else `descriptions.jsonl` in the folder,
    else the folder's only *.jsonl file (so a hand-made set may keep its own file name)."""
    if data_dir.is_file():
        if data_dir.suffix == ".jsonl":
            return data_dir
        raise DataError(
            f"{data_dir}: expected a folder or a .jsonl file in the classification-with-descriptions format"
        )
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: folder does not exist")
    default = data_dir / DEFAULT_FILE_NAME
    if default.is_file():
        return default
    found = sorted(p for p in data_dir.glob("*.jsonl") if p.is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(
            f"{data_dir}: no {DEFAULT_FILE_NAME} (nor any *.jsonl) found; build one with "
            "`kosmos-eval prepare cub-descriptions --cub CUB_DIR --output DIR` (see docs/data_cub.md)"
        )
    names = ", ".join(p.name for p in found)
    raise DataError(f"{data_dir}: several .jsonl files ({names}); keep one, or name the one to use {DEFAULT_FILE_NAME}")


class _LineError(Exception):
    """A problem with one line; the reader adds file and line number."""


def _text(record: dict[str, Any], field: str, where: str = "") -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        shown = "missing" if field not in record else f"{value!r}"
        raise _LineError(f"field '{where}{field}' must be a non-empty string, is {shown}")
    return value.strip()


def _candidates(record: dict[str, Any]) -> tuple[Candidate, ...]:
    raw = record.get("candidates")
    if not isinstance(raw, list) or len(raw) < 2:
        shown = "missing" if "candidates" not in record else f"{type(raw).__name__} of length {_length(raw)}"
        raise _LineError(f"field 'candidates' must be a list of at least 2 {{name, description}} objects, is {shown}")
    candidates, seen = [], {}
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise _LineError(f"field 'candidates[{index}]' must be an object with 'name' and 'description'")
        candidate = Candidate(
            _text(entry, "name", f"candidates[{index}]."), _text(entry, "description", f"candidates[{index}].")
        )
        folded = " ".join(candidate.name.casefold().split())
        if folded in seen:
            raise _LineError(
                f"field 'candidates': names {seen[folded]!r} and {candidate.name!r} are the same; "
                "a generated answer could not tell them apart"
            )
        seen[folded] = candidate.name
        candidates.append(candidate)
    return tuple(candidates)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, (list, tuple, str, dict)) else 0


def _parse(record: Any) -> tuple[str, str, str, tuple[Candidate, ...], int]:
    if not isinstance(record, dict):
        raise _LineError(f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    example_id = str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else _text(record, "id")
    image = _text(record, "image")
    general = _text(record, "general_category")
    candidates = _candidates(record)
    label = _text(record, "label")
    names = [c.name for c in candidates]
    if label not in names:
        raise _LineError(f"field 'label' {label!r} is not one of the candidate names ({', '.join(map(repr, names))})")
    return example_id, image, general, candidates, names.index(label)


def read_described_classes(path: Path) -> list[DescribedItem]:
    """Every example of the file, in file order. A malformed line is a DataError naming file:line and the
    field; all missing image files are checked before returning (one error naming how many and the first),
    so a run never fails halfway through on a missing picture."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    folder = path.parent
    inside = DataFolder(folder)
    items: list[DescribedItem] = []
    first_line: dict[str, int] = {}
    missing: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        try:
            example_id, image, general, candidates, label_index = _parse(record)
        except _LineError as exc:
            raise DataError(f"{path}:{number}: {exc}") from None
        if example_id in first_line:
            raise DataError(
                f"{path}:{number}: id {example_id!r} is already used on line {first_line[example_id]}; "
                "ids must be unique"
            )
        first_line[example_id] = number
        where = f"{path}:{number}"
        image = inside.relative(image, where, "image").as_posix()  # the key: relative to the file's folder
        full = inside.resolve(image, where, "image")
        if not full.is_file():
            missing.append((number, image))
        items.append(DescribedItem(example_id, ImageInput.from_path(full, key=image), general, candidates, label_index))
    if missing:
        number, image = missing[0]
        raise DataError(
            f"{path}: {len(missing)} image file(s) not found under {folder} (first: line {number}, {image!r}); "
            "image paths are relative to the .jsonl file's folder"
        )
    if not items:
        raise DataError(f"{path}: no examples found (expected one JSON object per line)")
    return items
