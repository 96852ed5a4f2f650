"""Every image file a run will open exists, checked before the model loads.

A run reads an image only when its step computes, so a missing file used to be found minutes (or, after a
real model's load, a quarter of an hour) into a run, in a folder the run had already created. The check here
needs only the data: it stats each distinct image file the evaluated examples and the demonstration pool name
(a file is stat'ed once however many questions share it), and says in one line how many are missing and which
one first. In-memory images (hub datasets, rendered pages) have no file and need no check.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence

from kosmos_eval.core.types import Example
from kosmos_eval.errors import DataError

log = logging.getLogger(__name__)

SLOW_CHECK_SECONDS = 2.0  # a check that takes longer says so, so a slow network disk is not a silent pause


def image_files(examples: Iterable[Example]) -> Iterator[str]:
    """The image files `examples` name, each once, in first-seen order."""
    seen: set[str] = set()
    for example in examples:
        for images in example.images.values():
            for image in images:
                if image.file is not None and image.file not in seen:
                    seen.add(image.file)
                    yield image.file


def check_image_files(task: str, groups: Sequence[tuple[str, Sequence[Example]]]) -> None:
    """Refuse (DataError) when an image file named by any group of examples is missing or not a file.
    `groups` pairs a name ("the test split", "the demonstration pool (train)") with its examples."""
    started = time.perf_counter()
    checked = 0
    for what, examples in groups:
        missing = []
        for path in image_files(examples):
            checked += 1
            if not os.path.isfile(path):
                missing.append(path)
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise DataError(
                f"{task}: {missing[0]}{more}: image file not found ({what}); check --data-dir and that the "
                "images were unpacked where the task's data layout expects them (docs/data.md)"
            )
    elapsed = time.perf_counter() - started
    if elapsed > SLOW_CHECK_SECONDS:
        log.warning("%s: checking that %d image files exist took %.1f s", task, checked, elapsed)
