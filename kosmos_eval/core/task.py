"""The Task contract: load examples, build requests, score outputs, aggregate metrics.

One module per task family under kosmos_eval/tasks, registered with `@register_task`. Tasks keep only what
differs between datasets; prompt text lives in prompts/<task>.yaml, file formats in kosmos_eval/formats,
metrics in kosmos_eval/metrics.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.types import Example, RankResult, Request
from kosmos_eval.errors import UserError
from kosmos_eval.metrics import MetricValue
from kosmos_eval.prompting import PromptTemplate, load_prompt


@dataclass(frozen=True)
class DataStatus:
    found: bool
    where: str  # a path, "bundled sample", or what is missing and how to get it


class Task(ABC):
    name: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]  # the headline metric first
    shots: ClassVar[tuple[int, ...]] = (0,)
    splits: ClassVar[tuple[str, ...]] = ("test",)
    default_split: ClassVar[str] = "test"
    options: ClassVar[dict[str, str]] = {}  # task option -> help text (set with --task-option k=v)

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        self.seed = seed
        self.task_options = dict(options or {})
        unknown = set(self.task_options) - set(self.options)
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise UserError(f"Task {self.name!r} has no option {sorted(unknown)[0]!r} (options: {known})")

    @property
    def prompt(self) -> PromptTemplate:
        return load_prompt(self.name)

    def check_shots(self, shots: int) -> None:
        if shots not in self.shots:
            allowed = ", ".join(str(s) for s in self.shots)
            raise UserError(f"Task {self.name!r} is evaluated with --shots {allowed} in the paper; got {shots}")

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise UserError(f"Task {self.name!r} has splits {', '.join(self.splits)}; got {split!r}")

    @abstractmethod
    def data_status(self, data_dir: Path | None) -> DataStatus:
        """Whether this task's data is present (for `kosmos-eval list` and early, clear failures)."""

    @abstractmethod
    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        """Every example of the split, in a stable order (so --limit takes the same examples every time)."""

    @abstractmethod
    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        """The requests that answer one example."""

    @abstractmethod
    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        """Per-sample record fields (prediction, per-candidate scores, correctness), JSON-serialisable."""

    @abstractmethod
    def aggregate(self, records: Sequence[dict[str, Any]]) -> dict[str, MetricValue]:
        """Corpus metrics over the per-sample records, headline first."""
