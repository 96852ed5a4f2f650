"""Synthetic copies of the hub datasets the tasks read (kosmos_eval/data/sources/), laid out as a downloaded
hub repo (`hf download ID --repo-type dataset --local-dir DIR`): a dataset card whose `configs:` name each
split's parquet files, and `data/<split>-00000-of-00001.parquet` in exactly the card's schema (feature names
and types, images as `{bytes, path}`).

The rows are the task's bundled sample, made by its one seeded writer (kosmos_eval/generators) and turned into
the copy's schema, so the tests, `data fetch` and `run` on a copy read the same questions as `--sample`.
Nothing here touches the network.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from kosmos_eval.core.registry import Registry

CopyWriter = Callable[[Path, Path], dict[str, list[dict[str, Any]]]]
# the modules whose writers register themselves with `copy_writer`, imported when a copy is first asked for
FAMILIES = tuple(
    f"kosmos_eval.generators.{family}"
    for family in ("hub_copies_vqa", "hub_copies_captions", "hub_copies_reasoning", "hub_copies_classification")
)
# task -> (its writer, its card's features or None)
COPY_WRITERS: Registry[tuple[CopyWriter, Callable[[], Any] | None]] = Registry("hub copy writer", FAMILIES)


def copy_writer(task: str, features: Callable[[], Any] | None) -> Callable[[CopyWriter], CopyWriter]:
    """Register `(sample folder, copy folder) -> {hub split: rows}` for `task`, with its card's features; with
    `features` None the writer lays out the repo's own files itself (a release's files, webdataset tars)."""

    def register(function: CopyWriter) -> CopyWriter:
        COPY_WRITERS.add(task, (function, features))
        return function

    return register


def write_hub_copy(task: str, folder: Path, rows: dict[str, int] | None = None) -> Path:
    """A synthetic copy of `task`'s hub dataset in `folder`; `rows` keeps only the first N rows of a split
    (or repeats the sample's rows up to N, for a copy with the paper's row count)."""
    from kosmos_eval.generators.samples import write_sample

    function, features = COPY_WRITERS.get(task)
    with tempfile.TemporaryDirectory(prefix=f"kosmos-eval-{task}-sample-") as sample:
        write_sample(task, Path(sample))
        splits = function(Path(sample), folder)
    if features is None:  # the writer wrote the repo's files as they are
        return folder
    for split, wanted in (rows or {}).items():
        have = splits[split]
        splits[split] = [have[i % len(have)] for i in range(wanted)]
    write_card_repo(folder, features(), splits)
    return folder


def write_card_repo(folder: Path, features: Any, splits: dict[str, list[dict[str, Any]]]) -> None:
    """README.md with the `configs:` block the hub uses, then one parquet file per split in `features`."""
    import datasets

    (folder / "data").mkdir(parents=True, exist_ok=True)
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split, rows in splits.items():
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
        table = datasets.Dataset.from_list(rows, features=features)
        table.to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    (folder / "README.md").write_text("\n".join([*lines, "---", "", "A synthetic copy (kosmos-eval tests)."]) + "\n")


def image_cell(path: Path) -> dict[str, Any]:
    """An `Image` feature's stored form: the encoded bytes, no path (as the hub's parquet files hold them)."""
    with Image.open(path) as image:
        buffer = io.BytesIO()
        image.save(buffer, format=image.format or "PNG")
    return {"bytes": buffer.getvalue(), "path": None}
