"""Readers for the visual-commonsense probes of KOSMOS-1 §4.9.2 (Tables 15-16), in the files the VaLM
repository publishes (github Victorwz/VaLM, data/object_size and data/object_color):

* `sizePairsFull.txt`          RelativeSize: one "bigger smaller" pair of object names per line (486 pairs)
* `memory_color_data.csv`      MemoryColor: Index,Descriptor,Item,Color (CRLF line ends; Descriptor is an
                               article with a trailing space, or empty)
* `color-concrete-objects.csv` ColorTerms: object,color
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from kosmos_eval.errors import DataError

SIZE_FILE = "sizePairsFull.txt"
MEMORY_COLOR_FILE = "memory_color_data.csv"
COLOR_TERMS_FILE = "color-concrete-objects.csv"
COLORS = ("black", "blue", "brown", "green", "grey", "orange", "pink", "purple", "red", "white", "yellow")


@dataclass(frozen=True)
class SizePair:
    bigger: str
    smaller: str
    line: int


@dataclass(frozen=True)
class ColorItem:
    id: str
    object: str  # as it reads in the prompt, article included ("the ocean", "grass")
    color: str


def find_file(data_dir: Path, name: str) -> Path:
    """`name` in the folder or anywhere below it (the VaLM repo keeps them in data/object_*/)."""
    direct = data_dir / name
    if direct.is_file():
        return direct
    found = sorted(data_dir.rglob(name))
    if not found:
        raise DataError(f"{data_dir}: no {name} found (get it from github.com/Victorwz/VaLM, data/)")
    return found[0]


def read_size_pairs(path: Path) -> list[SizePair]:
    pairs, seen = [], set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        words = line.split()
        if len(words) != 2:
            raise DataError(f"{path}:{number}: expected 'bigger smaller' (two object names), got {line!r}")
        if words[0] == words[1]:
            raise DataError(f"{path}:{number}: an object cannot be compared with itself ({line!r})")
        if (words[0], words[1]) in seen:
            raise DataError(f"{path}:{number}: the pair {line!r} appears twice")
        seen.add((words[0], words[1]))
        pairs.append(SizePair(words[0], words[1], number))
    if not pairs:
        raise DataError(f"{path}: no size pairs found")
    return pairs


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(reader.fieldnames or [])})"
            )
        return list(reader)


def _color(value: str, path: Path, row: int) -> str:
    color = value.strip().lower()
    if color not in COLORS:
        raise DataError(f"{path}: row {row}: colour {value!r} is not one of the 11 labels ({', '.join(COLORS)})")
    return color


def read_memory_colors(path: Path) -> list[ColorItem]:
    items = []
    for row, record in enumerate(_rows(path, ("Index", "Descriptor", "Item", "Color")), start=2):
        item = record["Item"].strip()
        if not item:
            raise DataError(f"{path}: row {row}: empty Item")
        obj = f"{record['Descriptor'].strip()} {item}".strip()
        items.append(
            ColorItem(id=f"memory-{record['Index'].strip()}", object=obj, color=_color(record["Color"], path, row))
        )
    _check_unique(items, path)
    return items


def read_color_terms(path: Path) -> list[ColorItem]:
    items = []
    for row, record in enumerate(_rows(path, ("object", "color")), start=2):
        obj = record["object"].strip()
        if not obj:
            raise DataError(f"{path}: row {row}: empty object")
        items.append(ColorItem(id=f"terms-{obj}", object=obj, color=_color(record["color"], path, row)))
    _check_unique(items, path)
    return items


def _check_unique(items: list[ColorItem], path: Path) -> None:
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{path}: {duplicate!r} appears twice")
