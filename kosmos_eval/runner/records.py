"""What a run writes about each example and about the whole run: the sample record and the summary's scores,
defined once, for the runner and for `kosmos-eval score`, which rebuilds both from the records.

A record holds its format version (`record_format`), the example's id, its prompt as text (images as
`<imageN>`), the prompt exactly as the model was given it where a backend rewrote it (`prompt_rendered`: a
chat template), the image keys, the ids of the few-shot demonstrations, what the prompt left out
(`prompt_info`), the task's per-sample scores, and the backend's raw outputs (`outputs`), so the example can be
scored again without the model. The published schemas of records and summaries are in kosmos_eval/schemas/
(docs/formats.md); readers check files against them (runner/schema.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kosmos_eval.core.types import Example, RankResult, Request
from kosmos_eval.runner.schema import RECORD_FORMAT, SUMMARY_FORMAT
from kosmos_eval.tasks.base import Scores, Task
from kosmos_eval.tasks.capabilities import prompt_info

MAX_STORED_CONTINUATIONS = 64  # ImageNet's 1,000 scores per image would make samples.jsonl gigabytes
# what a record holds besides Task.score's fields (kept as they are when the example is scored again)
KEPT_FIELDS = ("record_format", "id", "prompt", "prompt_rendered", "images", "demo_ids", "prompt_info", "outputs")


def make_record(
    task: Task,
    example: Example,
    requests: Sequence[Request],
    demos: Sequence[Example],
    outputs: list[Any],
    rendered: str | None = None,
) -> dict[str, Any]:
    """The record of one finished example (see the module docstring); `rendered` is the first request's prompt
    as the backend gave it to the model, where that differs from the plain text (a chat template)."""
    return {
        "record_format": RECORD_FORMAT,
        "id": example.id,
        "prompt": requests[0].context.render() if requests else "",
        **({"prompt_rendered": rendered} if rendered is not None else {}),
        "images": [image.key for image in requests[0].context.images] if requests else [],
        "demo_ids": [demo.id for demo in demos],
        **({"prompt_info": info} if (info := prompt_info(task, example)) else {}),
        **task.score(example, outputs),
        **raw_outputs(outputs),
    }


def raw_outputs(outputs: list[RankResult | str]) -> dict[str, Any]:
    """The backend's raw outputs, so `kosmos-eval score` can re-score every example with fixed metric code
    without the model. Left out where a ranking has very many continuations (the record keeps a summary)."""
    stored: list[Any] = []
    for output in outputs:
        if isinstance(output, RankResult):
            if len(output.logprobs) > MAX_STORED_CONTINUATIONS:
                return {}
            stored.append(
                {
                    "logprobs": list(output.logprobs),
                    "num_tokens": list(output.num_tokens),
                    "is_greedy": list(output.is_greedy),
                }
            )
        else:
            stored.append(output)
    return {"outputs": stored}


def restore_outputs(stored: list[Any]) -> list[RankResult | str]:
    """The inverse of `raw_outputs`: what the backend returned, as `Task.score` receives it."""
    return [
        RankResult(tuple(o["logprobs"]), tuple(o["num_tokens"]), tuple(o["is_greedy"])) if isinstance(o, dict) else o
        for o in stored
    ]


def summary_header() -> dict[str, Any]:
    """The first field of every summary the harness writes: its format version (runner/schema.py)."""
    return {"format_version": SUMMARY_FORMAT}


# the notes the runner writes about the run itself, before the task's scoring notes: its data (a sample, a hub copy
# that is not the paper's split), answers of the sample's own, a setting the paper does not report. Re-scoring
# keeps them: it changes the numbers, not what was run on what.
RUN_NOTE_PREFIXES = ("data: ", "answers: ", "setting: ")


def run_notes(summary: dict[str, Any]) -> list[str]:
    """The runner's notes in `summary` (RUN_NOTE_PREFIXES), in their order."""
    notes = summary.get("notes") or []
    return [note for note in notes if isinstance(note, str) and note.startswith(RUN_NOTE_PREFIXES)]


def scores_summary(task: Task, scores: Scores, records: Sequence[dict[str, Any]], notes: Sequence[str] = ()) -> dict:
    """The summary's fields that follow from the records and the task's scoring: what a run writes and what
    re-scoring rewrites (`notes` come first, e.g. that the data is the bundled sample)."""
    return {
        "variant": task.variant,
        "headline": task.metrics[0],
        "metrics": {name: value.to_dict() for name, value in scores.metrics.items()},
        "breakdowns": scores.breakdowns,
        "notes": [*notes, *scores.notes],
        "n": len(records),
    }
