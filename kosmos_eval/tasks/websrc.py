"""WebSRC (KOSMOS-1 §4.4.1, Table 8): zero-shot question answering on web page screenshots.

The model sees the screenshot, then the paper's prompt with the page's text extracted from its HTML, and
generates the answer; EM and F1 as WebSRC's official evaluation computes them. The `setting` option gives the
paper's other rows: `without_text`, the same prompt without the extracted text (row 3), and `text_only`, the
same prompt with the text and no screenshot (row 1, the LLM baseline; for text-only models, whose examples then
carry no image at all, so the screenshots need not be there and a text-only model is not refused).

Without `--data-dir` (or with a downloaded copy of it as `--data-dir`) the questions come from the hub copy
declared in kosmos_eval/data/sources/websrc.yaml. That copy has the screenshots but not the pages' HTML, so it
serves only `setting=without_text`; asked for a setting with the page text it refuses before downloading
anything, naming the option and the official release, rather than run a prompt with an empty page text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.backend import PromptBudget
from kosmos_eval.core.registry import register_task
from kosmos_eval.core.types import Context, Example
from kosmos_eval.data.hub_load import chosen_copy, is_hub_snapshot
from kosmos_eval.errors import DataError
from kosmos_eval.formats.websrc import page_text, read_websrc, read_websrc_predictions, write_websrc_predictions
from kosmos_eval.formats.websrc_hub import websrc_hub_questions
from kosmos_eval.metrics import group_means, mean_metrics
from kosmos_eval.metrics.websrc import postprocess_generated_answer, websrc_exact_match, websrc_f1
from kosmos_eval.tasks.base import Scores
from kosmos_eval.tasks.capabilities import Exports, PromptBudgeted
from kosmos_eval.tasks.generation import GenerationTask
from kosmos_eval.tasks.hub import HubData

SETTINGS = {"with_text": "query", "without_text": "query_without_text", "text_only": "query"}
SAFETY_TOKENS = 8  # tokenising text inside the prompt can differ by a few tokens from tokenising it alone
OFFICIAL_RELEASE = "WebSRC_v1.0_train+dev.zip of X-LANCE/WebSRC_v1.0"


def truncate_words(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary (a long page must leave room for the question)."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    return text[: cut if cut > 0 else limit]


@register_task("websrc")
class WebSRCTask(PromptBudgeted, Exports, HubData, GenerationTask):
    family = "perception-language"
    description = "WebSRC web page QA: screenshot + extracted page text, EM and F1"
    data_needed = "the WebSRC v1.0 release (<domain>/<site>/dataset.csv + processed_data/; docs/data.md)"
    metrics = ("f1", "exact_match")
    mean_fields: ClassVar[dict[str, str]] = {"f1": "f1", "exact_match": "exact_match"}
    shots = (0,)
    splits = ("dev", "train")
    default_split = "dev"  # the paper does not name its split; WebSRC's test answers are not public
    template_keys = ("query", "query_without_text", "decoding")
    options: ClassVar[dict[str, str]] = {
        "setting": "with_text (default, Table 8 row 2) | without_text (Table 8 row 3) | text_only (the page text "
        "and no screenshot: Table 8 row 1, the LLM baseline, for text-only models)",
        "max_text_chars": "cut the extracted page text to this many characters (default: no fixed cut; the text is "
        "cut to what fits the model's context with the screenshot, the question and the answer)",
    }

    def __init__(self, seed: int = 1234, options: dict[str, str] | None = None) -> None:
        super().__init__(seed, options)
        self.setting = self.option_choice("setting", tuple(SETTINGS))
        self.max_text_chars = self.option_int("max_text_chars", None)
        self.budget: PromptBudget | None = None
        self.text_kept: dict[str, dict[str, Any]] = {}  # example id -> how much page text its prompt has

    def use_backend(self, budget: PromptBudget | None) -> None:
        self.budget = budget

    def prompt_info(self, example: Example) -> dict[str, Any]:
        return self.text_kept.get(example.id, {})

    def locate_data(self, data_dir: Path) -> str:
        if not any(data_dir.glob("*/*/dataset.csv")):
            raise DataError(f"no WebSRC <domain>/<site>/dataset.csv under {data_dir}")
        return str(data_dir)

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        if self.setting != "without_text" and (data_dir is None or is_hub_snapshot(data_dir)):
            self.refuse_text_from_hub()
        table = self.open_hub(split, data_dir)
        if table is not None:
            return [
                Example(
                    id=q.id,
                    images={"screenshot": (q.screenshot,)},
                    fields={
                        "question": q.question,
                        "answer": q.answer,
                        "is_yes_no": q.is_yes_no,
                        "domain": q.domain,
                        "html_path": None,  # the copy has no HTML; only setting=without_text reaches here
                    },
                )
                for q in websrc_hub_questions(table)
            ]
        data_dir = self.require_data(data_dir)
        return [
            Example(
                id=q.id,
                images={} if self.setting == "text_only" else {"screenshot": (q.screenshot,)},
                fields={
                    "question": q.question,
                    "answer": q.answer,
                    "is_yes_no": q.is_yes_no,
                    "domain": q.domain,
                    "html_path": q.html_path,
                },
            )
            for q in read_websrc(data_dir, split)
        ]

    def refuse_text_from_hub(self) -> None:
        """One line, before anything is downloaded: the hub copy cannot give the page text this setting needs."""
        copy = chosen_copy(self.name, self.task_options)
        raise DataError(
            f"websrc: hub {copy.id if copy else 'copy'} has the screenshots but not the pages' HTML, so setting "
            f"{self.setting} (the page's extracted text in the prompt) cannot be served from it; pass "
            f"--task-option setting=without_text (image only, Table 8 row 3), or --data-dir with the official "
            f"release ({OFFICIAL_RELEASE})"
        )

    def query_layout(self) -> str:
        return SETTINGS[self.setting]

    def render(self, example: Example, demos: Sequence[Example], layout: str = "query") -> Context:
        """The prompt with as much of the page text as fits: all of it where the model's context allows (the
        answer may be anywhere on the page), else its start, cut at a word boundary to what fits beside the
        screenshot, the question and the answer's tokens. The record's `prompt_info` says what was kept."""
        # the page text is read when the prompt is built, not when the split is listed (pages are large)
        text = page_text(example.fields["html_path"]) if self.setting != "without_text" else ""
        kept = truncate_words(text, self.max_text_chars) if self.max_text_chars else text
        if kept and self.budget is not None:
            context = self._with_text(example, demos, layout, kept)
            room = self.budget.max_tokens - self.decoding()["max_new_tokens"] - SAFETY_TOKENS
            if self.budget.count(context) > room:
                base = self.budget.count(self._with_text(example, demos, layout, ""))
                prefix = self.budget.prefix(kept, room - base)
                kept = truncate_words(prefix, len(prefix) - 1) if len(prefix) < len(kept) else prefix
        if text:
            self.text_kept[example.id] = {
                "web_text_chars": len(kept),
                "web_text_total_chars": len(text),
                "web_text_truncated": len(kept) < len(text),
            }
        return self._with_text(example, demos, layout, kept)

    def _with_text(self, example: Example, demos: Sequence[Example], layout: str, text: str) -> Context:
        fields = {**example.fields, "web_text": text}
        if self.setting == "text_only":  # the same prompt with its image part left out (zero-shot: no demos)
            template = self.prompt
            text_parts = [part for part in template.layout(layout) if "text" in part]
            return replace(template, data={**template.data, layout: text_parts}).render(layout, fields, {})
        return super().render(Example(example.id, example.images, fields), demos, layout)

    def postprocess(self, generated: str) -> str:
        return postprocess_generated_answer(generated)

    def read_predictions(self, path: Path) -> dict[str, str]:
        return read_websrc_predictions(path)

    def score_prediction(self, example: Example, prediction: str) -> dict[str, Any]:
        gold = example.fields["answer"]
        return {
            "prediction": prediction,
            "answer": gold,
            "domain": example.fields["domain"],
            "question_type": "yes/no" if example.fields["is_yes_no"] else "span",
            "exact_match": websrc_exact_match(prediction, gold),
            "f1": websrc_f1(prediction, gold),
        }

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        return Scores(
            metrics=mean_metrics(
                {"f1": [r["f1"] for r in records], "exact_match": [r["exact_match"] for r in records]}, seed=self.seed
            ),
            breakdowns={
                "domain": group_means(records, "domain", "f1"),
                "question_type": group_means(records, "question_type", "f1"),
            },
        )

    def export(self, records: Sequence[dict[str, Any]], run_dir: Path, split: str) -> dict[str, str]:
        path = run_dir / f"predictions_websrc_{split}.json"
        write_websrc_predictions(path, {r["id"]: r["prediction"] for r in records})
        if split in self.hub_tables:  # derived ids (formats/websrc_hub.py): the official script cannot match them
            return {"predictions (official format, hub-derived ids)": str(path)}
        return {"predictions (official format)": str(path)}
