"""What some tasks can do and others cannot: small capability classes a task opts into by listing them.

The Task core (tasks/base.py) is what every task has: its declaration, `load`, `build`, `score`, `aggregate`,
`render` and the option helpers. Everything else here served one task or a few, and used to sit on the base as
a method every task carried with a default that did nothing; a reader then had to find which of thirty
defaults a task really used. Now a task lists the capability among its bases (WebSRC: `PromptBudgeted`), and a
caller asks the helper of the same name (`prompt_info(task, example)`), which gives the safe default for a task
without it, or `isinstance(task, Capability)` where it must refuse.

Capabilities are classes a task inherits, not structural protocols: opting in is an explicit base, checked
by `isinstance`, so a method that merely shares a name (or one of the base's old-name hooks, kept for the
runner until it calls these helpers) never makes a task look capable. The hooks are abstract base classes,
so a task that opts in and forgets the method cannot be built. `SampleFallback` is a marker; `LocatesData`
(the data folder's words and checks, used by every built-in task) and `TieBreaking` (the seeded pick of every
ranking) are shared behaviour rather than hooks callers ask about. `HubData` (tasks/hub.py) is one more, for
tasks with a declared hub copy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.backend import PromptBudget
from kosmos_eval.core.seeding import argmax_random_ties, seeded_rng
from kosmos_eval.core.types import DataStatus, Example, ImageInput, RankResult, Request
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.metrics.base import StreamingMetric

Output = RankResult | str
# the words that finish "pass --data-dir with ..." for a task that does not say which files it reads
GENERIC_DATA = "the task's data files"


# --- data ------------------------------------------------------------------------------------------------------


class LocatesData:
    """The task's data folder in words and checks, defined once so every "no data" message says the same.

    `data_needed` finishes "pass --data-dir with ..." (`kosmos-eval list`, a run without a folder); `load`
    starts with `require_data`; `data_status` asks `locate_data`, which a task overrides to say where in the
    folder its files are (raising DataError naming what is missing)."""

    name: ClassVar[str]
    data_needed: ClassVar[str] = GENERIC_DATA

    def require_data(self, data_dir: Path | None) -> Path:
        """`data_dir`, or the error that tells the user what --data-dir must hold."""
        if data_dir is None:
            raise DataError(f"{self.name}: no data. Pass --data-dir with {self.data_needed}")
        return data_dir

    def locate_data(self, data_dir: Path) -> str:
        """Where in `data_dir` the task's files are, as `kosmos-eval list` shows it. The default accepts any
        folder (its reader then says what it lacks)."""
        return str(data_dir)

    def data_status(self, data_dir: Path | None) -> DataStatus:
        """Whether the data is present: the words of `require_data` without a folder, `locate_data`'s answer
        or error with one."""
        if data_dir is None:
            return DataStatus(False, f"missing: pass --data-dir with {self.data_needed}")
        try:
            return DataStatus(True, self.locate_data(data_dir))
        except UserError as exc:
            return DataStatus(False, str(exc))


def data_status(task: object, data_dir: Path | None) -> DataStatus:
    """`task.data_status`, or for a task that does not locate its data, found wherever a folder is given."""
    if isinstance(task, LocatesData):
        return task.data_status(data_dir)
    if data_dir is None:
        return DataStatus(False, f"missing: pass --data-dir with {GENERIC_DATA}")
    return DataStatus(True, str(data_dir))


class SampleFallback:
    """Read the bundled sample when no data is configured (Raven: the README's first run needs no data).
    Every other task reads its sample only on `--sample`, so a forgotten --data-dir never yields a score."""


def falls_back_to_sample(task: object) -> bool:
    """Whether `task` (a task or a task class) reads its bundled sample when no data is configured."""
    return isinstance(task, SampleFallback) or (isinstance(task, type) and issubclass(task, SampleFallback))


# --- running -----------------------------------------------------------------------------------------------------


class EnvironmentChecked(ABC):
    """Needs something beyond the package to score (captioning: Java), checked before a model loads."""

    @abstractmethod
    def check_environment(self) -> None:
        """Fail with one line when what scoring needs is missing."""

    @abstractmethod
    def start_services(self) -> None:
        """Start what scoring needs in the background (captioning's scoring process), once the run's data has
        passed its checks: it then loads while the model loads, and no bad --data-dir starts it in vain."""


def check_environment(task: object) -> None:
    if isinstance(task, EnvironmentChecked):
        task.check_environment()


def start_services(task: object) -> None:
    if isinstance(task, EnvironmentChecked):
        task.start_services()


class PromptBudgeted(ABC):
    """Prompts that must fit the model (WebSRC's page text): told the model's prompt budget before any request
    is built, and says per example what its prompt left out, which the record keeps as `prompt_info`."""

    @abstractmethod
    def use_backend(self, budget: PromptBudget | None) -> None:
        """Told how much prompt the model takes (Backend.prompt_budget; None: no known limit)."""

    @abstractmethod
    def prompt_info(self, example: Example) -> dict[str, Any]:
        """What the built prompt of `example` left out or changed; {} when nothing was."""


def use_backend(task: object, budget: PromptBudget | None) -> None:
    if isinstance(task, PromptBudgeted):
        task.use_backend(budget)


def prompt_info(task: object, example: Example) -> dict[str, Any]:
    return task.prompt_info(example) if isinstance(task, PromptBudgeted) else {}


class TwoStage(ABC):
    """Asks more after the first answers (multimodal chain-of-thought: a rationale, then the question). The
    runner batches each stage across examples; `score` receives the outputs of every stage."""

    @abstractmethod
    def follow_up(self, example: Example, demos: Sequence[Example], outputs: Sequence[Output]) -> list[Request]:
        """The next stage's requests, built from the outputs so far (all of them, in order), or [] when done."""


def follow_up(task: object, example: Example, demos: Sequence[Example], outputs: Sequence[Output]) -> list[Request]:
    """The task's next stage for `example`; a single-stage task is done after `build`."""
    return task.follow_up(example, demos, outputs) if isinstance(task, TwoStage) else []


class DemoImages(ABC):  # noqa: B024
    """Examples with one image that few-shot retrieval (`--sampler rices`) compares. An ABC like the hooks
    above (though nothing is abstract: the usual answer is the default), so that it comes before the Task base
    in every task's method order, wherever a task lists it."""

    def demo_image(self, example: Example) -> ImageInput | None:
        """The image RICES compares: the example's one "image"."""
        return example.image("image") if len(example.images.get("image", ())) == 1 else None


def demo_image(task: object, example: Example) -> ImageInput | None:
    """The image RICES compares for `example`, or None where the task has none to compare."""
    return task.demo_image(example) if isinstance(task, DemoImages) else None


# --- scoring -----------------------------------------------------------------------------------------------------


class StreamingScored(ABC):
    """Corpus metrics that work while the model computes (metrics/base.py): the runner begins each with the
    run's examples and feeds it every record as it is made, so little is left for the end (captioning)."""

    @abstractmethod
    def streaming_metrics(self) -> Sequence[StreamingMetric]:
        """The metrics of `aggregate` that take records as they come."""


def streaming_metrics(task: object) -> Sequence[StreamingMetric]:
    return task.streaming_metrics() if isinstance(task, StreamingScored) else ()


class Exports(ABC):
    """Writes files beside the summary in an official format (an evaluation-server submission, COCO results)."""

    @abstractmethod
    def export(self, records: Sequence[dict[str, Any]], run_dir: Path, split: str) -> dict[str, str]:
        """The files written; what each is -> its path."""


def export(task: object, records: Sequence[dict[str, Any]], run_dir: Path, split: str) -> dict[str, str]:
    return task.export(records, run_dir, split) if isinstance(task, Exports) else {}


class ExternalPredictions(ABC):
    """Scores predictions made elsewhere (`kosmos-eval score-predictions`) with the code a run scores with:
    every generation task, whose `score` is `score_prediction` of its post-processed output."""

    @abstractmethod
    def read_predictions(self, path: Path) -> dict[str, Any]:
        """A predictions file in the task's official results format -> {example id: prediction entry} (the
        answer text; VizWiz entries also carry an answerability confidence)."""

    @abstractmethod
    def score_prediction(self, example: Example, prediction: Any) -> dict[str, Any]:
        """The sample record for `prediction` (post-processed generated text, or an entry of a predictions
        file): prediction, references, per-sample scores."""


class AnnotationFiles(ABC):
    """Reads its gold examples from the official annotation files given directly (score-predictions
    --annotations), without the dataset folder."""

    @abstractmethod
    def load_annotations(self, annotations: Path, questions: Path | None, split: str) -> list[Example]:
        """Gold examples of `split` from the annotation file (and questions file, where the format has one)."""


# --- shared scoring behaviour --------------------------------------------------------------------------------------


class TieBreaking:
    """The seeded tie-break of every ranking: the best score and every index tied with it
    (core.seeding.TIE_TOLERANCE); a tie goes to a candidate drawn by a generator seeded with the run seed,
    `purpose` and the example id. A rerun, a resumed or differently batched run picks the same, and a model that
    scores the candidates alike scores at chance instead of always winning with the first. Each ranking of one
    example (raw, length-normalised) passes its own `purpose`, so one does not shift the other's draw."""

    seed: int

    def best_candidate(
        self, scores: Sequence[float], example: Example, purpose: str = "tie-break"
    ) -> tuple[int, list[int]]:
        return argmax_random_ties(scores, lambda: seeded_rng(self.seed, purpose, example.id))
