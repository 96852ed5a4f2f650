"""Caption metrics: equal to COCOEvalCap on the same official-format files, hand-checked cases, Java/SPICE checks.

Every scorer call starts Java (METEOR alone takes a few seconds to load its paraphrase table), so the official
run and ours are computed once per module and shared by the tests.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.captions import read_caption_results, read_coco_captions, write_caption_results
from kosmos_eval.metrics import captioning
from kosmos_eval.metrics.captioning import (
    METRICS,
    bootstrap_corpus_ci,
    require_java,
    score_captions,
    spice_available,
)

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")

# image id -> (prediction, five references). Ids are deliberately not in sorted order in the file.
# 101: the prediction equals every reference and shares no word with any other image (CIDEr-D = 10).
# 102: BLEU-1 = 3/5 (a: clipped to 1, dog: 0, on, mat), closest reference length 5, no brevity penalty.
# 103: BLEU-1 = 2/2 with brevity penalty exp(1 - 5/2): the closest reference length to 2 is 5.
# 104: 6 words between reference lengths 5 and 7: the tie goes to the shorter (5), so no penalty; 5/6.
# 106: "." tokenises to an empty caption.
CASES = {
    105: (
        "Two people walking down a snowy street.",
        [
            "Two people walk along a snow covered street.",
            "A couple walking on a snowy road in winter.",
            "People walking down the street in the snow!",
            "Two pedestrians on a snowy sidewalk, near cars.",
            "A man and a woman walk through snow on a street.",
        ],
    ),
    101: (
        "Zebra grazes beside tall acacia.",
        ["Zebra grazes beside tall acacia."] * 4 + ["zebra grazes beside tall acacia"],
    ),
    103: (
        "A bird.",
        [
            "a bird on a branch",
            "a small bird perched on a branch",
            "bird sitting on the branch",
            "a bird sits on a tree branch",
            "the bird on a thin branch",
        ],
    ),
    102: (
        "a dog on a mat",
        [
            "a cat on the mat",
            "the cat sleeps on the mat",
            "cat resting on the mat",
            "cat lying on the mat",
            "the cat on mat",
        ],
    ),
    104: (
        "a man rides a red bike",
        [
            "a man riding a bike",
            "a man is riding a red bike",
            "man on a red bike",
            "a young man riding a red bike",
            "man on red bike now",
        ],
    ),
    106: (
        ".",
        ["A plate of food with broccoli.", "Broccoli and rice on a plate.", "A meal.", "Food on a white plate", "rice"],
    ),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("coco")
    images = [{"id": image_id, "file_name": f"COCO_val2014_{image_id:012d}.jpg"} for image_id in CASES]
    anns = [
        {"image_id": image_id, "id": 1000 * image_id + k, "caption": ref}
        for image_id, (_, refs) in CASES.items()
        for k, ref in enumerate(refs)
    ]
    annotations = folder / "captions_val2014.json"
    annotations.write_text(json.dumps({"images": images, "annotations": anns, "type": "captions"}))
    (folder / "val2014").mkdir()
    results = folder / "results.json"
    write_caption_results(results, [(image_id, pred) for image_id, (pred, _) in CASES.items()])
    return annotations, results


@pytest.fixture(scope="module")
def official(files):
    """COCOEvalCap itself, run as its README shows. Its Spice would download jars, so it is replaced here."""
    from pycocoevalcap import eval as cocoeval
    from pycocotools.coco import COCO

    class NoSpice:
        def compute_score(self, gts, res):
            return 0.0, [0.0] * len(gts)

        def method(self):
            return "SPICE"

    annotations, results = files
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cocoeval, "Spice", NoSpice)
        coco = COCO(str(annotations))
        evaluator = cocoeval.COCOEvalCap(coco, coco.loadRes(str(results)))
        evaluator.params["image_id"] = coco.getImgIds()
        evaluator.evaluate()
    return evaluator


@pytest.fixture(scope="module")
def ours(files):
    annotations, results = files
    items = read_coco_captions(annotations, annotations.parent / "val2014", annotations.parent)
    references = {item.image_id: item.references for item in items}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(captioning, "spice_available", lambda: (False, "jars missing (test)"))
        return score_captions(read_caption_results(results), references)


@pytest.mark.slow
@needs_java
def test_equals_cocoevalcap_exactly(official, ours):
    assert set(ours.corpus) == set(METRICS) - {"SPICE"}
    for metric, value in ours.corpus.items():
        assert value == official.eval[metric], metric
    for image_id in CASES:
        for metric, table in ours.per_image.items():
            assert table[image_id] == official.imgToEval[image_id][metric], (metric, image_id)
    assert list(ours.per_image["CIDEr"]) == list(CASES)  # annotation-file order, as COCOEvalCap scores
    assert ours.skipped == {"SPICE": "SPICE skipped: jars missing (test)"}


@pytest.mark.slow
@needs_java
def test_hand_checked_values(ours):
    per = ours.per_image
    # 101: identical caption, all n-grams unique to the image: every n-gram order has cosine 1 -> 10 x 1.
    assert per["CIDEr"][101] == pytest.approx(10.0, rel=1e-12)
    assert per["ROUGE_L"][101] == 1.0
    assert all(per[f"Bleu_{n}"][101] == pytest.approx(1.0, rel=1e-8) for n in range(1, 5))
    assert per["METEOR"][101] == 1.0  # meteor-1.5.jar gives an exact match 1 (no fragmentation penalty)
    assert per["Bleu_1"][102] == pytest.approx(3 / 5, rel=1e-8)
    assert per["Bleu_1"][103] == pytest.approx(math.exp(1 - 5 / 2), rel=1e-8)
    assert per["Bleu_1"][104] == pytest.approx(5 / 6, rel=1e-8)
    assert per["CIDEr"][106] == 0.0 and per["ROUGE_L"][106] == 0.0 and per["METEOR"][106] == 0.0
    # CIDEr-D's corpus score is the mean of the per-image scores, so the bootstrap value reproduces it.
    ci = bootstrap_corpus_ci(per["CIDEr"], seed=0)
    assert ci.value == ours.corpus["CIDEr"] and ci.n == 6 and ci.ci_low <= ci.value <= ci.ci_high
    assert bootstrap_corpus_ci(list(per["CIDEr"].values()), seed=0) == ci


def test_bootstrap_is_seeded_mean():
    values = {1: 0.0, 2: 1.0, 3: 2.0, 4: 3.0}
    first = bootstrap_corpus_ci(values, seed=3)
    assert first == bootstrap_corpus_ci(values, seed=3)
    assert first.value == 1.5 and 0.0 <= first.ci_low < 1.5 < first.ci_high <= 3.0


def test_inputs_must_cover_the_same_images():
    with pytest.raises(DataError, match=r"no prediction for image id 2; predictions must cover every image"):
        score_captions({1: "a"}, {1: ["a"], 2: ["b"]})
    with pytest.raises(DataError, match=r"prediction for image id 3 has no references \(1 such ids\)"):
        score_captions({1: "a", 3: "c"}, {1: ["a"]})
    with pytest.raises(DataError, match=r"no prediction for image id 1 \(predictions use string ids"):
        score_captions({"1": "a"}, {1: ["a"]})
    with pytest.raises(DataError, match=r"image 1: references must be a non-empty list"):
        score_captions({1: "a"}, {1: "a cat"})
    with pytest.raises(DataError, match=r"no images to score"):
        score_captions({}, {})


def _fake_java(folder: Path, version_line: str | None, status: int = 0) -> None:
    folder.mkdir(exist_ok=True)
    java = folder / "java"
    echo = f"echo '{version_line}' >&2\n" if version_line else ""
    java.write_text(f"#!/bin/sh\n{echo}exit {status}\n")
    java.chmod(0o755)


def test_require_java_without_java_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError) as info:
        require_java()
    message = str(info.value)
    assert "\n" not in message and "`java` is not on PATH" in message and "Java 8+" in message
    assert "PTB tokenizer, METEOR" in message and "apt-get install default-jre-headless" in message
    with pytest.raises(UserError, match="`java` is not on PATH"):  # checked before any scorer runs
        score_captions({1: "a"}, {1: ["a"]})


def test_require_java_broken_or_too_old(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    _fake_java(tmp_path / "bin", None, status=1)
    with pytest.raises(UserError, match=r"java -version` exited with status 1"):
        require_java()
    _fake_java(tmp_path / "bin", 'java version "1.7.0_80"')
    with pytest.raises(UserError, match=r"is Java 7"):
        require_java()
    _fake_java(tmp_path / "bin", 'openjdk version "1.8.0_392"')
    require_java()
    _fake_java(tmp_path / "bin", 'openjdk version "21" 2023-09-19')
    require_java()


def test_spice_is_unavailable_here_with_a_reason():
    upstream = Path(captioning._upstream_dir("spice.spice"))
    available, reason = spice_available()
    if not (upstream / "lib" / "stanford-corenlp-3.6.0.jar").is_file():
        assert not available
        assert "lib/stanford-corenlp-3.6.0.jar" in reason and "downloads them on first use" in reason


def test_spice_checks_jars_then_java(tmp_path, monkeypatch):
    spice_dir = tmp_path / "spice"
    (spice_dir / "lib").mkdir(parents=True)
    (spice_dir / "spice-1.0.jar").touch()
    available, reason = spice_available(spice_dir)
    assert not available
    assert reason.startswith("missing lib/stanford-corenlp-3.6.0.jar, lib/stanford-corenlp-3.6.0-models.jar in ")
    for name in ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar"):
        (spice_dir / "lib" / name).touch()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("JDK_JAVA_OPTIONS", raising=False)
    assert spice_available(spice_dir) == (False, "`java` is not on PATH")
    _fake_java(tmp_path / "bin", 'openjdk version "17.0.15" 2025-04-15')
    available, reason = spice_available(spice_dir)
    assert not available and "SPICE 1.0 fails on Java 16+" in reason
    monkeypatch.setenv("JDK_JAVA_OPTIONS", "--add-opens=java.base/java.lang=ALL-UNNAMED")
    assert spice_available(spice_dir) == (True, f"jars found in {spice_dir}")
    monkeypatch.delenv("JDK_JAVA_OPTIONS")
    _fake_java(tmp_path / "bin", 'java version "1.8.0_292"')
    assert spice_available(spice_dir)[0]


@needs_java
def test_spice_requested_but_unavailable(monkeypatch):
    monkeypatch.setattr(captioning, "spice_available", lambda: (False, "no jars"))
    with pytest.raises(UserError, match="SPICE was requested but cannot run: no jars"):
        score_captions({1: "a cat"}, {1: ["a cat"]}, spice=True)
