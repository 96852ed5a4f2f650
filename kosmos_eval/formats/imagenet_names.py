"""Parsers for the files that name ImageNet classes, each turned into {WordNet id: lemmas}.

This module only reads text; which source applies to a data folder, and the canonical class order, are decided by
`kosmos_eval.formats.imagenet`. Sources understood (docs/data_imagenet.md):

* Kaggle's ``LOC_synset_mapping.txt``: "n01440764 tench, Tinca tinca", one class per line;
* the devkit's ``meta.mat`` (read with scipy), whose ``synsets`` struct gives ILSVRC2012_ID, WNID and words;
* a user's ``--class-names`` file: a mapping-style text file, ``wnid,name`` CSV / TSV, JSON as {wnid: name or
  [lemmas]} or as Keras' ``imagenet_class_index.json`` ({"0": [wnid, name], ...}), or a plain list of names
  (text lines or a JSON list) that the caller pairs with WNIDs from elsewhere.

Every defect is reported as a one-line `DataError` naming the file and line, index or key.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import load_json

DOCS = "docs/data_imagenet.md"
WNID = re.compile(r"n\d{8}")
LEAF_IDS = range(1, 1001)  # meta.mat also lists the 860 inner WordNet nodes, with ids above 1000

ClassTexts = dict[str, tuple[str, ...]]  # WNID -> lemmas, the first being the display name


def split_lemmas(words: str) -> tuple[str, ...]:
    """WordNet's "lemma, lemma, ..." text as a tuple; the first entry is the display name."""
    return tuple(part.strip() for part in words.split(",") if part.strip())


def read_text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, with unreadable or mis-encoded files reported as one-line DataErrors."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason}); re-save the file as UTF-8") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from exc


def _add(texts: ClassTexts, wnid: str, lemmas: tuple[str, ...], where: str) -> None:
    if not WNID.fullmatch(wnid):
        raise DataError(f"{where}: {wnid!r} is not a WordNet id like n01440764")
    if not lemmas:
        raise DataError(f"{where}: no name given for {wnid}")
    if wnid in texts:
        raise DataError(f"{where}: {wnid} is defined twice; keep one name per class")
    texts[wnid] = lemmas


def read_synset_mapping(path: Path) -> ClassTexts:
    """LOC_synset_mapping.txt style: "n01440764 tench, Tinca tinca" per line (a lemma list after the WNID and a
    space or tab)."""
    texts: ClassTexts = {}
    for number, line in enumerate(read_text_lines(path), start=1):
        if line.strip():
            wnid, *words = line.split(None, 1)
            _add(texts, wnid, split_lemmas(words[0] if words else ""), f"{path}, line {number}")
    return texts


def _scalar(value: Any) -> Any:
    """Unwrap the 1x1 arrays and numpy scalars scipy.io.loadmat wraps MATLAB values in ("" for an empty one)."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        if value.size == 1:
            value = value.reshape(-1)[0]
    return value.item() if isinstance(value, np.generic) else value


def _meta_records(synsets: Any, path: Path) -> list[dict[str, Any]]:
    """The struct array as a list of records, whether it loads as records (the real file, shape (1860, 1)), as
    a cell array of structs, or as one struct whose fields are columns."""
    if isinstance(synsets, dict):
        ids = synsets.get("ILSVRC2012_ID")
        if ids is None or np.ndim(ids) == 0 or np.size(ids) == 1:
            return [synsets]  # a single record (loadmat squeezes a 1x1 struct array into one dict)
        columns = {key: np.ravel(synsets.get(key, [])) for key in ("ILSVRC2012_ID", "WNID", "words")}
        return [{key: column[i] for key, column in columns.items() if i < len(column)} for i in range(np.size(ids))]
    if isinstance(synsets, (list, np.ndarray)):
        records = list(np.ravel(np.asarray(synsets, dtype=object))) if isinstance(synsets, np.ndarray) else synsets
        if all(isinstance(record, dict) for record in records):
            return records
    raise DataError(f"{path}: 'synsets' is not a struct array; re-extract ILSVRC2012_devkit_t12.tar.gz")


def read_meta(path: Path) -> dict[int, tuple[str, str]]:
    """meta.mat of the devkit as {ILSVRC2012_ID: (WNID, words)} for the leaf classes (ids 1..1000)."""
    import scipy.io  # deferred: only the devkit layout needs scipy

    if not path.is_file():
        raise DataError(f"{path}: file not found; it ships with ground truth in ILSVRC2012_devkit_t12.tar.gz")
    try:
        loaded = scipy.io.loadmat(str(path), simplify_cells=True)
    except Exception as exc:  # scipy raises ValueError, TypeError, NotImplementedError (v7.3) ...
        raise DataError(f"{path}: cannot read as a MATLAB file ({exc}); re-extract the devkit") from exc
    if "synsets" not in loaded:
        raise DataError(f"{path}: no 'synsets' variable; this is not the ILSVRC2012 devkit meta.mat")
    leaves: dict[int, tuple[str, str]] = {}
    for number, record in enumerate(_meta_records(loaded["synsets"], path), start=1):
        missing = [key for key in ("ILSVRC2012_ID", "WNID", "words") if key not in record]
        if missing:
            raise DataError(f"{path}: synsets entry {number} has no field {missing[0]}; re-extract the devkit")
        try:
            class_id = int(_scalar(record["ILSVRC2012_ID"]))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: synsets entry {number} has a non-integer ILSVRC2012_ID") from exc
        if class_id in LEAF_IDS:
            leaves[class_id] = (str(_scalar(record["WNID"])).strip(), str(_scalar(record["words"])).strip())
    return leaves


def read_meta_lemmas(path: Path) -> ClassTexts:
    """The leaf classes of meta.mat with their words split into lemmas, taken in ILSVRC2012_ID order."""
    texts: ClassTexts = {}
    for class_id, (wnid, words) in sorted(read_meta(path).items()):
        _add(texts, wnid, split_lemmas(words), f"{path}, ILSVRC2012_ID {class_id}")
    return texts


def _read_table(path: Path, delimiter: str) -> ClassTexts:
    """wnid,name rows (a header row is skipped); the name is taken verbatim, commas included."""
    texts: ClassTexts = {}
    rows = csv.reader(read_text_lines(path), delimiter=delimiter)
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or (number == 1 and not WNID.fullmatch(cells[0])):
            continue
        name = delimiter.join(row[1:]).strip()
        _add(texts, cells[0], (name,) if name else (), f"{path}, line {number}")
    return texts


def _read_json_names(path: Path) -> ClassTexts | list[str]:
    """{wnid: name or [lemmas]}, a list of names, or Keras' {"0": [wnid, name], ...}."""
    data = load_json(path)
    if isinstance(data, list) and all(isinstance(name, str) for name in data):
        return data
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected {{wnid: name}} or a list of names ({DOCS})")
    texts: ClassTexts = {}
    if data and all(key.isdigit() for key in data):  # Keras imagenet_class_index.json: index -> [wnid, name]
        if sorted(int(key) for key in data) != list(range(len(data))):
            raise DataError(f"{path}: numbered keys must be the indices 0..{len(data) - 1}")
        for index in range(len(data)):
            pair = data[str(index)]
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)):
                raise DataError(f"{path}, index {index}: expected [wnid, name] ({DOCS})")
            _add(texts, pair[0], (pair[1].strip(),) if pair[1].strip() else (), f"{path}, index {index}")
        if list(texts) != sorted(texts):
            raise DataError(f"{path}: class indices are not in sorted-WNID order, the order this harness uses")
        return texts
    for wnid, value in data.items():
        lemmas = tuple(str(v).strip() for v in value) if isinstance(value, list) else (str(value).strip(),)
        _add(texts, wnid, tuple(lemma for lemma in lemmas if lemma), f"{path}, key {wnid}")
    return texts


def read_names_file(path: Path) -> ClassTexts | list[str]:
    """A --class-names file, chosen by suffix (.json, .csv, .tsv; anything else is text). A text file whose first
    word is a WNID is read as a synset mapping, otherwise as one name per line. A list (of bare names, in
    class-index order) is returned when the file carries no WNIDs; the caller must supply them."""
    if not path.is_file():
        raise DataError(f"{path}: class names file not found; check --class-names")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json_names(path)
    if suffix in (".csv", ".tsv"):
        return _read_table(path, "," if suffix == ".csv" else "\t")
    lines = read_text_lines(path)
    first = next((line.split()[0] for line in lines if line.strip()), "")
    if WNID.fullmatch(first):
        return read_synset_mapping(path)
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{path}, line {number}: empty name; give one name per line, in class-index order")
    return [line.strip() for line in lines]


def pair_names(wnids: Sequence[str], names: Sequence[str], source: str) -> ClassTexts:
    """A plain list of names paired, position by position, with the WNIDs it refers to (equal lengths)."""
    texts: ClassTexts = {}
    for number, (wnid, name) in enumerate(zip(wnids, names, strict=True), start=1):
        _add(texts, wnid, (name.strip(),) if name.strip() else (), f"{source}, entry {number}")
    return texts
