"""`kosmos-eval data verify TASK`: read everything a run of TASK would read, before a run depends on it.

The task's reader parses every record of the split (and of the few-shot pool, for tasks that have one), which
checks fields, labels and file references as a run does; then every image is opened and decoded, in a few
threads. Problems are collected, one line each naming the file (an image that cannot be read does not stop
the check of the others). A reader's own error stops that split, since later records cannot be trusted. A
data file naming an image outside the data folder (formats/common.py) is not one problem among others: it is
raised, so the check refuses with one line and exit 2, as a run does, and nothing of that folder is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from kosmos_eval.core.types import Example, ImageInput
from kosmos_eval.errors import UserError
from kosmos_eval.formats.common import DataPathError

if TYPE_CHECKING:
    from kosmos_eval.tasks.base import Task

WORKERS = 4


@dataclass
class Verification:
    splits: dict[str, int] = field(default_factory=dict)  # split -> examples read
    images: int = 0  # distinct images opened
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not checked, and why (not a problem)

    @property
    def ok(self) -> bool:
        return not self.problems


def example_images(example: Example) -> Iterator[ImageInput]:
    for images in example.images.values():
        yield from images


def _open(image: ImageInput) -> str | None:
    try:
        image.load()
    except UserError as exc:
        return str(exc)
    return None


def _hub_serves(task: Task, split: str) -> dict[str, object] | None:
    """The splits of the hub copy `split` was read from, or None when it came from local official files."""
    table = getattr(task, "hub_tables", {}).get(split)
    return table.copy.splits if table is not None else None


def verify(task: Task, data_dir: Path | None, split: str, progress: bool = True) -> Verification:
    """Read `split` (and the task's demo split, where it has few-shot settings) and open every image."""
    splits = [split]
    if task.demo_split and task.demo_split != split and max(task.shots) > 0:
        splits.append(task.demo_split)
    result = Verification()
    images: dict[str, ImageInput] = {}
    for name in splits:
        served = _hub_serves(task, split)
        if name != split and served is not None and name not in served:
            # a hub copy without a training split serves zero-shot runs only: nothing is missing from it
            result.notes.append(f"{name} split: the hub copy has none (few-shot runs need the official files)")
            continue
        try:
            examples = task.load(name, data_dir)
        except DataPathError:
            raise
        except UserError as exc:
            result.problems.append(f"{name} split: {exc}")
            continue
        result.splits[name] = len(examples)
        for example in examples:
            for image in example_images(example):
                images.setdefault(image.key, image)
    result.images = len(images)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        found = pool.map(_open, images.values())
        for problem in tqdm(found, total=len(images), desc=f"{task.name}: images", unit="img", disable=not progress):
            if problem is not None:
                result.problems.append(problem)
    return result
