"""Zero-shot ImageNet (KOSMOS-1 §4.6.1, Table 10): "The photo of the" after the image, the answer a class name.

Three ways to decode (`--task-option decoding=`):

* `rank` (default): every class name is scored as a continuation and the best is the answer, exactly; gives
  top-1 and top-5 accuracy. The names go to the backend as one request with 1,000 continuations after one
  shared context, the shape the performance work (shared prefix, one image encoding) makes fast.
* `constrained_beam`: the paper's "with constraints": beam search of width 2 that can only produce a class name
  (backends/hf/constrained.py); correct when the name produced is the right one.
* `free`: the paper's "without constraints": free beam-2 generation, correct only when the output equals the
  class name after normalisation (formats/imagenet.py `normalise_class_name`).

Data: the official validation folder (`--data-dir`, formats/imagenet.py), or with no folder the webdataset copy
of the hub (kosmos_eval/data/sources/imagenet.yaml), which holds no class names: `class_names` gives them, else
the WordNet lemmas of the 1,000 synsets shipped with the package (data/imagenet_synsets.txt, the lines of
ILSVRC's LOC_synset_mapping.txt).

Per sample the record keeps the top five names and the gold name's log-probability and rank, not all 1,000
scores (50,000 x 1,000 numbers would make samples.jsonl gigabytes); top-1 and top-5 re-score from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.types import Example, RankRequest, RankResult, Request
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.classification_hub import imagenet_hub_items
from kosmos_eval.formats.imagenet import (
    DOCS,
    ImageNetClass,
    detect_layout,
    duplicate_names,
    normalise_class_name,
    read_imagenet_val,
)
from kosmos_eval.metrics import mean_metrics
from kosmos_eval.tasks.base import Scores, Task, generate_request
from kosmos_eval.tasks.capabilities import TieBreaking
from kosmos_eval.tasks.hub import HubData

# the first is the default: the paper's "with constraints" (Table 10); rank is exact but not a paper setting
DECODINGS = ("constrained_beam", "free", "rank")
TOP_K = 5


def bundled_synsets() -> Path:
    """The 1,000 ILSVRC2012 synsets with their WordNet 3.0 lemmas, in LOC_synset_mapping.txt's format."""
    return Path(str(resources.files("kosmos_eval.data").joinpath("imagenet_synsets.txt")))


@register_task("imagenet")
class ImageNetTask(HubData, TieBreaking, Task):
    template_keys = ("query", "decoding")
    family = "vision"
    description = "Zero-shot ImageNet-1k: 'The photo of the' + class name (constrained_beam | free | rank)"
    data_needed = f"the ILSVRC2012 validation images ({DOCS})"
    metrics = ("accuracy", "top5_accuracy")
    mean_fields: ClassVar[dict[str, str]] = {"accuracy": "correct", "top5_accuracy": "correct_top5"}
    splits = ("validation",)
    default_split = "validation"
    options: ClassVar[dict[str, str]] = {
        "decoding": 'constrained_beam (default; the paper\'s "with constraints": beam 2 over the names) | free '
        '(the paper\'s "without constraints": unconstrained beam 2, exact match) | rank (exact ranking of all '
        "names, gives top-5; not a paper setting)",
        "class_names": "a file of class names (1 per line in class order, or wnid -> name TSV/CSV/JSON)",
        "complete": "true (default: every image the ground truth lists must be present) | false (a subset is fine)",
        "name_end": "eos (default: rank and constrained_beam score each name up to the end-of-sequence token "
        "after it, so 'tiger' cannot win by starting 'tiger shark') | none (the name's tokens only)",
    }

    identity_options: ClassVar[tuple[str, ...]] = ("decoding",)  # the default was rank until 2026-12

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        super().__init__(seed, options)
        self.decoding_mode = self.option_choice("decoding", DECODINGS)
        names_file = self.task_options.get("class_names")
        self.class_names_file = Path(names_file).expanduser() if names_file else None
        self.complete = self.option_flag("complete", default=True)
        self.name_end = self.option_choice("name_end", ("eos", "none")) == "eos"
        self.classes: list[ImageNetClass] = []

    def generates(self) -> bool:
        """Ranking (decoding=rank) generates nothing for --gen-kwargs to change; the beam modes do."""
        return self.decoding_mode != "rank"

    def use_gen_kwargs(self, gen_kwargs: Mapping[str, int | float]) -> None:
        """The constrained search scores a candidate by its summed log-probability, as ranking does, with no
        length penalty (backends/hf/constrained.py): a length_penalty would change nothing there."""
        if "length_penalty" in gen_kwargs and self.decoding_mode == "constrained_beam":
            raise UserError(
                "--gen-kwargs length_penalty does not apply to imagenet decoding=constrained_beam, which scores "
                "candidates by summed log-probability as ranking does"
            )
        super().use_gen_kwargs(gen_kwargs)

    def locate_data(self, data_dir: Path) -> str:
        layout = detect_layout(data_dir)
        if layout is None:
            raise DataError(f"no ImageNet validation layout recognised in {data_dir} ({DOCS})")
        return f"{data_dir} ({layout})"

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        table = self.open_hub(split, data_dir)
        if table is not None:  # the copy holds WordNet ids only: names from --task-option class_names, else ours
            items, self.classes = imagenet_hub_items(table, self.class_names_file or bundled_synsets())
        else:
            data_dir = self.require_data(data_dir)
            items, self.classes = read_imagenet_val(data_dir, self.class_names_file, require_complete=self.complete)
        return [Example(id=item.id, images={"image": (item.image,)}, fields={"label": item.label}) for item in items]

    def _names(self) -> tuple[str, ...]:
        if not self.classes:
            raise RuntimeError("imagenet: load() must run before build() (the class names come with the data)")
        return tuple(" " + cls.name for cls in self.classes)

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        context = self.render(example, demos)
        names = self._names()
        if self.decoding_mode == "rank":
            return [RankRequest(context, names, end_of_sequence=self.name_end)]
        decoding = self.decoding()
        return [
            generate_request(
                context,
                decoding,
                candidates=names,
                constrained=self.decoding_mode == "constrained_beam",
                end_of_sequence=self.name_end and self.decoding_mode == "constrained_beam",
            )
        ]

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        (output,) = outputs
        label = int(example.fields["label"])
        gold = self.classes[label]
        record: dict[str, Any] = {"label": label, "label_name": gold.name, "wnid": gold.wnid}
        if self.decoding_mode == "rank":
            if not isinstance(output, RankResult):
                raise TypeError(f"imagenet (rank) expects ranking results, got {type(output).__name__}")
            return {**record, **self._ranked(example, list(output.logprobs), label)}
        generated = str(output)
        answer = normalise_class_name(generated)
        matches = [cls.index for cls in self.classes if normalise_class_name(cls.name) == answer]
        return {
            **record,
            "generated": generated,
            "prediction": matches[0] if matches else None,
            "prediction_name": self.classes[matches[0]].name if matches else None,
            "correct": answer == normalise_class_name(gold.name),
        }

    def _ranked(self, example: Example, logprobs: list[float], label: int) -> dict[str, Any]:
        best, tied = self.best_candidate(logprobs, example)
        order = sorted(range(len(logprobs)), key=lambda i: (i != best, -logprobs[i], i))
        top = order[:TOP_K]
        gold_logprob = logprobs[label]
        return {
            "prediction": best,
            "prediction_name": self.classes[best].name,
            "top5": top,
            "top5_logprobs": [logprobs[i] for i in top],
            "gold_logprob": gold_logprob,
            "gold_rank": sum(1 for lp in logprobs if lp > gold_logprob),
            "ties": tied if len(tied) > 1 else [],
            "correct": best == label,
            "correct_top5": label in top,
        }

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        columns = {"accuracy": [r["correct"] for r in records]}
        if self.decoding_mode == "rank":
            columns["top5_accuracy"] = [r["correct_top5"] for r in records]
        metrics = mean_metrics(columns, seed=self.seed)
        notes = []
        duplicates = duplicate_names(self.classes) if self.classes else {}
        if duplicates:
            shown = "; ".join(f"{name!r}: {', '.join(wnids)}" for name, wnids in sorted(duplicates.items())[:5])
            notes.append(
                f"{len(duplicates)} class names are shared by several classes ({shown}); "
                "pass --task-option class_names=FILE with distinct names"
            )
        if self.decoding_mode == "free":
            unmatched = sum(1 for r in records if r["prediction"] is None)
            notes.append(f"free generation: {unmatched} of {len(records)} outputs are not any class name")
        if self.decoding_mode == "rank":
            notes.append(
                "decoding=rank (exact ranking of every name) is not one of the paper's two settings: Table 10 "
                "reports decoding=constrained_beam (with constraints) and decoding=free (without)"
            )
        return Scores(metrics, notes=notes)
