"""OCR-free text classification (KOSMOS-1 §4.3, Table 7; chain-of-thought §4.5, Table 9): Rendered SST-2 and
HatefulMemes. The text to classify is only in the picture; the model must read it.

Rendered SST-2 ranks " negative" against " positive" after the question (or, with `mode=generate`, generates
and takes the first of the two words in its output). With `cot=true` it runs the paper's two-stage multimodal
chain-of-thought: stage 1 generates a rationale for "Introduce this picture in detail:", stage 2 asks the
question after it; both stages are recorded per sample.

HatefulMemes ranks " yes" against " no"; its score is P(yes) / (P(yes) + P(no)), ROC AUC over that score is
the headline (the paper's metric) and accuracy thresholds it at one half. Without --data-dir it reads the release
files of its hub copy (kosmos_eval/data/sources/hateful_memes.yaml) with the same reader.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.types import DataStatus, Example, RankRequest, RankResult, Request
from kosmos_eval.data.hub import hub_status
from kosmos_eval.data.hub_load import chosen_copy, rows_table
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats import hateful_memes, rendered_sst2
from kosmos_eval.formats.classification_hub import cached_release_file, fetch_release_split, trusting_hub_cache
from kosmos_eval.metrics import mean_metric
from kosmos_eval.metrics.classification import auc_metric, auc_or_nan, yes_probability
from kosmos_eval.metrics.resample import ExampleMetric, custom_rows
from kosmos_eval.tasks.base import Scores, Task, generate_request
from kosmos_eval.tasks.capabilities import LocatesData, TieBreaking, TwoStage
from kosmos_eval.tasks.hub import HubData

DEFAULT_SST2_HUB = "clip-benchmark/wds_renderedsst2"


def _rank_result(output: RankResult | str, task: str) -> RankResult:
    if not isinstance(output, RankResult):
        raise TypeError(f"{task} expects ranking results, got {type(output).__name__}")
    return output


@register_task("rendered_sst2")
class RenderedSst2Task(TwoStage, LocatesData, TieBreaking, Task):
    template_keys = (
        "query",
        "answers",
        "decoding",
        "cot_stage1",
        "cot_stage2",
        "cot_stage2_without_image",
        "cot_decoding",
    )
    family = "OCR-free text classification"
    description = "Rendered SST-2: sentiment of a sentence shown as an image (cot=true: multimodal chain-of-thought)"
    data_needed = "CLIP's rendered-sst2/<split>/<label>/*.png folders or a saved dataset (docs/data.md)"
    metrics = ("accuracy",)
    mean_fields: ClassVar[dict[str, str]] = {"accuracy": "correct"}
    splits = ("test", "validation", "train")
    default_split = "test"
    options: ClassVar[dict[str, str]] = {
        "mode": "rank (default: P(' negative') vs P(' positive')) | generate (greedy; first label word in the output)",
        "cot": "false (default) | true: two-stage multimodal chain-of-thought (paper Table 9)",
        "cot_image": "true (default: stage 2 shows the image again before the stage-1 prompt and rationale) | "
        "false (stage 2 is text: the stage-1 prompt, the rationale, the question); the paper does not say",
        "hub": f"read a Hugging Face copy instead of --data-dir (default when no folder is given: {DEFAULT_SST2_HUB})",
    }

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        super().__init__(seed, options)
        self.mode = self.option_choice("mode", ("rank", "generate"))
        self.cot = self.option_flag("cot")
        self.cot_image = self.option_flag("cot_image", default=True)

    def generates(self) -> bool:
        """Ranking (the default) generates nothing: --gen-kwargs apply to mode=generate and the cot stages."""
        return self.mode != "rank" or self.cot

    @property
    def labels(self) -> tuple[str, ...]:
        return rendered_sst2.LABELS

    def data_status(self, data_dir: Path | None) -> DataStatus:
        if data_dir is None:  # the hub copy, when it is reachable
            hub = self.task_options.get("hub", DEFAULT_SST2_HUB)
            return hub_status(hub, None, f"pass --data-dir with {self.data_needed}")
        return super().data_status(data_dir)

    def locate_data(self, data_dir: Path) -> str:
        layout = rendered_sst2.detect_layout(data_dir)
        if layout is None:
            raise DataError(f"no rendered-sst2/<split>/<label>/*.png folders or saved dataset in {data_dir}")
        return f"{data_dir} ({layout})"

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        if data_dir is not None and "hub" not in self.task_options:
            items = rendered_sst2.read_rendered_sst2(data_dir, split)
        else:
            items = rendered_sst2.load_rendered_sst2_hub(self.task_options.get("hub", DEFAULT_SST2_HUB), split)
        return [Example(id=item.id, images={"image": (item.image,)}, fields={"label": item.label}) for item in items]

    # --- requests --------------------------------------------------------------------------------------------

    def _answer_request(self, example: Example, layout: str) -> Request:
        context = self.prompt.render(layout, example.fields, example.images)
        if self.mode == "rank":
            answers = self.prompt.data["answers"]
            return RankRequest(context, tuple(answers[label] for label in self.labels))
        decoding = self.decoding()
        return generate_request(context, decoding, candidates=self.labels)

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        if not self.cot:
            return [self._answer_request(example, "query")]
        decoding = self.decoding("cot_decoding")
        context = self.prompt.render("cot_stage1", example.fields, example.images)
        return [generate_request(context, decoding)]

    def _with_rationale(self, example: Example, rationale: str) -> Example:
        return Example(id=example.id, images=example.images, fields={**example.fields, "rationale": rationale})

    def follow_up(
        self, example: Example, demos: Sequence[Example], outputs: Sequence[RankResult | str]
    ) -> list[Request]:
        if not self.cot or len(outputs) != 1:
            return []
        layout = "cot_stage2" if self.cot_image else "cot_stage2_without_image"
        return [self._answer_request(self._with_rationale(example, str(outputs[0]).strip()), layout)]

    # --- scoring ---------------------------------------------------------------------------------------------

    def parse_answer(self, generated: str) -> int | None:
        """The label whose word occurs first in the generated text (case-insensitive, whole words), or None."""
        words = [word.strip(".,:;!?\"'()") for word in generated.lower().split()]
        for word in words:
            if word in self.labels:
                return self.labels.index(word)
        return None

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        label = int(example.fields["label"])
        record: dict[str, Any] = {"label": label, "label_name": self.labels[label]}
        answer = outputs[-1]
        if self.cot:
            rationale = str(outputs[0]).strip()
            layout = "cot_stage2" if self.cot_image else "cot_stage2_without_image"
            stage2 = self.prompt.render(layout, {**example.fields, "rationale": rationale}, example.images)
            record.update(rationale=rationale, stage2_prompt=stage2.render())
        if self.mode == "rank":
            result = _rank_result(answer, self.name)
            prediction, tied = self.best_candidate(list(result.logprobs), example)
            record.update(logprobs=list(result.logprobs), ties=tied if len(tied) > 1 else [])
        else:
            record["generated"] = str(answer)
            prediction = self.parse_answer(str(answer))
        record.update(
            prediction=prediction,
            prediction_name=None if prediction is None else self.labels[prediction],
            correct=prediction == label,
        )
        return record

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        notes = []
        unparsed = sum(1 for r in records if r["prediction"] is None)
        if unparsed:
            notes.append(f"{unparsed} of {len(records)} generated answers named neither label; counted wrong")
        return Scores({"accuracy": mean_metric([r["correct"] for r in records], seed=self.seed)}, notes=notes)


@register_task("hateful_memes")
class HatefulMemesTask(HubData, TieBreaking, Task):
    """With no folder the split is read from the release files of its hub copy (data/sources/hateful_memes.yaml),
    fetched into the hub cache; a folder (a download of that repo included) is read as the release."""

    template_keys = ("query", "query_with_text", "answers")
    family = "OCR-free text classification"
    description = "HatefulMemes: P(yes) that a meme is hateful, read from the picture alone; ROC AUC"
    data_needed = "the Hateful Memes release (img/ + dev_seen.jsonl, ...; docs/data.md)"
    metrics = ("roc_auc", "accuracy")
    mean_fields: ClassVar[dict[str, str]] = {"accuracy": "correct"}
    splits = ("dev_seen", "dev_unseen", "dev", "train")
    default_split = "dev_seen"
    options: ClassVar[dict[str, str]] = {
        "with_text": "false (default: the paper's setting, no OCR text) | true: give the meme text (Flamingo's setup)",
        "auc_score": "normalised (default: ROC AUC over P(yes) / (P(yes) + P(no))) | raw (over P(yes) alone); "
        "the paper does not say which",
    }
    scoring_options = ("auc_score",)

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        super().__init__(seed, options)
        self.with_text = self.option_flag("with_text")
        self.auc_score = self.option_choice("auc_score", ("normalised", "raw"))

    def locate_data(self, data_dir: Path) -> str:
        return str(hateful_memes.find_split_file(data_dir, self.default_split))

    def data_status(self, data_dir: Path | None) -> DataStatus:
        copy = chosen_copy(self.name, self.task_options)
        if data_dir is None and copy is not None:  # the hub cache, not the `datasets` cache HubData looks in
            cached = cached_release_file(copy, self.default_split)
            if cached is not None:
                return DataStatus(True, f"hub {copy.id}, cached copy ({Path(cached).parent})")
        return super().data_status(data_dir)

    def _read(self, split: str, data_dir: Path | None) -> list[hateful_memes.MemeItem]:
        copy = chosen_copy(self.name, self.task_options)
        if data_dir is not None or copy is None:
            return hateful_memes.read_hateful_memes(self.require_data(data_dir), split)
        folder, hub_id = fetch_release_split(self.name, copy, split)
        with trusting_hub_cache(folder):
            items = hateful_memes.read_hateful_memes(folder, split)
        self.hub_tables[split] = rows_table(copy, hub_id, split, items)
        return items

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        examples = []
        for item in self._read(split, data_dir):
            if item.label is None:
                raise UserError(f"hateful_memes: split '{split}' has no labels (item {item.id}); score a dev split")
            examples.append(
                Example(id=item.id, images={"image": (item.image,)}, fields={"label": item.label, "text": item.text})
            )
        return examples

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        context = self.render(example, demos, "query_with_text" if self.with_text else "query")
        answers = self.prompt.data["answers"]
        return [RankRequest(context, (answers["positive"], answers["negative"]))]

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        (output,) = outputs
        result = _rank_result(output, self.name)
        logprob_yes, logprob_no = result.logprobs
        p_yes = yes_probability(logprob_yes, logprob_no)
        prediction, _ = self.best_candidate([logprob_no, logprob_yes], example)  # a tie: never always "not hateful"
        label = int(example.fields["label"])
        return {
            "label": label,
            "logprob_yes": logprob_yes,
            "logprob_no": logprob_no,
            "p_yes": p_yes,
            # what ROC AUC ranks the memes by (auc_score): the normalised or the raw probability of " yes"
            "score": p_yes if self.auc_score == "normalised" else math.exp(logprob_yes),
            "prediction": prediction,
            "correct": prediction == label,
        }

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        scores = [r.get("score", r["p_yes"]) for r in records]  # records before auc_score existed: p_yes
        labels = [r["label"] for r in records]
        notes = []
        metrics = {}
        if len(set(labels)) < 2:
            notes.append("ROC AUC needs both hateful and non-hateful memes; this slice has one class only")
        else:
            metrics["roc_auc"] = auc_metric(scores, labels, seed=self.seed)
        metrics["accuracy"] = mean_metric([r["correct"] for r in records], seed=self.seed)
        return Scores(metrics, notes=notes)

    def example_metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, ExampleMetric]:
        metrics = super().example_metrics(records)
        rows = {str(r["id"]): (r.get("score", r["p_yes"]), r["label"]) for r in records}
        metrics["roc_auc"] = custom_rows(rows, auc_or_nan)
        return {name: metrics[name] for name in self.metrics}
