"""What a declared task file may say, as checked data: the spec that user_tasks.py builds and declarative.py runs.

Why a module of its own: the spec is the one contract between reading a task file (kosmos_eval/tasks/
user_tasks.py checks every key against the vocabularies here) and running it (kosmos_eval/tasks/declarative.py
turns a `TaskSpec` into a Task). Keeping it apart from the task classes lets each side change without the
other, and keeps each metric name a file may declare next to the per-example scorer that defines it, so the
names the checker accepts and the names the task can score are one list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kosmos_eval.data.hub_source import HubCopy
from kosmos_eval.metrics import websrc
from kosmos_eval.metrics.matching import normalise_answer
from kosmos_eval.metrics.vqa import vizwiz_accuracy, vqa_accuracy
from kosmos_eval.prompting import PromptTemplate
from kosmos_eval.tasks.captioning import METRIC_NAMES as CAPTION_METRICS

RANK_METRICS = ("accuracy", "accuracy_norm")
# per-example scores of a generated answer against its references; the metric is their mean. Exact match and
# F1 are WebSRC's (SQuAD's normalisation), taken at the best reference where an example has several.
MEAN_METRICS: dict[str, Callable[[str, Sequence[str]], float]] = {
    "vqa_accuracy": vqa_accuracy,
    "vizwiz_accuracy": vizwiz_accuracy,
    "exact_match": lambda answer, references: max(websrc.websrc_exact_match(answer, r) for r in references),
    "f1": lambda answer, references: max(websrc.websrc_f1(answer, r) for r in references),
    "accuracy": lambda answer, references: float(normalise_answer(answer) in map(normalise_answer, references)),
}
GENERATE_METRICS = (*MEAN_METRICS, *CAPTION_METRICS)
# how generated text becomes the scored answer: cut at the stop strings (default), VQAv2's cut and official
# normalisation, WebSRC's cut
POSTPROCESS = ("stop", "vqa", "websrc")
DERIVED_FIELDS = ("choices", "label", "answer", "references")  # what the task adds to every example's fields


@dataclass(frozen=True)
class DataSpec:
    """Where a declared task's rows come from and which columns become what."""

    files: dict[str, str]  # our split -> data file in the data folder (empty for a hub dataset)
    hub: HubCopy | None
    demo_split: str | None
    id_column: str | None  # None: the row number
    images: dict[str, str]  # template image name -> column (a path relative to the data file, or image bytes)
    fields: dict[str, str] | None  # template field -> column; None: every other column under its own name

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.files) if self.hub is None else tuple(self.hub.splits)


@dataclass(frozen=True)
class TaskSpec:
    """One checked task file (user_tasks.parse_task_file); `path` is the file, whose folder holds the data
    unless --data-dir names another."""

    name: str
    path: Path
    kind: str  # "rank" | "generate"
    description: str
    data: DataSpec
    shots: tuple[int, ...]
    metrics: tuple[str, ...]
    template: PromptTemplate
    breakdowns: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None  # rank: listed once ...
    choices_column: str | None = None  # ... or per example
    option: str = " {choice}"  # rank: how a choice continues the prompt
    label_column: str | None = None  # rank: the gold choice, as its text or its index
    end_of_sequence: bool = False  # rank: score each option up to the end of the sequence (class names)
    references_column: str | None = None  # generate: the reference answer(s)
    postprocess: str = "stop"
