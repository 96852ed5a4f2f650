"""Visual commonsense probes, text only (KOSMOS-1 §4.9.2, Tables 15-16): RelativeSize, MemoryColor, ColorTerms.

RelativeSize asks "Is {Item1} larger than {Item2}?" and ranks " Yes" against " No". Every published pair is
bigger-first, so a model that always says Yes would score 100% on the paper's question set. By default each pair
is therefore asked in both orders (gold Yes, then gold No): `accuracy` is over both orders, where always-Yes
scores 50%, and `accuracy_paper_order` is over the bigger-first questions only, the paper's number.
MemoryColor and ColorTerms rank the 11 colour labels after "The color of {Object} is?".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.types import Example
from kosmos_eval.formats.commonsense import (
    COLOR_TERMS_FILE,
    COLORS,
    MEMORY_COLOR_FILE,
    SIZE_FILE,
    ColorItem,
    find_file,
    read_color_terms,
    read_memory_colors,
    read_size_pairs,
)
from kosmos_eval.metrics import mean_metric
from kosmos_eval.metrics.resample import ExampleMetric, mean_rows
from kosmos_eval.tasks.base import Scores
from kosmos_eval.tasks.capabilities import LocatesData
from kosmos_eval.tasks.ranking import RankingTask

ORDERS = ("both", "paper")


class CommonsenseTask(LocatesData, RankingTask):
    family = "cross-modal transfer"
    shots = (0,)
    splits = ("test",)
    default_split = "test"
    data_file: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "data_file" in cls.__dict__:
            cls.data_needed = f"{cls.data_file} from the VaLM repository (github.com/Victorwz/VaLM; docs/data.md)"

    def locate_data(self, data_dir: Path) -> str:
        return str(find_file(data_dir, self.data_file))

    def _file(self, data_dir: Path | None) -> Path:
        return find_file(self.require_data(data_dir), self.data_file)


@register_task("relative_size")
class RelativeSizeTask(CommonsenseTask):
    template_keys = ("query", "answers")
    description = "RelativeSize: 'Is X larger than Y?' ranked Yes vs No, pairs asked in both orders"
    metrics = ("accuracy", "accuracy_paper_order")
    data_file = SIZE_FILE
    options: ClassVar[dict[str, str]] = {
        "orders": "both (default: each pair also reversed, gold No) | paper (bigger-first only, as published)"
    }

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        super().__init__(seed, options)
        self.orders = self.option_choice("orders", ORDERS)

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        answers = self.prompt.data["answers"]
        examples = []
        for pair in read_size_pairs(self._file(data_dir)):
            asked = [(pair.bigger, pair.smaller, True)]
            if self.orders == "both":
                asked.append((pair.smaller, pair.bigger, False))
            for first, second, bigger_first in asked:
                examples.append(
                    Example(
                        id=f"{first}>{second}" if bigger_first else f"{first}<{second}",
                        fields={
                            "first": first,
                            "second": second,
                            "paper_order": bigger_first,
                            "options": [answers["positive"], answers["negative"]],
                            "label": 0 if bigger_first else 1,
                        },
                    )
                )
        return examples

    def score(self, example: Example, outputs: Sequence[Any]) -> dict[str, Any]:
        return {**super().score(example, outputs), "paper_order": example.fields["paper_order"]}

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        paper = [r["correct"] for r in records if r["paper_order"]]
        return Scores(
            {
                "accuracy": mean_metric([r["correct"] for r in records], seed=self.seed),
                "accuracy_paper_order": mean_metric(paper, seed=self.seed),
            }
        )

    def example_metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, ExampleMetric]:
        return {
            "accuracy": mean_rows(records, "correct"),
            "accuracy_paper_order": mean_rows([r for r in records if r["paper_order"]], "correct"),
        }


class ColorTask(CommonsenseTask):
    metrics = ("accuracy", "accuracy_norm")
    reader: ClassVar[Callable[[Path], list[ColorItem]]]

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        options = [f" {color}" for color in COLORS]
        return [
            Example(
                id=item.id,
                fields={
                    "object": item.object,
                    "color": item.color,
                    "options": options,
                    "label": COLORS.index(item.color),
                },
            )
            for item in type(self).reader(self._file(data_dir))
        ]


@register_task("memory_color")
class MemoryColorTask(ColorTask):
    description = "MemoryColor: 'The color of X is?' ranked over the 11 colour labels"
    data_file = MEMORY_COLOR_FILE
    reader = staticmethod(read_memory_colors)


@register_task("color_terms")
class ColorTermsTask(ColorTask):
    description = "ColorTerms: 'The color of X is?' ranked over the 11 colour labels"
    data_file = COLOR_TERMS_FILE
    reader = staticmethod(read_color_terms)
