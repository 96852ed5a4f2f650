"""Readers for Raven's-Progressive-Matrices style problems.

Two on-disk layouts are understood:

* IQ50 "one-by-one" (the KOSMOS-1 IQ test as published, and our bundled sample):
  ``exp-<N>/query-<K>.png`` are the given panels in reading order (3, 4 or 8 of them) and
  ``exp-<N>/answer-<a..f>.png`` the candidates. In this layout ``answer-a`` is the correct candidate.
* RAVEN / I-RAVEN ``.npz`` files: ``image`` is a (16, H, W) uint8 array, panels 0-7 are the context of a
  3x3 matrix, 8-15 the candidates; ``target`` is the 0-based index of the correct candidate.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import DataFolder

_EXP_DIR = re.compile(r"^exp-(\d+)$")
_QUERY = re.compile(r"^query-(\d+)\.png$")
_ANSWER = re.compile(r"^answer-([a-z])\.png$")


@dataclass(frozen=True)
class RavenProblem:
    id: str
    panels: tuple[ImageInput, ...]
    candidates: tuple[ImageInput, ...]
    answer_index: int
    source: str


def detect_layout(folder: Path) -> str | None:
    """'iq50' or 'npz' for a folder that holds that layout (or its iq50 parent), None otherwise."""
    if iq50_root(folder) is not None:
        return "iq50"
    if any(folder.rglob("*.npz")):
        return "npz"
    return None


def iq50_root(folder: Path) -> Path | None:
    """The folder that directly contains exp-N/ folders: `folder` itself or its `obo/` child."""
    for candidate in (folder, folder / "obo"):
        if candidate.is_dir():
            with os.scandir(candidate) as entries:  # lazily: the first exp-N/ ends the listing
                if any(_EXP_DIR.match(entry.name) and entry.is_dir() for entry in entries):
                    return candidate
    return None


def read_iq50(folder: Path) -> list[RavenProblem]:
    """Every exp-N/ problem in numeric order. Folders are listed with os.scandir and file names kept as
    strings until an image is made: a RAVEN-size folder has tens of thousands of files, and Path objects and
    one stat per entry cost more than the listing itself."""
    root = iq50_root(folder)
    if root is None:
        raise DataError(f"{folder}: no exp-<N>/ folders found (expected the IQ50 one-by-one layout)")
    with os.scandir(root) as entries:
        numbered = [(int(m.group(1)), e.name) for e in entries if (m := _EXP_DIR.match(e.name)) and e.is_dir()]
    inside = DataFolder(folder)
    return [_read_iq50_problem(str(root), name, inside) for _, name in sorted(numbered)]


def _image(exp_dir: str, exp_name: str, file_name: str, inside: DataFolder, links: set[str]) -> ImageInput:
    """Keyed by exp-N/file.png: the same key on every machine, whatever the data folder's location. A listed
    file may be a symlink (`links`, from the listing); `inside` refuses one that leads out of the data folder."""
    path = inside.check(f"{exp_dir}{os.sep}{file_name}", is_link=file_name in links)
    return ImageInput.from_path(path, key=f"{exp_name}/{file_name}")


def _read_iq50_problem(root: str, exp_name: str, inside: DataFolder) -> RavenProblem:
    exp_dir = os.path.join(root, exp_name)
    queries: dict[int, str] = {}
    answers: dict[str, str] = {}
    with os.scandir(exp_dir) as entries:
        listed = [(entry.name, entry.is_symlink()) for entry in entries]
    links = {name for name, is_link in listed if is_link}
    for name, _ in listed:
        if m := _QUERY.match(name):
            queries[int(m.group(1))] = name
        elif m := _ANSWER.match(name):
            answers[m.group(1)] = name
    if not queries:
        raise DataError(f"{exp_dir}: no query-<K>.png panels")
    if sorted(queries) != list(range(1, len(queries) + 1)):
        raise DataError(f"{exp_dir}: query panels must be numbered 1..N without gaps, found {sorted(queries)}")
    letters = sorted(answers)
    expected = [chr(ord("a") + i) for i in range(len(letters))]
    if len(letters) < 2 or letters != expected:
        raise DataError(f"{exp_dir}: expected candidates answer-a.png, answer-b.png, ... found {letters}")
    return RavenProblem(
        id=exp_name,
        panels=tuple(_image(exp_dir, exp_name, queries[k], inside, links) for k in sorted(queries)),
        candidates=tuple(_image(exp_dir, exp_name, answers[letter], inside, links) for letter in letters),
        answer_index=0,  # the one-by-one layout stores the correct candidate as answer-a
        source=exp_dir,
    )


@lru_cache(maxsize=16)
def _npz_arrays(path: str) -> tuple[np.ndarray, int]:
    try:
        with np.load(path) as data:
            if "image" not in data or "target" not in data:
                raise DataError(f"{path}: RAVEN .npz needs arrays 'image' and 'target', has {sorted(data.files)}")
            images = data["image"]
            target = int(np.asarray(data["target"]).reshape(-1)[0])
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read .npz ({exc.__class__.__name__}: {exc})") from exc
    if images.ndim != 3 or images.shape[0] != 16:
        raise DataError(f"{path}: 'image' must have shape (16, H, W), has {images.shape}")
    if not 0 <= target < 8:
        raise DataError(f"{path}: 'target' must be a candidate index 0..7, is {target}")
    return images, target


def _npz_panel(path: str, key: str, index: int) -> ImageInput:
    return ImageInput(
        key=f"{key}#{index}", opener=lambda: Image.fromarray(_npz_arrays(path)[0][index]), origin=f"{path}#{index}"
    )


def read_npz_folder(folder: Path) -> list[RavenProblem]:
    files = sorted(folder.rglob("*.npz"))
    if not files:
        raise DataError(f"{folder}: no .npz files found (expected RAVEN / I-RAVEN problems)")
    inside = DataFolder(folder)
    problems = []
    for path in files:
        inside.check(path)
        _, target = _npz_arrays(str(path))  # validates the file up front, before any model work
        relative = str(path.relative_to(folder))
        problems.append(
            RavenProblem(
                id=relative.removesuffix(".npz"),
                panels=tuple(_npz_panel(str(path), relative, i) for i in range(8)),
                candidates=tuple(_npz_panel(str(path), relative, i) for i in range(8, 16)),
                answer_index=target,
                source=str(path),
            )
        )
    return problems


def read_raven(folder: Path) -> list[RavenProblem]:
    """Read whichever Raven layout the folder holds."""
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder does not exist")
    layout = detect_layout(folder)
    if layout == "iq50":
        return read_iq50(folder)
    if layout == "npz":
        return read_npz_folder(folder)
    raise DataError(
        f"{folder}: no Raven data found. Expected IQ50 exp-<N>/query-<K>.png + answer-<a..f>.png folders "
        "or RAVEN/I-RAVEN .npz files (see docs/data.md)"
    )
