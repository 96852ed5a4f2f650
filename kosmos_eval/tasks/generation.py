"""Shared machinery of the tasks that generate an answer (captioning, VQA, web page QA).

A generation task renders demos + query from prompts/<task>.yaml, generates with the decoding settings the
template file declares (`decoding:` beams, max_new_tokens, stop strings; a run's --gen-kwargs replace the beams
and the token budget and may set the beam search's length penalty, never the stop strings, which post-processing
reads again), post-processes the text the
task's way, and scores it with `score_prediction`, the same function `kosmos-eval score-predictions` uses on
outputs made elsewhere, so a run and an external prediction file are scored by exactly the same code (every
generation task has the `ExternalPredictions` capability).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from kosmos_eval.core.text import cut_at_stop
from kosmos_eval.core.types import Example, RankResult, Request
from kosmos_eval.tasks.base import Task, generate_request
from kosmos_eval.tasks.capabilities import ExternalPredictions


class GenerationTask(ExternalPredictions, Task):
    template_keys: ClassVar[tuple[str, ...]] = ("query", "demo", "decoding")

    def query_layout(self) -> str:
        """The template layout of the query (tasks with variants choose among several)."""
        return "query"

    def build(self, example: Example, demos: Sequence[Example]) -> list[Request]:
        settings = self.decoding()
        return [generate_request(self.render(example, demos, self.query_layout()), settings)]

    def score(self, example: Example, outputs: Sequence[RankResult | str]) -> dict[str, Any]:
        (raw,) = outputs
        if not isinstance(raw, str):
            raise TypeError(f"{self.name} expects generated text, got {type(raw).__name__}")
        return {"generated": raw, **self.score_prediction(example, self.postprocess(raw))}

    def postprocess(self, generated: str) -> str:
        """Turn generated text into the answer that is scored (documented per task). By default: cut at the
        template's stop strings (again: not every backend honours them exactly) and strip."""
        return cut_at_stop(generated, self.decoding().get("stop") or ()).strip()
