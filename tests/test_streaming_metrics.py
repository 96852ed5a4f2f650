"""Streaming metrics (metrics/base.py): the runner begins a task's streaming metrics with every example the run
scores and feeds them each record as soon as the batch completing its example returns, before its step is
written, once, and never a neighbour's record; the batcher only gives batches as they return."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from kosmos_eval.backends.chance import ChanceBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.core.registry import TASKS
from kosmos_eval.core.types import Context, Example, GenerateRequest, RankResult, Request
from kosmos_eval.metrics.base import StreamingMetric
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.results import RunFolder
from kosmos_eval.runner.run import evaluate
from kosmos_eval.runner.steps import run_stages
from kosmos_eval.tasks.capabilities import StreamingScored, TwoStage
from kosmos_eval.tasks.raven import RavenTask
from tests.backends import ScriptedBackend


class Recorder(StreamingMetric):
    """Notes what the runner tells it, in `events` shared with the run folder's writes."""

    def __init__(self, events: list[tuple[str, list[str]]]) -> None:
        self.events = events

    def begin(self, examples: Sequence[Example]) -> None:
        self.events.append(("begin", [example.id for example in examples]))

    def feed(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.events.append(("feed", [record["id"] for record in records]))


@pytest.fixture
def events(monkeypatch) -> list[tuple[str, list[str]]]:
    noted: list[tuple[str, list[str]]] = []
    recorder = Recorder(noted)

    class StreamedRaven(StreamingScored, RavenTask):
        """Raven with a streaming metric: the runner asks the capability, so the task must have it."""

        def streaming_metrics(self) -> tuple[StreamingMetric, ...]:
            return (recorder,)

    TASKS.names()  # the registry is filled before one of its entries is swapped
    monkeypatch.setitem(TASKS._entries, "raven", StreamedRaven)
    original_append = RunFolder.append

    def append(folder: RunFolder, records: list[dict]) -> None:
        noted.append(("saved", [record["id"] for record in records]))
        original_append(folder, records)

    monkeypatch.setattr(RunFolder, "append", append)
    return noted


def run_raven(tmp_path, limit: int | None):
    # batches of 4 requests, windows of 4 examples (6 requests each): an example is complete mid-step
    config = RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), batch_size=4, limit=limit)
    return evaluate(config, backend=ChanceBackend(seed=1234), progress=False)


def saved_ids(run_dir) -> list[str]:
    return [json.loads(line)["id"] for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_records_are_fed_as_made_before_their_step_is_saved_and_a_resumed_run_feeds_only_new_ones(
    tmp_path, events
) -> None:
    first = run_raven(tmp_path, limit=6)  # windows of 4: examples 6 and 7 are neighbours, computed and not kept
    (kind, begun), *rest = events
    assert kind == "begin" and len(begun) == 6  # the run's selection, before anything is computed
    fed_before_save: list[str] = []
    for kind, ids in rest:
        if kind == "feed":
            fed_before_save += ids
        elif kind == "saved":
            assert sorted(fed_before_save) == sorted(ids)  # each record fed before its step is written
            fed_before_save = []
    feeds = [ids for kind, ids in rest if kind == "feed"]
    assert len(feeds) > 2  # a step's records are fed a batch's worth at a time, not the step at once
    earlier = saved_ids(first.run_dir)
    assert sorted(i for ids in feeds for i in ids) == sorted(earlier) == sorted(begun)

    events.clear()
    second = run_raven(tmp_path, limit=None)  # resumes: the 6 saved records are read back, never fed
    (kind, begun), *rest = events
    assert kind == "begin" and sorted(begun) == sorted(saved_ids(second.run_dir))  # the earlier 6 included
    fed = [i for kind, ids in rest if kind == "feed" for i in ids]
    assert sorted(fed) == sorted(set(begun) - set(earlier))
    assert second.resumed == 6 and len(fed) == second.computed


def test_nothing_to_compute_begins_nothing(tmp_path, events) -> None:
    run_raven(tmp_path, limit=4)
    events.clear()
    again = run_raven(tmp_path, limit=4)
    assert again.computed == 0 and events == []  # aggregate scores the saved records as they are


class TwoStages(TwoStage):
    """Just what `run_stages` asks of a task: example "b" asks a second question after its first answer."""

    def follow_up(self, example: Example, demos: Sequence[Example], outputs: Sequence[RankResult | str]) -> list:
        return [GenerateRequest(Context.of(f"{example.id} again"))] if example.id == "b" and len(outputs) == 1 else []


def test_run_stages_says_which_examples_each_batch_finished() -> None:
    examples = [Example(id=name) for name in "abc"]
    first: list[list[Request]] = [
        [GenerateRequest(Context.of("a first")), GenerateRequest(Context.of("a second, longest of all"))],
        [GenerateRequest(Context.of("b"))],
        [],  # nothing to ask: finished before any batch
    ]
    told: list[tuple[list[str], list[list]]] = []

    def finished(indices: list[int], outputs: list[list[RankResult | str]]) -> None:
        told.append(([examples[i].id for i in indices], [list(outputs[i]) for i in indices]))

    backend = ScriptedBackend(lambda request: request.context.render().upper())
    outputs = run_stages(TwoStages(), Batcher(backend, 1), examples, [[], [], []], first, finished)  # type: ignore[arg-type]
    assert outputs == [["A FIRST", "A SECOND, LONGEST OF ALL"], ["B", "B AGAIN"], []]
    # longest first: a's second request, then a's first (a is done), b's first (b asks again), b's second
    assert told == [(["c"], [[]]), (["a"], [outputs[0]]), (["b"], [outputs[1]])]
    assert run_stages(TwoStages(), Batcher(backend, 2), examples, [[], [], []], first) == outputs  # type: ignore[arg-type]
