"""Raven IQ test (KOSMOS-1 §4.2.1, Table 6): zero-shot nonverbal reasoning by candidate ranking.

For every candidate the model reads the given panels one by one, then the candidate, then "Is it correct?";
the prediction is the candidate whose prompt gives the highest probability to " Yes". The probability of
" No" is scored in the same pass, so the normalised P(Yes) / (P(Yes) + P(No)) variant is reported as a second
metric. Candidate position never decides anything: candidates are shown in a seeded random order per
example and ties (within core.seeding.TIE_TOLERANCE) are broken at random with the seed (both recorded in
the sample).

Where the problems come from: `--data-dir` with the IQ50 folders or RAVEN .npz files; a downloaded hub repo
(kosmos_eval/data/sources/raven.yaml) as `--data-dir`; the hub itself when a hub option asks for it; else the
bundled sample. The hub is never read unasked: a run with no data is the README's first run, which must work
offline and in seconds, so it stays on the sample (the `SampleFallback` capability), and naming a hub option is
what turns a run into a download.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from kosmos_eval.core.registry import register_task
from kosmos_eval.core.seeding import seeded_rng
from kosmos_eval.core.types import Example, RankRequest, RankResult, Request
from kosmos_eval.data.hub_load import chosen_copy, is_hub_snapshot, open_copy
from kosmos_eval.data.hub_source import HubTable
from kosmos_eval.data.locate import SAMPLE_MARKER, SAMPLE_ORIGIN, bundled_sample
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.raven import RavenProblem, detect_layout, read_raven
from kosmos_eval.formats.raven_hub import RAVEN_CONFIGS, RAVEN_ID, raven_hub_problems
from kosmos_eval.metrics import mean_metrics
from kosmos_eval.tasks.base import Scores, Task
from kosmos_eval.tasks.capabilities import SampleFallback, TieBreaking
from kosmos_eval.tasks.hub import HUB_OPTIONS, HubData

HUB_CONFIG = "hub_config"


@lru_cache(maxsize=4096)
def _shuffled_order(seed: int, example_id: str, count: int) -> tuple[int, ...]:
    """`build` and `score` both need an example's order; seeding its generator once saves half the cost."""
    order = list(range(count))
    seeded_rng(seed, "candidate-order", example_id).shuffle(order)
    return tuple(order)


def _rank_result(output: RankResult | str) -> RankResult:
    if not isinstance(output, RankResult):
        raise TypeError(f"raven expects ranking results, got {type(output).__name__}")
    return output


@register_task("raven")
class RavenTask(SampleFallback, HubData, TieBreaking, Task):
    template_keys = ("zero_shot", "answers", "number_words")
    family = "nonverbal reasoning"
    description = "Raven's Progressive Matrices IQ test (IQ50 / RAVEN / I-RAVEN), rank candidates by P(Yes)"
    metrics = ("accuracy", "accuracy_yes_vs_no")
    mean_fields: ClassVar[dict[str, str]] = {"accuracy": "correct", "accuracy_yes_vs_no": "correct_yes_vs_no"}
    shots = (0,)
    splits = ("test",)
    default_split = "test"
    data_needed = "the IQ50 folder (exp-N/) or RAVEN / I-RAVEN .npz files (docs/data.md)"
    options: ClassVar[dict[str, str]] = {
        HUB_CONFIG: f"with hub_id={RAVEN_ID}: its configuration, one of {', '.join(RAVEN_CONFIGS)} "
        "(default center_single); not the paper's set"
    }

    def locate_data(self, data_dir: Path) -> str:
        layout = detect_layout(data_dir)
        if layout is None:
            raise DataError(f"no IQ50 or RAVEN .npz data under {data_dir}")
        where = SAMPLE_ORIGIN if data_dir == bundled_sample(self.name) else str(data_dir)
        return f"{where} ({layout})"

    def load(self, split: str, data_dir: Path | None) -> list[Example]:
        table = self.open_raven_hub(split, data_dir)
        problems = raven_hub_problems(table) if table is not None else read_raven(self.require_data(data_dir))
        return [self._example(problem) for problem in problems]

    @staticmethod
    def _example(problem: RavenProblem) -> Example:
        return Example(
            id=problem.id,
            images={"panels": problem.panels, "candidates": problem.candidates},
            fields={"answer_index": problem.answer_index, "source": problem.source},
        )

    def open_raven_hub(self, split: str, data_dir: Path | None) -> HubTable | None:
        """The hub split to read, or None for the folder (see the module docstring for the order). A hub option
        beside a folder of official files asks for two sources: refused, rather than one silently ignored."""
        asked = sorted(key for key in (*HUB_OPTIONS, HUB_CONFIG) if key in self.task_options)
        if data_dir is not None and is_hub_snapshot(data_dir):
            local: Path | None = data_dir
        elif asked and (data_dir is None or (data_dir / SAMPLE_MARKER).is_file()):
            local = None
        elif asked:
            raise UserError(
                f"raven: --task-option {asked[0]} asks for a hub copy, but --data-dir {data_dir} holds the "
                "official files: give one of them"
            )
        elif data_dir is None:
            local = None  # no folder and no sample: the paper's set from the hub
        else:
            return None
        options = dict(self.task_options)
        if local is not None and "hub_id" not in options and any((local / c).is_dir() for c in RAVEN_CONFIGS):
            options["hub_id"] = RAVEN_ID  # a downloaded HuggingFaceM4/RAVEN: one folder per configuration
        copy = chosen_copy(self.name, options)
        assert copy is not None, "kosmos_eval/data/sources/raven.yaml declares the copies"
        if HUB_CONFIG in self.task_options:
            config = self.task_options[HUB_CONFIG]
            if copy.config is None or (copy.id == RAVEN_ID and config not in RAVEN_CONFIGS):
                raise UserError(
                    f"--task-option {HUB_CONFIG}={config!r}: {HUB_CONFIG} picks one of {RAVEN_ID}'s configurations "
                    f"({', '.join(RAVEN_CONFIGS)}); add --task-option hub_id={RAVEN_ID}"
                )
            copy = replace(copy, config=config)
        table = open_copy(self.name, copy, split, local)
        self.hub_tables[split] = table
        return table

    def candidate_order(self, example: Example) -> list[int]:
        """Seeded display order of the candidates (original indices), fixed per example id."""
        return list(_shuffled_order(self.seed, example.id, len(example.images["candidates"])))

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        panels = example.images["panels"]
        candidates = example.images["candidates"]
        words = self.prompt.data["number_words"]
        if len(panels) not in words:
            raise UserError(
                f"raven: {example.id} has {len(panels)} panels; prompts/raven.yaml names only {sorted(words)}"
            )
        answers = self.prompt.data["answers"]
        fields = {"panel_count_words": words[len(panels)]}
        requests: list[Request] = []
        for original in self.candidate_order(example):
            context = self.prompt.render("zero_shot", fields, {"panels": panels, "candidate": (candidates[original],)})
            requests.append(RankRequest(context, (answers["positive"], answers["negative"])))
        return requests

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        order = self.candidate_order(example)
        answer = int(example.fields["answer_index"])
        results = [_rank_result(output) for output in outputs]
        yes = [float(result.logprobs[0]) for result in results]
        no = [float(result.logprobs[1]) for result in results]
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
                    "image": candidates[original].key,
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
