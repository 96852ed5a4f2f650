"""The caption scoring process (metrics/caption_service.py) gives the scores `score_captions` computes in the
run's own process, to the last bit, however the captions reach it; and when it cannot answer (other
references, a dead process, a caption of another corpus) the run scores in-process, with the same result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.errors import UserError
from kosmos_eval.generators.captions import write_karpathy_coco
from kosmos_eval.metrics import caption_service, captioning
from kosmos_eval.metrics.captioning import score_captions
from kosmos_eval.runner import results as results_module
from kosmos_eval.runner.run import evaluate
from tests.backends import ScriptedBackend

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="the caption scorers need Java")
pytestmark = [pytestmark, pytest.mark.slow]

WORDS = [
    "a", "man", "two", "dogs", "red", "bus", "riding", "horse", "on",
    "the", "beach", "street", "near", "sea", "park", "parked", "plate", "of", "food",
]  # fmt: skip


def caption(seed: int, length: int) -> str:
    return " ".join(WORDS[(seed * 7 + k * 3) % len(WORDS)] for k in range(length)).capitalize() + "."


# string and int ids (JSON keeps each type), an empty caption, one equal to a reference, punctuation only
REFERENCES: dict[int | str, list[str]] = {
    image_id: [caption(n + j, 3 + (n + j) % 8) for j in range(5)]
    for n, image_id in enumerate([42, "flickr_7", 3, "1000092795", 17, 8, 99, "x"])
}
PREDICTIONS: dict[int | str, str] = {image_id: caption(n * 5, 2 + n) for n, image_id in enumerate(REFERENCES)}
PREDICTIONS |= {3: "", 17: REFERENCES[17][2], 8: "..."}


def in_process() -> captioning.CaptionScores:
    return score_captions(PREDICTIONS, REFERENCES, spice=False)


def assert_same(got: captioning.CaptionScores | None, expected: captioning.CaptionScores) -> None:
    assert got is not None
    assert got.corpus == expected.corpus  # exact floats
    assert {m: list(v.items()) for m, v in got.per_image.items()} == {
        m: list(v.items()) for m, v in expected.per_image.items()
    }  # the same ids (with their types), in the same order
    assert got.skipped == expected.skipped


def test_streamed_scores_equal_in_process_scores_exactly() -> None:
    expected = in_process()
    run_spice, skipped = captioning.spice_plan(False)
    ids = list(REFERENCES)
    stream = caption_service.begin(REFERENCES)
    assert stream is not None
    stream.add({image_id: PREDICTIONS[image_id] for image_id in ids[:3]})
    stream.add({ids[3]: "a caption changed later"})  # resent below with the final caption
    stream.add({image_id: PREDICTIONS[image_id] for image_id in ids[3:6]})
    # ids[6:] are sent only at the end, as a resumed run's earlier records are
    assert_same(stream.finish(PREDICTIONS, REFERENCES, run_spice, skipped), expected)


def test_a_stream_told_of_nothing_until_the_end_and_one_per_run() -> None:
    expected = in_process()
    first, second = caption_service.begin(REFERENCES), caption_service.begin(REFERENCES)
    assert first is not None and second is not None and first.number != second.number
    # the process holds one corpus: the newer one, so the older one's finish is answered None
    assert first.finish(PREDICTIONS, REFERENCES, False, {}) is None
    assert_same(second.finish(PREDICTIONS, REFERENCES, *captioning.spice_plan(False)), expected)


def test_other_references_or_a_foreign_caption_fall_back_to_in_process_scoring() -> None:
    expected = in_process()
    stream = caption_service.begin({**REFERENCES, 42: ["something else"]})
    assert stream is not None
    assert stream.finish(PREDICTIONS, REFERENCES, False, {}) is None  # not the corpus it began with
    assert_same(score_captions(PREDICTIONS, REFERENCES, spice=False, stream=stream), expected)

    stream = caption_service.begin(REFERENCES)
    assert stream is not None
    stream.add({"not an image of this corpus": "a dog"})
    assert stream.finish(PREDICTIONS, REFERENCES, False, {}) is None


def test_a_dead_scoring_process_is_no_lost_run() -> None:
    expected = in_process()
    stream = caption_service.begin(REFERENCES)
    assert stream is not None
    stream.add(dict(list(PREDICTIONS.items())[:4]))
    stream.service.process.kill()
    stream.service.process.wait()
    stream.add(PREDICTIONS)  # never raises
    assert stream.finish(PREDICTIONS, REFERENCES, False, {}) is None
    assert_same(score_captions(PREDICTIONS, REFERENCES, spice=False, stream=stream), expected)
    assert caption_service.shared_process() is not stream.service  # a new one for the next run


def test_a_user_error_in_the_process_is_the_runs_user_error(monkeypatch) -> None:
    # SPICE asked for and failing in the worker is the same one-line error the in-process path raises
    stream = caption_service.begin(REFERENCES)
    assert stream is not None
    monkeypatch.setattr(stream.service, "ask", lambda message: {"ok": False, "corpus": stream.number,
                                                                 "error": "SPICE failed: out of memory",
                                                                 "user_error": True})  # fmt: skip
    with pytest.raises(UserError, match="SPICE failed: out of memory"):
        stream.finish(PREDICTIONS, REFERENCES, True, {})


@pytest.fixture
def coco_dir(tmp_path) -> tuple[Path, dict[int, list[str]]]:
    root = tmp_path / "coco"
    return root, write_karpathy_coco(root, {"test": 6, "train": 1})


def said(request) -> str:
    image_id = int(request.context.images[-1].key.rsplit("_", 1)[1].split(".")[0])  # the query image is last
    return ["a bus on a street", "a dog", "", "two men riding horses on the beach"][image_id % 4]


def run_coco(root: Path, out: Path, limit: int | None = None):
    config = RunConfig(task="coco_caption", backend="scripted", data_dir=str(root), output_dir=str(out),
                       batch_size=2, limit=limit)  # fmt: skip
    return evaluate(config, backend=ScriptedBackend(said), progress=False)


def test_a_run_is_scored_by_the_process_and_a_resumed_run_equals_an_uninterrupted_one(
    coco_dir, tmp_path, monkeypatch
) -> None:
    root, references = coco_dir

    def no_scoring_here(*args, **kwargs):
        raise AssertionError("scored in the run's process")

    monkeypatch.setattr(captioning, "_tokenize", no_scoring_here)  # the worker process is not patched
    full = run_coco(root, tmp_path / "full")
    first = run_coco(root, tmp_path / "parts", limit=2)
    rest = run_coco(root, tmp_path / "parts")  # 2 records read back, never seen by the process, 4 computed
    assert (rest.resumed, rest.computed) == (2, 4)
    assert rest.metrics == full.metrics
    monkeypatch.undo()

    lines = (full.run_dir / "samples.jsonl").read_text().splitlines()
    predictions = {r["image_id"]: r["prediction"] for r in map(json.loads, lines)}
    direct = score_captions(predictions, {image_id: references[image_id] for image_id in predictions}, spice=False)
    assert full.metrics["cider"].value == direct.corpus["CIDEr"] > 0
    assert full.metrics["meteor"].value == direct.corpus["METEOR"]
    assert full.metrics["bleu_4"].value == direct.corpus["Bleu_4"]
    assert first.metrics["cider"].n == 2


def test_each_batchs_captions_reach_the_process_before_their_step_is_saved(coco_dir, tmp_path, monkeypatch) -> None:
    """So that at the end of a run only the last batch is still being scored, not the last step."""
    root, _ = coco_dir
    events: list[tuple[str, list]] = []
    original_add = caption_service.CaptionStream.add
    original_append = results_module.RunFolder.append

    def add(self, predictions):  # noted when it sends something (a step's records resend nothing)
        if new := sorted(str(i) for i, text in predictions.items() if self.sent.get(i) != text):
            events.append(("add", new))
        return original_add(self, predictions)

    def append(self, records):
        events.append(("saved", sorted(str(r["image_id"]) for r in records)))
        return original_append(self, records)

    monkeypatch.setattr(caption_service.CaptionStream, "add", add)
    monkeypatch.setattr(results_module.RunFolder, "append", append)
    outcome = run_coco(root, tmp_path / "run")  # 6 images, batches of 2, one step
    saved = [ids for kind, ids in events if kind == "saved"]
    first_save = events.index(("saved", saved[0]))
    batches = [ids for kind, ids in events[:first_save] if kind == "add"]
    assert [len(ids) for ids in batches] == [2, 2, 2]  # each batch as it returned, before the step was saved
    assert all(kind == "saved" for kind, _ in events[first_save:])  # the records had nothing new to send
    assert sorted(i for ids in batches for i in ids) == saved[0]
    assert outcome.metrics["cider"].n == 6
