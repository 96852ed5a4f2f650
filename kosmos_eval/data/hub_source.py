"""Hub copies of a task's data, declared as data (kosmos_eval/data/sources/<task>.yaml) and opened through `datasets`.

Order of places a run looks in (kosmos_eval/data/locate.py): local official files (`--data-dir`,
`$KOSMOS_EVAL_DATA/<task>/`), then the task's declared hub copy. A declaration says, per copy: the hub id
(and fallback ids, for organisations that move), the revision, the config, which hub split serves which of
our splits and how many rows the paper's split has, the column each field comes from and its type, where the
few-shot demonstration pool comes from, and whether the copy is exactly the paper's split. A copy that is not
(another selection of rows, a set the paper did not use, a row count that does not match) is labelled so in
the run's summary, and its numbers are never set beside the paper's.

A downloaded copy of a hub repo (`hf download ID --repo-type dataset --local-dir DIR`) works as
`--data-dir DIR`: `datasets` reads the folder exactly as it reads the hub (the card's `configs:` say which
files are which split). A user may point a task at another copy with `--task-option hub_id=...` and
`hub_revision=...`; such a copy is checked against the same columns and row count.

Failures are one line naming the hub id, the split and what to do: a gated copy without a token, a split
the copy lacks, a column the card no longer has (or of another type), and offline with an empty cache.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import DataError

# our column types, and the `datasets` feature kinds each accepts
COLUMN_TYPES = ("string", "int", "image", "list<string>", "list<image>", "list<dict>", "dict", "any")


@dataclass(frozen=True)
class HubSplit:
    """One of our splits as a hub copy holds it."""

    hub: str  # the hub's name for it ("testdev", "validation", ...)
    rows: int | None = None  # rows of the paper's split (None: the paper does not fix it)
    paper: bool = True  # whether these rows are exactly the paper's split
    # the split's files in the repo (a glob): only they are fetched. Without it `datasets` prepares every split
    # of the copy, which for ImageNet's webdataset tars means the 1.28M training images. For a copy holding a
    # release's own files (HatefulMemes) it names the split's index file, which the task's reader reads.
    files: str | None = None


@dataclass(frozen=True)
class HubCopy:
    """One hub repository that serves the task (see the module docstring)."""

    id: str
    splits: dict[str, HubSplit]
    columns: dict[str, tuple[str, str]]  # field -> (hub column, type)
    revision: str | None = None
    config: str | None = None
    fallback_ids: tuple[str, ...] = ()
    not_paper: str | None = None  # why this copy is not the paper's data at all (RAVEN for IQ50)
    demos: str | None = None  # where the few-shot pool comes from when the copy has no train split
    license: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class HubSource:
    task: str
    copies: tuple[HubCopy, ...]
    note: str | None = None

    @property
    def default(self) -> HubCopy:
        return self.copies[0]


def sources_folder() -> Path:
    return Path(str(resources.files("kosmos_eval.data").joinpath("sources")))


def hub_source(task: str) -> HubSource | None:
    """The task's declared hub copies, or None when it declares none."""
    path = sources_folder() / f"{task}.yaml"
    if not path.is_file():
        return None
    return parse_source(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def parse_source(data: Any, where: str) -> HubSource:
    """A declaration checked field by field (an error names the file and the field)."""
    if not isinstance(data, dict) or not isinstance(data.get("task"), str):
        raise DataError(f"{where}: a hub source declares 'task' and 'copies'")
    copies = data.get("copies")
    if not isinstance(copies, list) or not copies:
        raise DataError(f"{where}: 'copies' must list at least one hub copy")
    return HubSource(
        data["task"], tuple(_parse_copy(c, f"{where}: copies[{i}]") for i, c in enumerate(copies)), data.get("note")
    )


def _parse_copy(data: Any, where: str) -> HubCopy:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or "/" not in data["id"]:
        raise DataError(f"{where}: 'id' must be a hub dataset id (owner/name)")
    splits = {}
    for ours, spec in (data.get("splits") or {}).items():
        spec = {"hub": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict) or not isinstance(spec.get("hub"), str):
            raise DataError(f"{where}: splits.{ours} must name the hub split ('hub: NAME')")
        rows = spec.get("rows")
        if rows is not None and (not isinstance(rows, int) or rows < 1):
            raise DataError(f"{where}: splits.{ours}.rows must be a positive whole number")
        files = spec.get("files")
        if files is not None and (not isinstance(files, str) or not files.strip()):
            raise DataError(f"{where}: splits.{ours}.files must be a file name or glob in the repo")
        splits[str(ours)] = HubSplit(spec["hub"], rows, bool(spec.get("paper", True)), files)
    if not splits:
        raise DataError(f"{where}: 'splits' must map at least one split")
    columns = {}
    for name, spec in (data.get("columns") or {}).items():
        spec = {"column": spec, "type": "any"} if isinstance(spec, str) else spec
        kind = spec.get("type", "any") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("column"), str) or kind not in COLUMN_TYPES:
            raise DataError(f"{where}: columns.{name} needs 'column' and a 'type' among {', '.join(COLUMN_TYPES)}")
        columns[str(name)] = (spec["column"], kind)
    return HubCopy(
        id=data["id"],
        splits=splits,
        columns=columns,
        revision=data.get("revision"),
        config=data.get("config"),
        fallback_ids=tuple(data.get("fallback_ids") or ()),
        not_paper=data.get("not_paper"),
        demos=data.get("demos"),
        license=data.get("license"),
        note=data.get("note"),
    )


@dataclass
class HubTable:
    """One split of a hub copy, opened: its rows, where they came from, and whether they are the paper's."""

    dataset: Any  # datasets.Dataset; for a copy of release files, the items its reader made (counted only)
    copy: HubCopy
    hub_id: str
    split: str
    local_copy: Path | None = None
    why_not_paper: list[str] = field(default_factory=list)
    _columns: dict[str, Any] = field(default_factory=dict, repr=False)  # one image column view, not one per row

    @property
    def paper_split(self) -> bool:
        return not self.why_not_paper

    def __len__(self) -> int:
        return len(self.dataset)

    def values(self, name: str) -> list[Any]:
        """Every row's value of the field `name` (its declared column), read as one column."""
        return list(self.dataset[self.copy.columns[name][0]])

    def image(self, name: str, index: int, key: str) -> ImageInput:
        """Row `index`'s image field `name`, decoded only when a backend needs its pixels."""
        column = self.copy.columns[name][0]
        if column not in self._columns:  # select_columns costs ~0.3 ms: 15 s over ImageNet's 50,000 rows
            self._columns[column] = self.dataset.select_columns([column])
        images = self._columns[column]
        return ImageInput(
            key=key, opener=lambda: to_pil(images[index][column]), origin=f"{self.describe()} row {index}"
        )

    def describe(self) -> str:
        where = f"local copy {self.local_copy} of " if self.local_copy else ""
        revision = f"@{self.copy.revision}" if self.copy.revision else ""
        return f"{where}hub {self.hub_id}{revision} (split {self.copy.splits[self.split].hub})"

    def provenance(self) -> dict[str, Any]:
        """What a summary records about the source (summary.json `data.hub`)."""
        return {
            "id": self.hub_id,
            "revision": self.copy.revision,
            "config": self.copy.config,
            "split": self.copy.splits[self.split].hub,
            "rows": len(self.dataset),
            "local_copy": str(self.local_copy) if self.local_copy else None,
            "paper_split": self.paper_split,
            "why_not_paper": self.why_not_paper,
        }


def to_pil(value: Any) -> Image.Image:
    """A decoded image, or the raw forms an undecoded column holds ({'bytes', 'path'} or plain bytes)."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict):
        if value.get("bytes"):
            return Image.open(io.BytesIO(value["bytes"]))
        if value.get("path"):
            return Image.open(value["path"])
    if isinstance(value, bytes):
        return Image.open(io.BytesIO(value))
    raise TypeError(f"the image column holds {type(value).__name__}, not an image")  # ImageInput.load names the row
