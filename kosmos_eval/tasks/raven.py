"""Raven IQ test (KOSMOS-1 §4.2.1, Table 6): zero-shot nonverbal reasoning by candidate ranking.

For every candidate the model reads the given panels one by one, then the candidate, then "Is it correct?";
the prediction is the candidate whose prompt gives the highest probability to " Yes". The probability of
" No" is scored in the same pass, so the normalised P(Yes) / (P(Yes) + P(No)) variant is reported as a second
metric. Candidate position never decides anything: candidates are shown in a seeded random order per
example and ties (within core.seeding.TIE_TOLERANCE) are broken at random with the seed (both recorded in
the sample).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.seeding import seeded_rng
from kosmos_eval.core.types import Example, RankRequest, RankResult, Request
from kosmos_eval.data.locate import SAMPLE_ORIGIN, bundled_sample
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.raven import detect_layout, read_raven
from kosmos_eval.metrics import mean_metrics
from kosmos_eval.tasks.base import Scores, Task


@lru_cache(maxsize=4096)
def _shuffled_order(seed: int, example_id: str, count: int) -> tuple[int, ...]:
    """`build` and `score` both need an example's order; seeding its generator once saves half the cost."""
    order = list(range(count))
    seeded_rng(seed, "candidate-order", example_id).shuffle(order)
    return tuple(order)


@register_task("raven")
class RavenTask(Task):
    template_keys = ("zero_shot", "answers", "number_words")
    family = "nonverbal reasoning"
    description = "Raven's Progressive Matrices IQ test (IQ50 / RAVEN / I-RAVEN), rank candidates by P(Yes)"
    metrics = ("accuracy", "accuracy_yes_vs_no")
    mean_fields: ClassVar[dict[str, str]] = {"accuracy": "correct", "accuracy_yes_vs_no": "correct_yes_vs_no"}
    shots = (0,)
    splits = ("test",)
    default_split = "test"
    sample_fallback = True
    data_needed = "the IQ50 folder (exp-N/) or RAVEN / I-RAVEN .npz files (docs/data.md)"

    def locate_data(self, data_dir: Path) -> str:
        layout = detect_layout(data_dir)
        if layout is None:
            raise DataError(f"no IQ50 or RAVEN .npz data under {data_dir}")
        where = SAMPLE_ORIGIN if data_dir == bundled_sample(self.name) else str(data_dir)
        return f"{where} ({layout})"

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        examples = []
        for problem in read_raven(self.require_data(data_dir)):
            examples.append(
                Example(
                    id=problem.id,
                    images={"panels": problem.panels, "candidates": problem.candidates},
                    fields={"answer_index": problem.answer_index, "source": problem.source},
                )
            )
        return examples

    def candidate_order(self, example: Example) -> list[int]:
        """Seeded display order of the candidates (original indices), fixed per example id."""
        return list(_shuffled_order(self.seed, example.id, len(example.images["candidates"])))  # type: ignore[arg-type]

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        panels = example.images["panels"]
        candidates = example.images["candidates"]
        words = self.prompt.data["number_words"]
        if len(panels) not in words:  # type: ignore[arg-type]
            raise UserError(
                f"raven: {example.id} has {len(panels)} panels; prompts/raven.yaml names only {sorted(words)}"
            )  # type: ignore[arg-type]
        answers = self.prompt.data["answers"]
        fields = {"panel_count_words": words[len(panels)]}  # type: ignore[arg-type]
        requests: list[Request] = []
        for original in self.candidate_order(example):
            context = self.prompt.render(
                "zero_shot",
                fields,
                {"panels": panels, "candidate": candidates[original]},  # type: ignore[index]
            )
            requests.append(RankRequest(context, (answers["positive"], answers["negative"])))
        return requests

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        order = self.candidate_order(example)
        answer = int(example.fields["answer_index"])
        yes = [float(o.logprobs[0]) for o in outputs]  # type: ignore[union-attr]
        no = [float(o.logprobs[1]) for o in outputs]  # type: ignore[union-attr]
        # P(Yes) / (P(Yes) + P(No)) in log space: yes - logaddexp(yes, no)
        normalised = [y - (max(y, n) + math.log1p(math.exp(-abs(y - n)))) for y, n in zip(yes, no, strict=True)]
        shown, tied = self.best_candidate(yes, example)
        shown_norm, tied_norm = self.best_candidate(normalised, example, purpose="tie-break-norm")
        candidates = example.images["candidates"]
        return {
            "answer": answer,
            "prediction": order[shown],
            "correct": order[shown] == answer,
            "prediction_yes_vs_no": order[shown_norm],
            "correct_yes_vs_no": order[shown_norm] == answer,
            "candidate_order": order,
            "ties": [order[i] for i in tied] if len(tied) > 1 else [],
            "ties_yes_vs_no": [order[i] for i in tied_norm] if len(tied_norm) > 1 else [],
            "candidates": [
                {
                    "index": original,
                    "image": candidates[original].key,  # type: ignore[index]
                    "logprob_yes": yes[pos],
                    "logprob_no": no[pos],
                    "logprob_yes_vs_no": normalised[pos],
                }
                for pos, original in enumerate(order)
            ],
        }

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        columns = {field: [r[column] for r in records] for field, column in self.mean_fields.items()}
        return Scores(mean_metrics(columns, seed=self.seed))
