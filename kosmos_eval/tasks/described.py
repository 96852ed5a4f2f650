"""Zero-shot classification with descriptions (KOSMOS-1 §4.7.1, Figure 1, Tables 11-12), e.g. CUB birds.

Each example is an image, a general category ("woodpecker") and two or more candidate categories with a
one-sentence description each. The prompt gives every candidate's description, then the image and "what is
the name of the woodpecker in the picture?"; the generated answer is matched to a candidate name
(metrics/matching.py). The paper's baseline gives only the candidate names. Both settings run on every
example by default, so one run reports the two accuracies side by side, as Table 12 does.

Data: the JSONL format of formats/described_classes.py, which `kosmos-eval prepare cub-descriptions` builds
from a CUB-200-2011 folder (docs/data_cub.md); or, with no folder, the same draw made from CUB's hub copy
(kosmos_eval/data/sources/cub_descriptions.yaml). Neither is the paper's set, which was never released, and a
run on the hub copy says so in its summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.text import cut_at_stop
from kosmos_eval.core.types import Example, RankResult, Request
from kosmos_eval.errors import UserError
from kosmos_eval.formats.classification_hub import cub_hub_items
from kosmos_eval.formats.cub_builder import default_pairs_file
from kosmos_eval.formats.described_classes import DescribedItem, find_descriptions_file, read_described_classes
from kosmos_eval.metrics import mean_metric
from kosmos_eval.metrics.matching import match_candidate
from kosmos_eval.tasks.base import Scores, Task, generate_request
from kosmos_eval.tasks.hub import HubData

SETTINGS = {"with_descriptions": "candidate_with_description", "without_descriptions": "candidate_without_description"}
CHOICES = {"both": tuple(SETTINGS), "with": ("with_descriptions",), "without": ("without_descriptions",)}


@register_task("cub_descriptions")
class DescribedClassesTask(HubData, Task):
    template_keys = ("candidate_with_description", "candidate_without_description", "query", "decoding")
    family = "vision"
    description = "Classification with descriptions (CUB pairs): name the bird, with and without descriptions"
    data_needed = "the folder built by `kosmos-eval prepare cub-descriptions` (docs/data_cub.md)"
    metrics = ("accuracy_with_descriptions", "accuracy_without_descriptions")
    mean_fields: ClassVar[dict[str, str]] = {f"accuracy_{setting}": f"{setting}.correct" for setting in SETTINGS}
    splits = ("test",)
    default_split = "test"
    options: ClassVar[dict[str, str]] = {
        "settings": "both (default: each example with and without descriptions) | with | without",
        "per_category": "images drawn per category from the hub copy (default 20, as `prepare cub-descriptions`)",
        "pairs": "the pairs file the hub copy's set is drawn for (default: the paper's, data/cub_pairs.yaml)",
    }

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        super().__init__(seed, options)
        self.settings = CHOICES[self.option_choice("settings", tuple(CHOICES))]
        per_category = self.task_options.get("per_category", "20")
        if not per_category.isdigit() or int(per_category) < 1:
            raise UserError(f"cub_descriptions: per_category must be a whole number of at least 1, is {per_category!r}")
        self.per_category = int(per_category)
        pairs = self.task_options.get("pairs")
        self.pairs_file = Path(pairs).expanduser() if pairs else default_pairs_file()

    def locate_data(self, data_dir: Path) -> str:
        return str(find_descriptions_file(data_dir))

    def _items(self, split: str, data_dir: Path | None) -> list[DescribedItem]:
        table = self.open_hub(split, data_dir)
        if table is not None:  # drawn with the builder's default seed, as `prepare cub-descriptions` draws
            return cub_hub_items(table, self.pairs_file, self.per_category)
        return read_described_classes(find_descriptions_file(self.require_data(data_dir)))

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        return [
            Example(
                id=item.id,
                images={"image": (item.image,)},
                fields={
                    "general_category": item.general_category,
                    "names": [candidate.name for candidate in item.candidates],
                    "descriptions": [candidate.description for candidate in item.candidates],
                    "label": item.label_index,
                },
            )
            for item in self._items(split, data_dir)
        ]

    def context_fields(self, example: Example, setting: str) -> dict[str, Any]:
        template = self.prompt.data[SETTINGS[setting]]
        pairs = zip(example.fields["names"], example.fields["descriptions"], strict=True)
        text = "".join(template.format(name=name, description=description) for name, description in pairs)
        return {**example.fields, "candidates_text": text}

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        decoding = self.decoding()
        return [
            generate_request(
                self.prompt.render("query", self.context_fields(example, setting), example.images),
                decoding,
                candidates=tuple(example.fields["names"]),
            )
            for setting in self.settings
        ]

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        names = example.fields["names"]
        label = int(example.fields["label"])
        stop = tuple(self.decoding().get("stop") or ())
        record: dict[str, Any] = {"label": label, "label_name": names[label], "names": names}
        for setting, output in zip(self.settings, outputs, strict=True):
            answer = cut_at_stop(str(output), stop).strip()
            matched = match_candidate(answer, names, example.fields["general_category"])
            record[setting] = {
                "generated": str(output),
                "answer": answer,
                "prediction": matched,
                "prediction_name": None if matched is None else names[matched],
                "correct": matched == label,
            }
        return record

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        metrics, notes = {}, []
        for setting in self.settings:
            results = [r[setting] for r in records]
            metrics[f"accuracy_{setting}"] = mean_metric([r["correct"] for r in results], seed=self.seed)
            unmatched = sum(1 for r in results if r["prediction"] is None)
            if unmatched:
                notes.append(f"{setting}: {unmatched} of {len(results)} answers matched no single candidate (wrong)")
        return Scores(metrics, notes=notes)
