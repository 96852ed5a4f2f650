"""Our drivers of pycocoevalcap's Java scorers (metrics/ptb.py, metrics/meteor.py) give pycocoevalcap's own
outputs: the PTB tokenisation token for token, METEOR's per-image and corpus scores exactly, whether the
shared METEOR process is fresh, reused or restarted after dying."""

from __future__ import annotations

import shutil

import pytest

from kosmos_eval.errors import UserError
from kosmos_eval.metrics import meteor, ptb

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")
pytestmark = [pytestmark, pytest.mark.slow]

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


class FinishedTokenizer:
    """Stands in for a tokenizer process that has printed `output`."""

    def __init__(self, output: bytes, returncode: int = 0, error: bytes = b"") -> None:
        self.output, self.returncode, self.error = output, returncode, error

    def communicate(self, data: bytes) -> tuple[bytes, bytes]:
        return self.output, self.error


def test_tokenizer_output_is_checked_against_the_input():
    with pytest.raises(UserError, match=r"returned 2 lines for 3 captions"):
        ptb.tokenize_lines(["A.", "B.", "C."], FinishedTokenizer(b"a\n"))  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"exited with status 1: \['Exception in thread'\]"):
        ptb.tokenize_lines(["A."], FinishedTokenizer(b"", 1, b"Exception in thread\nmore"))  # type: ignore[arg-type]


@pytest.mark.parametrize("server", [True, False], ids=["one-jvm-server", "a-jvm-per-batch"])
def test_warm_batches_equal_one_run_over_everything(server, monkeypatch):
    # batches of a run (by the long-lived server, or where it cannot start by a tokenizer started while the
    # previous batch worked) give the tokens that one run over all captions gives: quotes left open at the
    # end of a batch change nothing later
    captions = [c for refs in REFERENCES.values() for c in refs] + ['He said "stop', 'it" now', "", "it's 5'10\""]
    captions += ["", "Ünïcödé — “curly” quotes… and a URL http://x.org/a?b=c", "A\rb"]
    whole = ptb.tokenize_lines(captions)
    if not server:  # as where java cannot run a source file (Java 8, no compiler module)
        monkeypatch.setattr(ptb, "SERVER_SOURCE", ptb.SERVER_SOURCE.with_name("NoSuchServer.java"))
    warm = ptb.WarmTokenizer()
    try:
        batched = [
            token for start in range(0, len(captions), 4) for token in warm.tokenize(captions[start : start + 4])
        ]
        assert warm.tokenize([]) == [] and warm.tokenize([""]) == [""]
        assert (warm.server is not None) == server  # the server is used where it runs, and dropped where not
    finally:
        warm.close()
    assert batched == whole
    assert whole[-7:-3] == ["he said stop", "it now", "", "it 's 5 10"]


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


def test_corpus_score_from_summed_statistics_equals_eval_of_every_line():
    # the streamed path sends the jar one summed line at the end instead of all of them: the same float
    # exact matches (all words matched, one chunk) add no chunks to the jar's aggregate: some are among these
    words = [
        "a", "man", "men", "dog", "dogs", "riding", "rides", "on", "the",
        "street", "road", "red", "small", "little", "big", "large", "bike", "bicycle",
    ]  # fmt: skip
    rows = [(i * 7919) % 101 for i in range(400)]
    pairs = []
    for row in rows:
        refs = [" ".join(words[(r + k) % len(words)] for k in range(1 + r % 9)) for r in (row, row + 3)]
        hypothesis = " ".join(words[(row * 3 + k) % len(words)] for k in range(row % 12))
        pairs.append((refs, refs[0] if row % 5 == 0 else hypothesis))  # every fifth an exact match
    process = meteor.shared_process()
    stats = process.statistics(pairs)
    for count in (1, 2, 37, len(stats)):
        assert process.corpus_score(stats[:count]) == process.evaluate(stats[:count])[0]
    exact, other = "5 5 0 0 5 5" + " 0" * 14 + " 1 5 5", "2 3 1 1 1 1 1 0" + " 0" * 12 + " 2 2 1"
    assert process.corpus_score([exact, other]) == process.evaluate([exact, other])[0]
    assert meteor.summed_statistics([exact, other]) == "7.0 8.0 1.0 1.0 6.0 6.0 1.0" + " 0.0" * 13 + " 2.0 7.0 6.0"
    with pytest.raises(ValueError, match="23 fields"):
        meteor.summed_statistics(["1.0 2.0"])
