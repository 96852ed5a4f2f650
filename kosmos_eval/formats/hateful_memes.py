"""Reader for the Facebook Hateful Memes Challenge release.

The release is one folder holding ``img/<id>.png`` and one JSON-lines file per split. Phase 2 of the
challenge ships ``train.jsonl``, ``dev_seen.jsonl``, ``dev_unseen.jsonl``, ``test_seen.jsonl`` and
``test_unseen.jsonl``; the phase 1 release had ``dev.jsonl`` and ``test.jsonl`` instead. Each line is one meme:
``{"id": 42953, "img": "img/42953.png", "label": 0, "text": "..."}`` where ``img`` is relative to the release
folder, ``label`` is 1 for hateful and 0 otherwise, and test files may leave ``label`` out.

Ids are strings here, always. Copies of the data disagree on their type: some store ``"01235"``, others the
integer ``1235`` for the same meme (whose image is ``img/01235.png``). A string id is kept exactly as written.
An integer id is never zero-padded by guesswork; instead, when the image file stem is a spelling of the same
number (``01235`` for 1235), the stem is the canonical id, so both kinds of copy give the same ids. Otherwise
the integer is written in plain decimal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.common import DataFolder

# Our split name -> file names that hold it, in order of preference.
SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("train.jsonl",),
    "dev_seen": ("dev_seen.jsonl",),
    "dev_unseen": ("dev_unseen.jsonl",),
    "dev": ("dev.jsonl",),
    "test_seen": ("test_seen.jsonl",),
    "test_unseen": ("test_unseen.jsonl",),
    "test": ("test.jsonl",),
}
# Sub-folders a download commonly unpacks into; `root` may be their parent.
_RELEASE_SUBFOLDERS = ("hateful_memes", "data")


@dataclass(frozen=True)
class MemeItem:
    """One meme: the image, the caption text printed on it, and the label (1 hateful, 0 not, None when the
    split file does not publish labels)."""

    id: str
    image: ImageInput
    text: str
    label: int | None


def _split_files() -> list[str]:
    return [name for names in SPLITS.values() for name in names]


def _has_split_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _split_files())


def release_root(root: Path) -> Path:
    """The folder holding the split files: `root` itself, or its single `hateful_memes/` or `data/` sub-folder
    that holds them. Only those two names are tried, and only when `root` itself holds no split file, so a
    folder is never picked by guessing; two candidate sub-folders are an error rather than a choice."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: HatefulMemes folder does not exist")
    if _has_split_files(root):
        return root
    candidates = [root / name for name in _RELEASE_SUBFOLDERS if (root / name).is_dir()]
    candidates = [folder for folder in candidates if _has_split_files(folder)]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        names = " and ".join(folder.name + "/" for folder in candidates)
        raise DataError(f"{root}: both {names} hold HatefulMemes split files; point at the one to use")
    raise DataError(
        f"{root}: no HatefulMemes split file (.jsonl) here or in {' or '.join(_RELEASE_SUBFOLDERS)}/; expected the "
        f"challenge release folder holding img/ and e.g. dev_seen.jsonl"
    )


def find_split_file(root: Path, split: str) -> Path:
    """The JSON-lines file of `split` in the release at `root` (see `release_root` for where it looks)."""
    if split not in SPLITS:
        raise UserError(f"unknown HatefulMemes split '{split}'; choose one of {', '.join(SPLITS)}")
    folder = release_root(root)
    for name in SPLITS[split]:
        if (folder / name).is_file():
            return folder / name
    present = [name for name in _split_files() if (folder / name).is_file()]
    available = [ours for ours, names in SPLITS.items() if any(name in present for name in names)]
    raise DataError(
        f"{folder}: no {' or '.join(SPLITS[split])} for split '{split}'; present: {', '.join(present)} "
        f"(use one of the splits {', '.join(available)})"
    )


def _canonical_id(raw_id: Any, image_name: str) -> str:
    if isinstance(raw_id, str):
        return raw_id
    stem = PurePosixPath(image_name).stem
    if stem.isdigit() and int(stem) == raw_id:
        return stem
    return str(raw_id)


def _field(entry: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = entry.get(name)
    if value is None:
        raise DataError(f"{where}: missing '{name}' field")
    if isinstance(value, bool) or not isinstance(value, kind):
        raise DataError(f"{where}: field '{name}' has the wrong type ({value!r})")
    return value


def _parse_line(line: str, where: str, labelled: bool, folder: DataFolder) -> tuple[str, str, str, int | None]:
    """(id, image path, text, label) of one JSON line. The image path, the `img` field cleaned to a posix path
    inside the release folder, becomes the image key; `folder` refuses one that leaves it."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); re-download the file") from exc
    if not isinstance(entry, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(entry).__name__}")
    raw_id = _field(entry, "id", (int, str), where)
    if isinstance(raw_id, str) and not raw_id.strip():
        raise DataError(f"{where}: field 'id' is empty")
    image_name = folder.relative(_field(entry, "img", str, where), where, "img").as_posix()
    folder.resolve(image_name, where, "img")
    text = _field(entry, "text", str, where)
    label = entry.get("label")
    if label is None:
        if labelled:
            raise DataError(f"{where}: missing 'label' field (only test splits may leave it out)")
    elif isinstance(label, bool) or label not in (0, 1):
        raise DataError(f"{where}: field 'label' must be 0 or 1, is {label!r}")
    return _canonical_id(raw_id, image_name), image_name, text, None if label is None else int(label)


def read_hateful_memes(root: Path, split: str) -> list[MemeItem]:
    """The memes of `split` in file order.

    `root` is the release folder or its parent (see `release_root`). Image keys are the `img` paths relative
    to the release folder (e.g. "img/42953.png"), so records do not depend on where the data lives. Every
    image's existence is checked before returning, so a half-extracted download fails here, naming the first
    missing image and how many are missing, instead of midway through a run. Labels are required except in
    the test splits. Errors name the file and the 1-based line number.
    """
    path = find_split_file(root, split)
    folder = path.parent
    inside = DataFolder(folder)
    labelled = not split.startswith("test")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason}); re-download the file") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from exc

    parsed: list[tuple[int, str, str, str, int | None]] = []
    first_line_of: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        meme_id, image_name, text, label = _parse_line(line, where, labelled, inside)
        if meme_id in first_line_of:
            raise DataError(f"{where}: duplicate id {meme_id!r} (first seen on line {first_line_of[meme_id]})")
        first_line_of[meme_id] = number
        parsed.append((number, meme_id, image_name, text, label))
    if not parsed:
        raise DataError(f"{path}: no memes in the file; re-download the release")

    missing = [(number, image_name) for number, _, image_name, _, _ in parsed if not (folder / image_name).is_file()]
    if missing:
        number, image_name = missing[0]
        raise DataError(
            f"{path}: line {number}: image {folder / image_name} not found ({len(missing)} of {len(parsed)} images "
            "missing); extract the img/ folder of the release next to the .jsonl files"
        )
    return [
        MemeItem(id=meme_id, image=ImageInput.from_path(folder / image_name, key=image_name), text=text, label=label)
        for _, meme_id, image_name, text, label in parsed
    ]
