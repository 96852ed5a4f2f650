"""`kosmos-eval data fetch`: download a task's hub copy ahead of a run, then check what was downloaded.

A run on a GPU node should not be the first to find that a copy is gated, that a card changed, or that the
node has no network. Fetching reads each split exactly as a run reads it (kosmos_eval/tasks/hub.py: the files
of that split only, into the `datasets` cache, which an offline run then reads), builds the task's examples
from it, and checks them: the row count against the paper's split, unique example ids, examples lost in
building (a join that found no image), the label set of a classification task, and that the first image
decodes. The few-shot pool is fetched too where the copy serves it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kosmos_eval.core.types import Example, ImageInput
from kosmos_eval.data.hub_source import hub_source
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.tasks.base import Task
from kosmos_eval.tasks.hub import HubData


@dataclass
class Fetched:
    """One split of one task, downloaded and checked."""

    task: str
    split: str
    source: str
    rows: int
    examples: int
    paper_split: bool
    why_not_paper: list[str] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "the paper's split" if self.paper_split else "NOT the paper's data: " + "; ".join(self.why_not_paper)
        labels = f"; labels {', '.join(f'{k}: {v:,}' for k, v in sorted(self.labels.items()))}" if self.labels else ""
        counts = f"{self.rows:,} rows, {self.examples:,} examples{labels}"
        return f"{self.task} {self.split}: {self.source}: {counts}; {verdict}"


def fetch_splits(task: Task, splits: list[str] | None, data_dir: Path | None = None) -> list[Fetched]:
    """Fetch and check `splits` of `task` (default: the paper's split, and the demo split when the hub copy
    serves it)."""
    if not isinstance(task, HubData) or hub_source(task.name) is None:
        raise UserError(f"{task.name}: no hub copy is declared; it reads local files only (docs/data.md)")
    copy = hub_source(task.name).default  # type: ignore[union-attr]
    if splits is None:
        splits = [task.default_split]
        if task.demo_split and task.demo_split in copy.splits and max(task.shots) > 0:
            splits.append(task.demo_split)
    return [_fetch_one(task, split, data_dir) for split in splits]


def _fetch_one(task: Task, split: str, data_dir: Path | None) -> Fetched:
    task.check_split(split)
    examples = task.load(split, data_dir)
    table = task.hub_tables.get(split)  # type: ignore[attr-defined]
    if table is None:
        raise DataError(f"{task.name}: {data_dir} holds the official files, not a hub copy: nothing to fetch")
    result = Fetched(
        task=task.name,
        split=split,
        source=table.describe(),
        rows=len(table),
        examples=len(examples),
        paper_split=table.paper_split,
        why_not_paper=list(table.why_not_paper),
    )
    ids = [example.id for example in examples]
    repeated = [key for key, count in Counter(ids).items() if count > 1]
    if repeated:
        result.problems.append(f"{len(repeated)} example ids occur more than once (first: {repeated[0]!r})")
    if not examples:
        result.problems.append("no examples were built from the split")
    if task.label_field:
        result.labels = dict(Counter(str(example.fields.get(task.label_field)) for example in examples))
        if len(result.labels) < 2:
            result.problems.append(f"only one label value ({', '.join(result.labels)}): a test split without labels?")
    first = _first_image(examples[0]) if examples else None
    if first is not None:
        try:
            first.load()
        except DataError as exc:
            result.problems.append(f"the first image does not decode: {exc}")
    return result


def _first_image(example: Example) -> ImageInput | None:
    for images in example.images.values():
        if images:
            return images[0]
    return None
