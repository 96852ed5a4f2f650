"""Shared machinery of the tasks that rank answer options by log-likelihood (multiple choice).

A ranking task gives, per example, the options' texts and the index of the gold one; this module builds the
requests, picks the prediction, and records everything needed to re-score:

* `acc`       the option with the highest summed log-probability;
* `acc_norm`  the highest log-probability per character of the *choice*, the option without the delimiter
              that joins it to the prompt (lm-evaluation-harness's `acc_norm`: it divides by the length of
              its `doc_to_choice` value, while it scores `target_delimiter + choice`). The scored text keeps
              its leading space; only the divisor leaves the delimiter out. It does not favour short options.

Scores within `core.seeding.TIE_TOLERANCE` (1e-4) of the best are ties, broken at random with the seed and the
example id, never by option position (lm-eval's argmax takes the first). The prompt is shared and each option
is one continuation of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from kosmos_eval.core.types import Example, RankRequest, RankResult, Request
from kosmos_eval.metrics import mean_metrics
from kosmos_eval.tasks.base import Scores, Task
from kosmos_eval.tasks.capabilities import TieBreaking


class RankingTask(TieBreaking, Task):
    mean_fields: ClassVar[dict[str, str]] = {"accuracy": "correct", "accuracy_norm": "correct_norm"}

    def options_of(self, example: Example) -> list[str]:
        """The option texts as they continue the prompt (leading space included where the template wants it)."""
        return list(example.fields["options"])

    def gold_of(self, example: Example) -> int:
        return int(example.fields["label"])

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        return [RankRequest(self.render(example, demos), tuple(self.options_of(example)))]

    def choices_of(self, example: Example) -> list[str]:
        """Each option as lm-eval's `doc_to_choice` would give it: without the delimiter, one leading space,
        that joins it to the prompt (" red" -> "red"). Tasks that know their choices exactly override it."""
        return [option.removeprefix(" ") for option in self.options_of(example)]

    def norm_lengths(self, example: Example) -> list[int]:
        """Characters each option's log-probability is divided by for `acc_norm`: the choice's length, the
        delimiter not counted, as lm-eval's `completion_len`. Counting the delimiter too can change the pick,
        most where options are short (" no" / " yes": 2 vs 3 characters, not 3 vs 4)."""
        return [len(choice) for choice in self.choices_of(example)]

    def option_scores(self, example: Example, outputs: Sequence[RankResult | str]) -> tuple[list[float], list[int]]:
        """Summed log-probability and token count per option, in option order."""
        (result,) = outputs
        if not isinstance(result, RankResult):
            raise TypeError(f"{self.name} expects ranking results, got {type(result).__name__}")
        return list(result.logprobs), list(result.num_tokens)

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        options = self.options_of(example)
        logprobs, tokens = self.option_scores(example, outputs)
        lengths = self.norm_lengths(example)
        per_char = [lp / max(1, length) for lp, length in zip(logprobs, lengths, strict=True)]
        prediction, tied = self.best_candidate(logprobs, example)
        prediction_norm, _ = self.best_candidate(per_char, example, purpose="tie-break-norm")
        gold = self.gold_of(example)
        return {
            "options": options,
            "label": gold,
            "logprobs": logprobs,
            "num_tokens": tokens,
            "prediction": prediction,
            "prediction_norm": prediction_norm,
            "correct": prediction == gold,
            "correct_norm": prediction_norm == gold,
            "ties": tied if len(tied) > 1 else [],
        }

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Scores:
        columns = {"accuracy": [r["correct"] for r in records]}
        if "accuracy_norm" in self.metrics:
            columns["accuracy_norm"] = [r["correct_norm"] for r in records]
        metrics = mean_metrics(columns, seed=self.seed)
        ordered = {name: metrics[name] for name in self.metrics if name in metrics}
        return Scores(ordered)
