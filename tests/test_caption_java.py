"""Our drivers of pycocoevalcap's Java scorers (metrics/ptb.py, metrics/meteor.py) give pycocoevalcap's own
outputs: the PTB tokenisation token for token, METEOR's per-image and corpus scores exactly, whether the
shared METEOR process is fresh, reused or restarted after dying."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kosmos_eval.errors import UserError
from kosmos_eval.metrics import meteor, ptb

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")

REFERENCES = {
    7: ["A man riding a horse on a beach.", "Someone rides a brown horse!", "a rider (on horseback) near the sea"],
    3: ["Two dogs -- playing in the park...", "dogs, dogs; dogs: everywhere", "Café au lait on a table"],
    11: ["A red bus parked by the road.", "the bus is red", "naïve 'quoted' text, with ``marks''"],
}
PREDICTIONS = {7: "a man on a horse", 3: "two  dogs ||| in a park", 11: ""}  # a double space, |||, nothing


def upstream_tokenize(group):
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    return PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in group.items()})


def test_tokenisation_equals_pycocoevalcap():
    predictions = {k: [v] for k, v in PREDICTIONS.items()}
    assert ptb.tokenize_groups([REFERENCES, predictions]) == [
        upstream_tokenize(REFERENCES),
        upstream_tokenize(predictions),
    ]


def test_java_line_breaks_do_not_shift_captions():
    # Java ends a line at \r, \u2028, \u2029, \v and \f; unreplaced, "b" would become image 2's caption.
    tokenized = ptb.tokenize_groups([{1: ["A\rb", "c\u2028d\u2029e\x0bf\x0cg."], 2: ["Last one."]}])[0]
    assert tokenized == {1: ["a b", "c d e f g"], 2: ["last one"]}


def test_tokenizer_output_is_checked_against_the_input(monkeypatch):
    monkeypatch.setattr(ptb.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, b"a\n", b""))
    with pytest.raises(UserError, match=r"returned 2 lines for 3 captions"):
        ptb.tokenize_groups([{1: ["A."], 2: ["B.", "C."]}])


def test_meteor_equals_pycocoevalcap_fresh_and_reused():
    from pycocoevalcap.meteor.meteor import Meteor

    gts, res = ptb.tokenize_groups([REFERENCES, {k: [v] for k, v in PREDICTIONS.items()}])
    res[3] = ["two  dogs ||| in a park"]  # as a caller might pass it: both sides clean it the same way
    upstream = Meteor()
    try:
        expected = upstream.compute_score(gts, res)
    finally:
        upstream.meteor_p.kill()
    assert meteor.meteor_score(gts, res) == expected
    process = meteor.shared_process()
    assert meteor.meteor_score(gts, res) == expected and meteor.shared_process() is process  # the same JVM
    subset = {7: gts[7]}, {7: res[7]}
    assert meteor.meteor_score(*subset)[1] == [expected[1][0]]  # nothing carries over between calls


def test_a_dead_meteor_is_restarted():
    gts, res = {1: ["a cat on a mat"]}, {1: ["a cat"]}
    first = meteor.meteor_score(gts, res)
    meteor.shared_process().process.kill()
    meteor.shared_process().process.wait()
    assert meteor.meteor_score(gts, res) == first


def test_meteor_failure_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(meteor, "JAR", "no-such-meteor.jar")  # java starts, then exits at once
    monkeypatch.setattr(meteor, "_shared", None)
    with pytest.raises(UserError, match=r"METEOR \(no-such-meteor.jar, java -Xmx2G\) failed: .*no-such-meteor"):
        meteor.meteor_score({1: ["a cat on a mat"]}, {1: ["a cat"]})
