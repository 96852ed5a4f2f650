"""Visual question answering: VQAv2 and VizWiz (KOSMOS-1 §4.1.1, Tables 4-5).

Open-ended greedy generation after "Question: {question} Answer:", scored with VQA accuracy exactly as the
official evaluation code computes it (VQAv2's and VizWiz's normalisations differ; see docs/metrics/vqa.md).
The paper reports test-dev, whose answers are not public: there the run writes the evaluation server's
submission file and says that the score must come from the server. `--split val` scores locally.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.types import Example
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.vqa import (
    VQAItem,
    locate_vizwiz,
    locate_vqav2,
    read_vizwiz,
    read_vizwiz_predictions,
    read_vqav2,
    read_vqav2_predictions,
    write_vizwiz_submission,
    write_vqav2_submission,
)
from kosmos_eval.formats.vqa_hub import vizwiz_hub_items, vqav2_hub_items
from kosmos_eval.metrics import MetricValue, group_means, mean_metric
from kosmos_eval.metrics.resample import ExampleMetric, custom_rows
from kosmos_eval.metrics.vqa import (
    answer_means_unanswerable,
    normalize_vqa_answer,
    postprocess_generated_answer,
    unanswerable_average_precision,
    unanswerable_f1,
    vizwiz_accuracy,
    vqa_accuracy,
)
from kosmos_eval.tasks.base import Scores
from kosmos_eval.tasks.capabilities import AnnotationFiles, DemoImages, Exports
from kosmos_eval.tasks.generation import GenerationTask
from kosmos_eval.tasks.hub import HubData


def demo_answer(answers: Sequence[str]) -> str:
    """The answer a demonstration shows: the most common human answer (first seen wins a tie)."""
    return Counter(answers).most_common(1)[0][0] if answers else ""


class VQATask(Exports, AnnotationFiles, DemoImages, GenerationTask):
    mean_fields: ClassVar[dict[str, str]] = {"accuracy": "accuracy"}
    family = "perception-language"
    shots = (0, 2, 4, 8)
    demo_split = "train"
    options: ClassVar[dict[str, str]] = {"max_new_tokens": "answer length in tokens (default 10)"}
    accuracy: ClassVar[Callable[[str, Sequence[str]], float]]
    server: ClassVar[str]

    @staticmethod
    def _example(item: VQAItem) -> Example:
        return Example(
            id=str(item.question_id),
            images={"image": (item.image,)},
            fields={
                "question_id": item.question_id,
                "image_name": item.image_name,
                "question": item.question,
                "answers": list(item.answers),
                "answer": demo_answer(item.answers),
                "answer_type": item.answer_type,
                "question_type": item.question_type,
                "answerable": item.answerable,
            },
        )

    def postprocess(self, generated: str) -> str:
        return postprocess_generated_answer(generated)

    def score_prediction(self, example: Example, prediction: Any) -> dict[str, Any]:
        answers = example.fields["answers"]
        return {
            "question_id": example.fields["question_id"],
            "image_name": example.fields["image_name"],
            "prediction": prediction,
            "answers": answers,
            "answer_type": example.fields["answer_type"],
            "question_type": example.fields["question_type"],
            "accuracy": type(self).accuracy(prediction, answers) if answers else None,
        }

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        scored = [r for r in records if r["accuracy"] is not None]
        if not scored:
            return Scores(
                {},
                notes=[
                    f"this split has no public answers: the score must come from the {self.server}; "
                    "submit the submission file in the run folder"
                ],
            )
        if len(scored) < len(records):
            raise DataError(f"{self.name}: {len(records) - len(scored)} questions have no answers in this split")
        return Scores(
            {"accuracy": mean_metric([r["accuracy"] for r in scored], seed=self.seed)},
            breakdowns={
                "answer_type": group_means(scored, "answer_type", "accuracy"),
                "question_type": group_means(scored, "question_type", "accuracy"),
            },
        )


@register_task("vqav2")
class VQAv2Task(HubData, VQATask):
    description = "VQAv2 open-ended VQA, VQA accuracy (official evaluation); test-dev via the server"
    data_needed = "the VQAv2 question/annotation files and the COCO image folders (docs/data.md)"
    metrics = ("accuracy",)
    splits = ("test-dev", "val", "test", "train")
    default_split = "test-dev"  # the paper's; its answers are on the evaluation server only
    options: ClassVar[dict[str, str]] = {
        **VQATask.options,
        "raw_answers": "true: score/submit generated answers without the official normalisation (default false)",
    }
    scoring_options: ClassVar[tuple[str, ...]] = ("raw_answers",)

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        super().__init__(seed, options)
        self.raw_answers = self.option_flag("raw_answers")

    accuracy = staticmethod(vqa_accuracy)
    server = "VQAv2 evaluation server (EvalAI)"

    def locate_data(self, data_dir: Path) -> str:
        locate_vqav2(data_dir, "val")
        return str(data_dir)

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        """The hub copy (data/sources/vqav2.yaml) without --data-dir or with a downloaded copy of it; else the
        official question/annotation files and COCO folders. Either way the same items, ids and image names."""
        table = self.open_hub(split, data_dir)
        if table is not None:
            return [self._example(item) for item in vqav2_hub_items(table)]
        data_dir = self.require_data(data_dir)
        questions, annotations, images = locate_vqav2(data_dir, split)
        return [self._example(item) for item in read_vqav2(questions, annotations, images, data_dir)]

    def load_annotations(self, annotations: Path, questions: Path | None, split: str) -> list[Example]:
        if questions is None:
            raise UserError("score-predictions vqav2 --annotations needs --questions (the questions file)")
        folder = annotations.parent
        return [self._example(item) for item in read_vqav2(questions, annotations, folder, folder)]

    def postprocess(self, generated: str) -> str:
        """Cut the answer out of the generation, then give it the official normalisation (punctuation,
        number words, articles, contractions). The official code normalises a prediction only when the ten
        human answers differ, so "Red." against ten "red" scores 0 there; the answer we score and submit is
        the normalised one, as the server would see it after its own processing in every other case.
        `--task-option raw_answers=true` scores and submits the cut answer as generated."""
        answer = postprocess_generated_answer(generated)
        return answer if self.raw_answers else normalize_vqa_answer(answer)

    def read_predictions(self, path: Path) -> dict[str, Any]:
        return {str(question_id): answer for question_id, answer in read_vqav2_predictions(path).items()}

    def export(self, records: Sequence[dict[str, Any]], run_dir: Path, split: str) -> dict[str, str]:
        path = run_dir / f"vqav2_{split}_submission.json"
        write_vqav2_submission(path, [(r["question_id"], r["prediction"]) for r in records])
        return {"submission (VQAv2 server format)": str(path)}


@register_task("vizwiz")
class VizWizTask(HubData, VQATask):
    description = "VizWiz VQA, VQA accuracy (VizWiz evaluation) + unanswerability AP/F1; test via the server"
    data_needed = "the VizWiz <split>.json annotation files and image folders (docs/data.md)"
    metrics = ("accuracy", "unanswerable_ap", "unanswerable_f1")
    splits = ("test", "val", "train")
    default_split = "test"  # the paper's "test-dev" is the evaluation server's test-dev phase of test.json
    accuracy = staticmethod(vizwiz_accuracy)
    server = "VizWiz evaluation server (EvalAI, test-dev phase)"

    def locate_data(self, data_dir: Path) -> str:
        locate_vizwiz(data_dir, "val")
        return str(data_dir)

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        table = self.open_hub(split, data_dir)
        if table is not None:
            return [self._example(item) for item in vizwiz_hub_items(table)]
        data_dir = self.require_data(data_dir)
        split_file, images = locate_vizwiz(data_dir, split)
        return [self._example(item) for item in read_vizwiz(split_file, images, data_dir)]

    def load_annotations(self, annotations: Path, questions: Path | None, split: str) -> list[Example]:
        folder = annotations.parent
        return [self._example(item) for item in read_vizwiz(annotations, folder, folder)]

    def read_predictions(self, path: Path) -> dict[str, Any]:
        return read_vizwiz_predictions(path)

    def score_prediction(self, example: Example, prediction: Any) -> dict[str, Any]:
        """`prediction` is generated text (a run) or a results-file entry {answer, answerable}; without an
        explicit answerable confidence, an answer of "unanswerable" counts as confidence 0, otherwise 1."""
        answerable_confidence = None
        if isinstance(prediction, dict):
            answerable_confidence = prediction.get("answerable")
            prediction = prediction.get("answer") or ""
        if answerable_confidence is None:
            answerable_confidence = 0.0 if answer_means_unanswerable(prediction) else 1.0
        record = super().score_prediction(example, prediction)
        record["answerable_confidence"] = float(answerable_confidence)
        record["answerable"] = example.fields["answerable"]
        return record

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        scores = super().aggregate(records)
        labelled = [r for r in records if r["answerable"] is not None]
        if scores.metrics and labelled:
            gold = [r["answerable"] == 0 for r in labelled]
            confidence = [r["answerable_confidence"] for r in labelled]
            ap = unanswerable_average_precision([1.0 - c for c in confidence], gold)
            f1 = unanswerable_f1([1.0 - c > 0.5 for c in confidence], gold)
            # both are ranking/corpus statistics over the set: reported without a bootstrap interval
            scores.metrics["unanswerable_ap"] = MetricValue(ap, None, None, len(labelled))
            scores.metrics["unanswerable_f1"] = MetricValue(f1, None, None, len(labelled))
        return scores

    def example_metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, ExampleMetric]:
        """Accuracy per question; AP and F1 of "unanswerable" from (1 - answerable confidence, gold) rows."""
        metrics = super().example_metrics(records)
        rows = {
            str(r["id"]): (1.0 - r["answerable_confidence"], r["answerable"] == 0)
            for r in records
            if r["answerable"] is not None
        }
        if rows:
            metrics["unanswerable_ap"] = custom_rows(
                rows, lambda m: unanswerable_average_precision(list(m[:, 0]), list(m[:, 1] > 0.5))
            )
            metrics["unanswerable_f1"] = custom_rows(
                rows, lambda m: unanswerable_f1(list(m[:, 0] > 0.5), list(m[:, 1] > 0.5))
            )
        return metrics

    def export(self, records: Sequence[dict[str, Any]], run_dir: Path, split: str) -> dict[str, str]:
        path = run_dir / f"vizwiz_{split}_submission.json"
        answerable = {r["image_name"]: r["answerable_confidence"] for r in records}
        write_vizwiz_submission(path, [(r["image_name"], r["prediction"]) for r in records], answerable)
        return {"submission (VizWiz server format)": str(path)}
