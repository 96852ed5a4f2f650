"""The bundled samples: one seeded writer per task, producing a small set in the task's official on-disk format.

Every task ships such a sample under kosmos_eval/data/samples/<task>/ so that `kosmos-eval run TASK --sample`
works offline on a fresh install. The samples are synthetic (Pillow pictures, text written for the datasets'
schemas), never copies of real data, and numbers on them mean nothing: they prove that a pipeline runs.

Regenerate after changing a writer: `python -m kosmos_eval.generators [TASK ...]`; `--check` compares a fresh
rendering with what ships (tests/test_samples.py runs the same check for every task).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from kosmos_eval.core.registry import Registry
from kosmos_eval.data.locate import SAMPLE_MARKER

# a writer puts one task's sample into an empty folder; one writer may serve several tasks (COCO and Flickr30k).
# It may return fields for the sample's marker file (e.g. WITHHELD_ANSWERS), or None.
SampleWriter = Callable[[str, Path], Mapping[str, Any] | None]

# the modules that register writers (imported on first lookup, so `import kosmos_eval` stays light)
WRITER_MODULES = (
    "kosmos_eval.generators.raven",
    "kosmos_eval.generators.captions",
    "kosmos_eval.generators.vqa",
    "kosmos_eval.generators.websrc",
    "kosmos_eval.generators.ocr_free",
    "kosmos_eval.generators.classification",
    "kosmos_eval.generators.commonsense",
    "kosmos_eval.generators.language",
)
WRITERS: Registry[SampleWriter] = Registry("sample writer", WRITER_MODULES)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
# JPEG files are compared by decoded pixels with a small tolerance: libjpeg builds may round differently
JPEG_TOLERANCE = 8


def sample_writer(*tasks: str) -> Callable[[SampleWriter], SampleWriter]:
    """Register `writer(task, folder)` as the maker of these tasks' bundled samples."""
    return WRITERS.register(*tasks)


def writers() -> dict[str, SampleWriter]:
    """Every task's writer, by task name (sorted)."""
    return dict(sorted(WRITERS.items()))


def shipped_samples_root() -> Path:
    """Where the package keeps its samples (the source tree in a development install)."""
    return Path(str(resources.files("kosmos_eval.data").joinpath("samples")))


def write_sample(task: str, folder: Path) -> Path:
    """Write `task`'s sample into `folder` (created; it must not hold anything yet)."""
    table = writers()
    if task not in table:
        raise KeyError(f"no sample writer for task {task!r} (writers: {', '.join(table)})")
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty")
    extra = table[task](task, folder) or {}
    marker = {
        "task": task,
        "generator": table[task].__module__,
        "what": "a synthetic sample made by kosmos-eval's seeded generator: proves a pipeline runs, measures nothing",
        **extra,
    }
    (folder / SAMPLE_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    return folder


def regenerate(tasks: Iterable[str], root: Path | None = None) -> list[Path]:
    """Replace the shipped samples of `tasks` with fresh renderings."""
    root = root or shipped_samples_root()
    written = []
    for task in tasks:
        target = root / task
        if target.exists():
            shutil.rmtree(target)
        written.append(write_sample(task, target))
    return written


def differences(shipped: Path, fresh: Path) -> list[str]:
    """What differs between two sample folders, one line per file ([] when they are equal)."""

    def files(folder: Path) -> set[str]:
        return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()

    have, want = files(shipped), files(fresh)
    lines = [f"{name}: not shipped" for name in sorted(want - have)]
    lines += [f"{name}: shipped but no longer generated" for name in sorted(have - want)]
    for name in sorted(have & want):
        a, b = shipped / name, fresh / name
        if a.suffix.lower() in IMAGE_SUFFIXES:
            problem = _image_difference(a, b)
            if problem:
                lines.append(f"{name}: {problem}")
        elif a.read_bytes() != b.read_bytes():
            lines.append(f"{name}: contents differ")
    return lines


def _image_difference(a: Path, b: Path) -> str | None:
    with Image.open(a) as first, Image.open(b) as second:
        if (first.format, first.mode, first.size) != (second.format, second.mode, second.size):
            return f"{first.format} {first.mode} {first.size} vs {second.format} {second.mode} {second.size}"
        lossy = first.format == "JPEG"
        pixels_a = np.asarray(first.convert("RGBA"), dtype=np.int16)
        pixels_b = np.asarray(second.convert("RGBA"), dtype=np.int16)
    largest = int(np.abs(pixels_a - pixels_b).max(initial=0))
    if largest > (JPEG_TOLERANCE if lossy else 0):
        return f"pixels differ (largest difference {largest})"
    return None


def check(tasks: Iterable[str], root: Path | None = None) -> dict[str, list[str]]:
    """Render each task's sample afresh and compare it with the shipped one: task -> differences."""
    root = root or shipped_samples_root()
    found = {}
    with tempfile.TemporaryDirectory(prefix="kosmos-eval-sample-") as scratch:
        for task in tasks:
            found[task] = differences(root / task, write_sample(task, Path(scratch) / task))
    return found
