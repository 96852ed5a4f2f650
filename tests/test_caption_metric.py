"""The caption metric as a streaming metric (metrics/caption_metric.py): whatever it was fed, and whether or not
it was begun, it scores the records it is given exactly as `score_captions` does; and the caption tasks
aggregate with the very metric object the runner begins and feeds."""

from __future__ import annotations

import shutil

import pytest

from kosmos_eval.core.types import Example
from kosmos_eval.metrics.caption_metric import CaptionCorpus
from kosmos_eval.metrics.captioning import CaptionScores, score_captions
from kosmos_eval.tasks.captioning import CocoCaptionTask, Flickr30kTask

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="the caption scorers need Java")
pytestmark = [pytestmark, pytest.mark.slow]

REFERENCES: dict[int | str, list[str]] = {
    11: ["A dog runs on the beach.", "a brown dog running near the sea", "Dog at the beach."],
    "flickr_2": ["Two men ride horses.", "two people riding horses on a street", "Men on horseback."],
    7: ["A red bus parked on the street.", "a bus near a park", "The red bus."],
    "x": ["A plate of food.", "food on a plate", "a meal"],
}
PREDICTIONS: dict[int | str, str] = {11: "a dog on the beach", "flickr_2": "", 7: "a red bus on a street", "x": "..."}


def examples() -> list[Example]:
    return [Example(id=str(i), fields={"image_id": i, "references": refs}) for i, refs in REFERENCES.items()]


def records(predictions: dict[int | str, str]) -> list[dict]:
    return [
        {"id": str(i), "image_id": i, "prediction": predictions[i], "references": REFERENCES[i]} for i in REFERENCES
    ]


def metric() -> CaptionCorpus:
    return CaptionCorpus(lambda example: (example.fields["image_id"], example.fields["references"]))


def assert_same(got: CaptionScores, expected: CaptionScores) -> None:
    assert got.corpus == expected.corpus  # exact floats
    assert {m: list(v.items()) for m, v in got.per_image.items()} == {
        m: list(v.items()) for m, v in expected.per_image.items()
    }
    assert got.skipped == expected.skipped


def test_scores_do_not_depend_on_what_was_fed() -> None:
    expected = score_captions(PREDICTIONS, REFERENCES, spice=False)
    corpus = metric()
    corpus.begin(examples())
    assert corpus.stream is not None
    final = records(PREDICTIONS)
    corpus.feed(final[:1])
    corpus.feed(records({**PREDICTIONS, 7: "a caption that changed"})[2:3])  # not the final record
    # the rest never fed, as a resumed run's earlier records
    assert_same(corpus.score(final, spice=False), expected)
    assert corpus.stream is None  # one corpus per run
    assert_same(corpus.score(final, spice=False), expected)  # never begun: scored in this process


def test_the_tasks_aggregate_with_the_metric_the_runner_feeds() -> None:
    for task_class in (CocoCaptionTask, Flickr30kTask):
        task = task_class()
        (streaming,) = task.streaming_metrics()
        assert streaming is task.captions and task.streaming_metrics() == (streaming,)
        assert task_class().captions is not streaming  # each task object, each run: its own corpus
