"""Tasks declared as data: one YAML file (kosmos_eval/tasks/user_tasks.py reads and checks it) becomes a Task.

Why a generic task: most evaluations a user adds differ from the paper's only in their data, prompt and answer
options, and each of those is data. A declared task is a ranking task (`RankingTask`: yes/no probes, multiple
choice with the options listed once or per example, classification by ranking class names) or a generation
task (`GenerationTask`) scored by a metric the harness already has (VQA accuracy, WebSRC's exact match / F1,
the COCO caption metrics, accuracy). What it shares with the built-in tasks (batching, resume, records, CIs,
`score`, `compare`) comes from those bases; this module only turns rows into `Example`s and picks the metric.
The checked file it runs (`TaskSpec`) and the metrics a file may declare are declared_spec.py's.

Rows come from a local .jsonl/.json/.csv/.parquet file, its image paths relative to it and kept inside the data
folder (`DataFolder`), or from a hub dataset opened and checked by data/hub_load.py. A declared task is never
one of the paper's: its family says "user task", its summary notes it, and it has no paper number.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.types import DataStatus, Example, ImageInput, RankRequest, RankResult, Request
from kosmos_eval.data.hub import hub_status
from kosmos_eval.data.hub_load import is_hub_snapshot, open_copy
from kosmos_eval.data.hub_source import HubCopy, to_pil
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.common import DataFolder, load_json
from kosmos_eval.formats.language_sources import read_rows_file
from kosmos_eval.metrics import MetricValue, group_means, mean_metrics, websrc
from kosmos_eval.metrics.captioning import MEAN_OF_PER_IMAGE, bootstrap_corpus_cis, require_java, score_captions
from kosmos_eval.metrics.vqa import normalize_vqa_answer, postprocess_generated_answer
from kosmos_eval.prompting import PromptTemplate
from kosmos_eval.tasks.base import Scores, Task
from kosmos_eval.tasks.capabilities import DemoImages, EnvironmentChecked
from kosmos_eval.tasks.captioning import METRIC_NAMES as CAPTION_METRICS
from kosmos_eval.tasks.declared_spec import MEAN_METRICS, TaskSpec
from kosmos_eval.tasks.generation import GenerationTask
from kosmos_eval.tasks.hub import HUB_OPTIONS, HubData
from kosmos_eval.tasks.ranking import RankingTask
from kosmos_eval.tasks.vqa import demo_answer

FAMILY = "user task"


def user_note(spec: TaskSpec) -> str:
    return f"user task ({spec.path.name}): not a task of the KOSMOS-1 paper, no paper number applies"


class DeclarativeTask(DemoImages, HubData):
    """What both kinds of declared task share: data, template, options and the user-task labels."""

    spec: ClassVar[TaskSpec]
    name: ClassVar[str]
    task_options: dict[str, str]

    @classmethod
    def all_options(cls) -> dict[str, str]:
        options = dict(cls.options)  # type: ignore[attr-defined]
        decoding = cls.spec.template.data.get("decoding")
        if decoding is not None:
            options["max_new_tokens"] = f"tokens generated (default {decoding['max_new_tokens']}, {cls.spec.path})"
        if cls.spec.data.hub is not None:
            options.update(HUB_OPTIONS)
        return options

    @property
    def prompt(self) -> PromptTemplate:
        return self.spec.template

    def check_shots(self, shots: int, pool: int | None = None) -> None:
        if shots > 0 and self.demo_split is None:  # type: ignore[attr-defined]
            raise UserError(f"Task {self.name!r} declares no data.demo_split to draw demos from ({self.spec.path})")
        super().check_shots(shots, pool)  # type: ignore[misc]

    def demo_image(self, example: Example) -> ImageInput | None:
        """The first declared single image (RICES compares it)."""
        for name in self.spec.data.images:
            if len(example.images.get(name, ())) == 1:
                return example.image(name)
        return None

    # --- data ------------------------------------------------------------------------------------------------

    def hub_copy(self) -> HubCopy:
        copy, options = self.spec.data.hub, self.task_options
        assert copy is not None
        return replace(copy, id=options.get("hub_id", copy.id), revision=options.get("hub_revision", copy.revision))

    def locate_data(self, data_dir: Path) -> str:
        if self.spec.data.hub is not None:
            if not is_hub_snapshot(data_dir):
                raise DataError(f"{data_dir}: not a downloaded copy of hub {self.hub_copy().id}")
            return f"local copy of hub {self.hub_copy().id} ({data_dir})"
        return str(self._data_file(self.default_split, data_dir))  # type: ignore[attr-defined]

    def data_status(self, data_dir: Path | None) -> DataStatus:
        if data_dir is None and self.spec.data.hub is not None:
            copy = self.hub_copy()
            return hub_status(copy.id, copy.config, f"pass --data-dir with {self.data_needed}")
        try:
            return DataStatus(True, self.locate_data(data_dir or self.spec.path.parent))
        except UserError as exc:
            return DataStatus(False, str(exc))

    def default_data_dir(self) -> Path | None:
        """Where the data is when no --data-dir is given: beside the task file (None for a hub source)."""
        return self.spec.path.parent if self.spec.data.hub is None else None

    def _data_file(self, split: str, data_dir: Path | None) -> Path:
        """The split's file: in --data-dir when one is given, else beside the task file; always inside it."""
        folder = DataFolder(data_dir or self.spec.path.parent)
        path = folder.resolve(self.spec.data.files[split], str(self.spec.path), f"data.files.{split}")
        if not path.is_file():
            raise DataError(f"{path}: file not found (data.files.{split} of {self.spec.path})")
        return path

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        """The split's examples; the first is rendered with every layout, so that a field the template names and
        the data lacks is said before any model loads."""
        examples = self._rows(split, data_dir)
        for layout in ("demo", "query") if examples else ():
            if layout in self.prompt.data:
                self.prompt.render(layout, examples[0].fields, examples[0].images)
        return examples

    def _rows(self, split: str, data_dir: Path | None) -> list[Example]:
        if self.spec.data.hub is None:
            path = self._data_file(split, data_dir)
            folder = DataFolder(data_dir or self.spec.path.parent)
            relative = path.relative_to(folder.root).as_posix()
            image = self._file_image(folder, path, relative)
            return [self.example(row, i, f"{path} row {i}", image) for i, row in enumerate(read_rows_file(path))]
        if data_dir is not None and not is_hub_snapshot(data_dir):
            raise DataError(f"{data_dir}: not a downloaded copy of hub {self.hub_copy().id} ({self.spec.path})")
        table = open_copy(self.name, self.hub_copy(), split, data_dir)
        self.hub_tables[split] = table
        images = set(self.spec.data.images.values())
        plain = [column for column in table.dataset.column_names if column not in images]
        rows = table.dataset.select_columns(plain).to_list()

        def hub_image(column: str, value: Any, index: int) -> ImageInput:
            return table.image(column, index, f"{table.hub_id}/{split}#{index}:{column}")

        return [
            self.example(row | {c: None for c in images}, index, f"{table.describe()} row {index}", hub_image)
            for index, row in enumerate(rows)
        ]

    def _file_image(self, folder: DataFolder, path: Path, relative: str) -> Callable[[str, Any, int], ImageInput]:
        """How a data file's image cell becomes an image: a path relative to the file (confined to the data
        folder), or the image's bytes (a parquet image column)."""

        def image(column: str, value: Any, index: int) -> ImageInput:
            if isinstance(value, dict) and not value.get("bytes"):  # an image feature that names its file
                value = value.get("path")
            if isinstance(value, str):
                full = folder.resolve(value, f"{path} row {index}", column, base=path.parent)
                return ImageInput.from_path(full, key=full.relative_to(folder.root).as_posix())
            if isinstance(value, (bytes, dict)):
                return ImageInput(key=f"{relative}#{index}:{column}", opener=lambda: to_pil(value), origin=str(path))
            raise DataError(f"{path} row {index}: column {column!r} holds {type(value).__name__}, not an image")

        return image

    def example(
        self, row: dict[str, Any], index: int, where: str, image: Callable[[str, Any, int], ImageInput]
    ) -> Example:
        """One row as an Example: its id, mapped fields, images, and what the kind adds (`derive`)."""
        data = self.spec.data

        def cell(column: str, role: str) -> Any:
            if column not in row:
                raise DataError(f"{where}: no column {column!r} ({role} in {self.spec.path}); it has {', '.join(row)}")
            return row[column]

        images: dict[str, tuple[ImageInput, ...]] = {}
        for name, column in data.images.items():
            value = cell(column, f"data.images.{name}")
            if isinstance(value, list):  # several images of one row, each keyed apart
                images[name] = tuple(image(f"{column}[{k}]", item, index) for k, item in enumerate(value))
            else:
                images[name] = (image(column, value, index),)
        if data.fields is None:
            fields = {key: value for key, value in row.items() if key not in data.images.values()}
        else:
            fields = {name: cell(column, f"data.fields.{name}") for name, column in data.fields.items()}
        identifier = str(cell(data.id_column, "data.id")) if data.id_column else str(index)
        return Example(id=identifier, images=images, fields={**fields, **self.derive(cell, where)})

    def derive(self, cell: Callable[[str, str], Any], where: str) -> dict[str, Any]:
        """The fields the task kind adds to a row (choices and gold label, or references)."""
        raise NotImplementedError

    def breakdown_fields(self, example: Example) -> dict[str, str]:
        return {name: str(example.fields.get(name)) for name in self.spec.breakdowns}

    def breakdowns_of(self, records: Sequence[dict[str, Any]], value: str) -> dict[str, dict[str, dict[str, float]]]:
        return {name: group_means(records, name, value) for name in self.spec.breakdowns}


def _listed(value: Any, where: str, what: str) -> list[str]:
    """A list cell: a list (JSON, parquet) or a CSV cell holding a JSON list."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise DataError(f"{where}: {what} {value!r} is not a JSON list") from None
    if not isinstance(value, (list, tuple)) or not value:
        raise DataError(f"{where}: {what} must be a non-empty list, is {value!r}")
    return [str(item) for item in value]


class DeclarativeRankingTask(DeclarativeTask, RankingTask):
    """Ranks the options by log-likelihood; `accuracy` / `accuracy_norm` as every ranking task has them."""

    label_field = "label"

    def derive(self, cell: Callable[[str, str], Any], where: str) -> dict[str, Any]:
        spec = self.spec
        if spec.choices is not None:
            choices = list(spec.choices)
        else:
            choices = _listed(cell(spec.choices_column, "choices_field"), where, f"column {spec.choices_column!r}")  # type: ignore[arg-type]
        gold = cell(spec.label_column, "label")  # type: ignore[arg-type]
        label = _label_index(gold, choices)
        if label is None:
            raise DataError(
                f"{where}: label {gold!r} is neither one of the choices ({', '.join(choices)}) nor their index"
            )
        return {"choices": choices, "label": label, "answer": choices[label]}

    def options_of(self, example: Example) -> list[str]:
        return [self.spec.option.format(choice=choice) for choice in example.fields["choices"]]

    def choices_of(self, example: Example) -> list[str]:
        return list(example.fields["choices"])

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        options = tuple(self.options_of(example))
        return [RankRequest(self.render(example, demos), options, end_of_sequence=self.spec.end_of_sequence)]

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        return {**super().score(example, outputs), **self.breakdown_fields(example)}

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        scores = super().aggregate(records)
        headline = "correct_norm" if self.metrics[0] == "accuracy_norm" else "correct"
        return Scores(scores.metrics, self.breakdowns_of(records, headline), [user_note(self.spec)])


def _label_index(gold: Any, choices: list[str]) -> int | None:
    """The gold's index: matched to a choice's text first (choices "1", "2" and gold 1 mean "1"), then read as
    an index (0-based)."""
    if isinstance(gold, bool) or gold is None:
        return None
    text = str(gold).strip()
    for candidates in (choices, [choice.strip() for choice in choices]):
        if text in candidates:
            return candidates.index(text)
    return int(text) if text.isdigit() and int(text) < len(choices) else None


class DeclarativeGenerationTask(EnvironmentChecked, DeclarativeTask, GenerationTask):
    """Generates an answer and scores it against the references with the declared metrics."""

    def check_environment(self) -> None:
        if any(metric in CAPTION_METRICS for metric in self.metrics):
            require_java()  # the caption scorers run on Java: said before the model loads

    def start_services(self) -> None:
        """Nothing to start ahead: a user task's caption metrics are scored in one call at the end."""

    def derive(self, cell: Callable[[str, str], Any], where: str) -> dict[str, Any]:
        value = cell(self.spec.references_column, "references")  # type: ignore[arg-type]
        if value is None:
            raise DataError(f"{where}: no reference answer in column {self.spec.references_column!r}")
        listed = isinstance(value, (list, tuple)) or str(value).strip().startswith("[")
        references = _listed(value, where, f"column {self.spec.references_column!r}") if listed else [str(value)]
        return {"references": references, "answer": demo_answer(references)}

    def postprocess(self, generated: str) -> str:
        if self.spec.postprocess == "vqa":
            return normalize_vqa_answer(postprocess_generated_answer(generated))
        if self.spec.postprocess == "websrc":
            return websrc.postprocess_generated_answer(generated)
        return super().postprocess(generated)

    def read_predictions(self, path: Path) -> dict[str, Any]:
        """{id: answer}, or a list of {"id": ..., "prediction": ...}."""
        data = load_json(path)
        if isinstance(data, list):
            try:
                return {str(item["id"]): str(item["prediction"]) for item in data}
            except (TypeError, KeyError):
                raise DataError(f"{path}: expected a list of {{'id', 'prediction'}} objects") from None
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected {{id: answer}} or a list of {{'id', 'prediction'}} objects")
        return {str(key): str(value) for key, value in data.items()}

    def score_prediction(self, example: Example, prediction: Any) -> dict[str, Any]:
        references = example.fields["references"]
        scores = {name: MEAN_METRICS[name](prediction, references) for name in self.metrics if name in MEAN_METRICS}
        record = {"prediction": prediction, "references": references, **scores}
        return {**record, **self.breakdown_fields(example)}

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        means = [name for name in self.metrics if name in MEAN_METRICS]
        metrics = mean_metrics({name: [r[name] for r in records] for name in means}, seed=self.seed) if means else {}
        metrics |= self._caption_metrics(records)
        headline = self.metrics[0]
        breakdowns = self.breakdowns_of(records, headline) if headline in MEAN_METRICS else {}
        return Scores(
            {name: metrics[name] for name in self.metrics if name in metrics}, breakdowns, [user_note(self.spec)]
        )

    def _caption_metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, MetricValue]:
        """The declared COCO caption metrics over the records as one corpus (pycocoevalcap's scorers)."""
        wanted = {ours: theirs for ours, theirs in CAPTION_METRICS.items() if ours in self.metrics}
        if not wanted:
            return {}
        scores = score_captions(
            {r["id"]: r["prediction"] for r in records}, {r["id"]: r["references"] for r in records}
        )
        means = [theirs for theirs in wanted.values() if theirs in scores.corpus and theirs in MEAN_OF_PER_IMAGE]
        intervals = bootstrap_corpus_cis({name: scores.per_image[name] for name in means}, seed=self.seed)
        metrics = {}
        for ours, theirs in wanted.items():
            if theirs in scores.corpus:
                interval = intervals.get(theirs)
                low, high = (interval.ci_low, interval.ci_high) if interval else (None, None)
                metrics[ours] = MetricValue(scores.corpus[theirs], low, high, len(records))
        return metrics


def task_class(spec: TaskSpec) -> type[Task]:
    """A Task class for one checked task file, ready to register under `spec.name`."""
    base: type[Task] = DeclarativeRankingTask if spec.kind == "rank" else DeclarativeGenerationTask
    attributes: dict[str, Any] = {
        "spec": spec,
        "family": FAMILY,
        "description": spec.description,
        "metrics": spec.metrics,
        "shots": spec.shots,
        "splits": spec.data.splits,
        "default_split": spec.data.splits[0],
        "demo_split": spec.data.demo_split,
        "template_keys": tuple(key for key in spec.template.data if key != "task"),
        "options": {},
        "data_needed": f"{', '.join(spec.data.files.values()) or 'a download of the hub dataset'} ({spec.path})",
    }
    if spec.kind == "generate":
        attributes["mean_fields"] = {name: name for name in spec.metrics if name in MEAN_METRICS}
    return type(f"UserTask_{spec.name}", (base,), attributes)
