"""The eight language tasks of KOSMOS-1 (§4.8.1, Table 13), run on text alone as a language model is evaluated.

Every item is multiple choice and every option is scored by its log-likelihood (`RankingTask`), zero- and
few-shot (k = 0, 1, 4; demonstrations drawn with the seed from the dataset's demo split, see
formats/language.py). Two shapes:

* full (StoryCloze, HellaSwag, PIQA, BoolQ, CB, COPA): one shared context, each option a continuation of it
  (`option:` in the template, " {choice}": lm-evaluation-harness's target delimiter and choice); `accuracy`
  sums the option's log-probabilities, `accuracy_norm` divides them by the choice's length in characters, the
  delimiter not counted (lm-evaluation-harness's `acc_norm`). The choices are lm-eval's `doc_to_choice` values,
  so COPA's carry their own leading space: its scored continuation starts with two spaces, as lm-eval's does.
* partial (Winograd, Winogrande): each option fills the gap, so the context varies per option and the same rest
  of the sentence (`continuation:`) is scored after each, one request per option, as in Raven. The scored text
  is identical for every option, so a length-normalised accuracy would equal `accuracy` and is not reported.

The headline metric is `accuracy`, except HellaSwag, whose long, uneven endings make `accuracy_norm` the
number base-LM papers report (docs/tasks/language.md). Readers, sources and splits: docs/data_language.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.types import DataStatus, Example, RankRequest, RankResult, Request
from kosmos_eval.data.hub import hub_status
from kosmos_eval.errors import DataError
from kosmos_eval.formats.language import ChoiceItem, DatasetSpec, dataset_spec, hub_target, load_choice_items
from kosmos_eval.formats.language_sources import candidate_files
from kosmos_eval.tasks.capabilities import LocatesData
from kosmos_eval.tasks.ranking import RankingTask

HUB_OPTION = "read the items from this Hugging Face dataset instead of the default copy: ID or ID:CONFIG"


class LanguageTask(LocatesData, RankingTask):
    """One dataset of `formats.language.DATASETS` scored by ranking; subclasses name the dataset and may adapt
    the item's fields and option words (`adapt`) where the template needs more than the reader gives."""

    family = "language"
    dataset: ClassVar[str]
    shots = (0, 1, 4)
    metrics: ClassVar[tuple[str, ...]] = ("accuracy", "accuracy_norm")
    label_field = "label"
    options: ClassVar[dict[str, str]] = {"hub": HUB_OPTION}
    template_keys: ClassVar[tuple[str, ...]] = ("query", "demo", "option")  # partial items: "continuation"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = dataset_spec(cls.dataset)
        cls.splits = tuple(spec.splits)
        cls.default_split = spec.default_split
        cls.demo_split = spec.demo_split
        if spec.partial:
            cls.metrics = ("accuracy",)

    @property
    def spec(self) -> DatasetSpec:
        return dataset_spec(self.dataset)

    @property
    def hub(self) -> str | None:
        return self.task_options.get("hub")

    # --- data ------------------------------------------------------------------------------------------------

    data_needed = "the dataset's files in its Hugging Face schema (docs/data_language.md)"

    def data_status(self, data_dir: Path | None) -> DataStatus:
        spec = self.spec
        if data_dir is None:  # the hub copy, when there is one and it is reachable
            if spec.hub_id is None and not self.hub:
                return DataStatus(False, f"missing: {spec.no_hub} (or use --sample)")
            hub_id, config = hub_target(self.dataset, spec, self.hub)
            return hub_status(hub_id, config, f"pass --data-dir with {self.data_needed}")
        return super().data_status(data_dir)

    def locate_data(self, data_dir: Path) -> str:
        split = self.default_split
        saved = (data_dir / split).is_dir() or (data_dir / "dataset_dict.json").is_file()
        if candidate_files(data_dir, split, self.spec.local_patterns.get(split, ())) or saved:
            return str(data_dir)
        raise DataError(f"no '{split}' file in {data_dir} (see docs/data_language.md)")

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        items = load_choice_items(self.dataset, split, data_dir, hub=self.hub)
        examples = []
        for item in items:
            if item.label < 0:
                raise DataError(
                    f"{self.name}: item {item.id} of split '{split}' has no answer label; scoring and "
                    "demonstrations need a labelled split"
                )
            fields, choices = self.adapt(item)
            fields = {**fields, "choices": list(choices), "label": item.label, "answer": choices[item.label]}
            examples.append(Example(id=item.id, fields=fields))
        return examples

    def adapt(self, item: ChoiceItem) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The template's fields and the option words as the model reads them. By default the reader's fields,
        and its choices mapped through the template's `choice_words` where it has one (CB: entailment -> True)."""
        words = self.prompt.data.get("choice_words") or {}
        return dict(item.fields), tuple(words.get(choice, choice) for choice in item.choices)

    # --- requests and scoring --------------------------------------------------------------------------------

    def options_of(self, example: Example) -> list[str]:
        """Full items: each option as it continues the prompt (`option:` template). Partial items: the words
        that fill the gap (what the record shows; the scored text is the continuation)."""
        if self.spec.partial:
            return list(example.fields["choices"])
        template = self.prompt.data["option"]
        return [template.format_map({**example.fields, "choice": choice}) for choice in example.fields["choices"]]

    def choices_of(self, example: Example) -> list[str]:
        """The choices as lm-eval's `doc_to_choice` gives them; for full items, what the `option:` template
        writes after its delimiter, whose lengths `accuracy_norm` divides by."""
        return list(example.fields["choices"])

    def continuation_of(self, example: Example) -> str:
        """Partial items: the fixed text after the gap, scored under every option."""
        return self.prompt.data["continuation"].format_map(example.fields)

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        if not self.spec.partial:
            return super().build(example, demos)
        continuation = (self.continuation_of(example),)
        return [
            RankRequest(self.render(replace(example, fields={**example.fields, "choice": choice}), demos), continuation)
            for choice in example.fields["choices"]
        ]

    def norm_lengths(self, example: Example) -> list[int]:
        if self.spec.partial:
            return [len(self.continuation_of(example))] * len(example.fields["choices"])
        return super().norm_lengths(example)

    def option_scores(self, example: Example, outputs: Sequence[RankResult | str]) -> tuple[list[float], list[int]]:
        if not self.spec.partial:
            return super().option_scores(example, outputs)
        if not all(isinstance(output, RankResult) for output in outputs):
            raise TypeError(f"{self.name} expects ranking results")
        return [o.logprobs[0] for o in outputs], [o.num_tokens[0] for o in outputs]  # type: ignore[union-attr]

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        record = super().score(example, outputs)
        if self.spec.partial:
            record["continuation"] = self.continuation_of(example)
        return record


@register_task("storycloze")
class StoryClozeTask(LanguageTask):
    description = "StoryCloze 2016: pick the right ending of a four-sentence story (needs the official CSVs)"
    dataset = "storycloze"


@register_task("hellaswag")
class HellaSwagTask(LanguageTask):
    description = "HellaSwag: pick the most plausible continuation; headline accuracy_norm"
    dataset = "hellaswag"
    metrics = ("accuracy_norm", "accuracy")


@register_task("winograd")
class WinogradTask(LanguageTask):
    description = "Winograd schemas (WSC285, as the paper's numbers imply; subset=wsc273 for lm-eval's), partial"
    dataset = "winograd"
    template_keys = ("query", "demo", "continuation")
    options: ClassVar[dict[str, str]] = {
        "subset": "wsc285 (default: the 285 problems the paper's accuracies fit) | wsc273 (lm-eval's)",
        "hub": HUB_OPTION,
    }

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        super().__init__(seed, options)
        self.subset = self.option_choice("subset", ("wsc285", "wsc273"))

    @property
    def hub(self) -> str | None:
        return self.task_options.get("hub") or f"{self.spec.hub_id}:{self.subset}"


@register_task("winogrande")
class WinograndeTask(LanguageTask):
    description = "Winogrande (XL train pool): fill the gap, scored by the rest of the sentence (partial)"
    dataset = "winogrande"
    template_keys = ("query", "demo", "continuation")


@register_task("piqa")
class PiqaTask(LanguageTask):
    description = "PIQA: pick the better solution to a physical goal"
    dataset = "piqa"


@register_task("boolq")
class BoolQTask(LanguageTask):
    description = "BoolQ: yes/no questions about a passage"
    dataset = "boolq"


@register_task("cb")
class CommitmentBankTask(LanguageTask):
    description = "CommitmentBank: entailment as True / False / Neither"
    dataset = "cb"
    template_keys = ("query", "demo", "option", "choice_words")


@register_task("copa")
class CopaTask(LanguageTask):
    description = "COPA: pick the cause or effect of a premise"
    dataset = "copa"
    template_keys = ("query", "demo", "option", "connectors")

    def adapt(self, item: ChoiceItem) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The premise without its last character (its full stop) and the connective for the question, the
        alternatives with their first letter lower-cased and a space in front: lm-eval's `doc_to_choice`
        (super_glue/copa/utils.py). After the template's own delimiter the scored text is "X because  y." with
        two spaces, as lm-eval scores it (GPT-3 wrote one), and `accuracy_norm` counts the choice's one space."""
        fields = dict(item.fields)
        fields["premise_clause"] = fields["premise"].strip()[:-1]
        fields["connector"] = self.prompt.data["connectors"][fields["question"]]
        choices = tuple(" " + choice[:1].lower() + choice[1:] for choice in item.choices)
        return fields, choices
