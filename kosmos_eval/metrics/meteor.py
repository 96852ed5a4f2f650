"""METEOR 1.5, computed by pycocoevalcap's own jar through one long-lived Java process per Python process.

pycocoevalcap's wrapper starts a new JVM for every scoring call (about five seconds, most of it loading the
paraphrase tables) and then asks for each image's statistics in a separate round trip. Here the same jar,
started with the same command (`java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm`, in the jar's folder),
stays up: it can be started in the background when a captioning run begins (`start_in_background`), so its
loading overlaps model loading and generation, and a suite's eight captioning runs share it. The protocol is
the jar's: one `SCORE ||| ref 1 ||| ... ||| ref n ||| hypothesis` line per image answers with a statistics
line; one `EVAL ||| stats 1 ||| ... ||| stats N` line answers with N per-image scores and then the corpus
score. All SCORE lines are written by a helper thread while this thread reads the answers, so the lines flow
without a round trip each (and neither pipe can fill up and stall both sides). The inputs are prepared as
pycocoevalcap prepares them: `|||` removed from the hypothesis and then each double space made single;
references are passed as they are. The scores equal pycocoevalcap's Meteor (tests/test_caption_java.py).
"""

from __future__ import annotations

import atexit
import contextlib
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from kosmos_eval.errors import UserError

JAR = "meteor-1.5.jar"


STATS_FIELDS = 23  # fields of a METEOR 1.5 statistics line
CHUNKS = 20  # the index of its chunk count


def jar_folder() -> Path:
    from importlib import import_module

    return Path(import_module("pycocoevalcap.meteor.meteor").__file__).resolve().parent  # type: ignore[arg-type]


def _hypothesis(text: str) -> str:
    return text.replace("|||", "").replace("  ", " ")


class MeteorProcess:
    """One running METEOR 1.5 (`-stdio`); `score` may be called any number of times, from one thread at a time."""

    def __init__(self) -> None:
        self.command = ["java", "-jar", "-Xmx2G", JAR, "-", "-", "-stdio", "-l", "en", "-norm"]
        self.process = subprocess.Popen(
            self.command, cwd=jar_folder(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.process.poll() is None

    def score(self, references: Mapping[Any, Sequence[str]], hypotheses: Mapping[Any, Sequence[str]]) -> tuple:
        """(corpus score, per-image scores in the order of `references`) for tokenised captions, one
        hypothesis per image, exactly as pycocoevalcap's `Meteor.compute_score`."""
        if references.keys() != hypotheses.keys():
            raise ValueError("METEOR needs the same image ids in references and hypotheses")
        pairs = []
        for image_id in references:
            if len(hypotheses[image_id]) != 1:
                raise ValueError(f"METEOR scores one hypothesis per image; image {image_id!r} has more")
            pairs.append((references[image_id], hypotheses[image_id][0]))
        return self.evaluate(self.statistics(pairs))

    def statistics(self, pairs: Sequence[tuple[Sequence[str], str]]) -> list[str]:
        """METEOR's statistics line for each (tokenised references, tokenised hypothesis) pair, in order: the
        per-image half of the work, which `evaluate` turns into scores (a run streams it as captions arrive)."""
        lines = [" ||| ".join(("SCORE", " ||| ".join(refs), _hypothesis(hypothesis))) for refs, hypothesis in pairs]
        with self.lock:
            stdin, stdout = self.process.stdin, self.process.stdout
            assert stdin is not None and stdout is not None
            failure: list[BaseException] = []
            writer = threading.Thread(target=_write_lines, args=(stdin, lines, failure), daemon=True)
            writer.start()
            stats = [self._line(stdout) for _ in lines]
            writer.join()
        if failure:
            raise failure[0]
        return stats

    def evaluate(self, stats: Sequence[str]) -> tuple[float, list[float]]:
        """(corpus score, per-image scores) for the statistics lines of a corpus, in their order."""
        with self.lock:
            stdin, stdout = self.process.stdin, self.process.stdout
            assert stdin is not None and stdout is not None
            stdin.write(("EVAL ||| " + " ||| ".join(stats) + "\n").encode())
            stdin.flush()
            per_image = [float(self._line(stdout)) for _ in stats]
            corpus = float(self._line(stdout))
        return corpus, per_image

    def corpus_score(self, stats: Sequence[str]) -> float:
        """The corpus score `evaluate` would give, from one line: the jar's EVAL scores a corpus as it scores a
        segment, from the field-wise sum of the statistics lines, so sending that sum (`summed_statistics`)
        gives the same number without having the jar score every image again (they were, as they streamed)."""
        return self.evaluate([summed_statistics(stats)])[0]

    def _line(self, stdout: IO[bytes]) -> str:
        line = stdout.readline()
        if not line:
            raise OSError("METEOR closed its output")
        return line.decode().strip()

    def error_text(self) -> str:
        """Java's first error line (for a one-line report once the process has died)."""
        self.process.kill()
        text = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
        lines = text.strip().splitlines()
        return next((line for line in lines if "Error" in line or "Exception" in line), lines[-1] if lines else "")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin:
                self.process.stdin.close()
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def summed_statistics(stats: Sequence[str]) -> str:
    """The jar's corpus aggregate of METEOR statistics lines, as one line it parses back to the same numbers.

    A line holds: test and reference length, their function words, per matcher stage (exact, stem, synonym,
    paraphrase) the test and reference content and function matches, chunks, test and reference word
    matches. The jar's aggregate adds every field, with one exception (read from meteor-1.5.jar's
    `MeteorStats.addStats`): a segment whose every test and reference word is matched in one chunk (an exact
    match, which the jar scores without fragmentation penalty) adds no chunks. Every field is a count, so the
    sums are exact doubles; `repr` writes each so that Java reads back the same value.
    tests/test_caption_java.py checks the result against EVAL of all lines."""
    if not stats:
        raise ValueError("METEOR has no corpus score for no images")
    rows = [[float(field) for field in line.split()] for line in stats]
    if {len(row) for row in rows} != {STATS_FIELDS}:
        raise ValueError(f"METEOR statistics lines have {STATS_FIELDS} fields; got {sorted({len(r) for r in rows})}")
    total = [0.0] * STATS_FIELDS
    for row in rows:
        test_matches = sum(row[4 + 4 * stage] + row[6 + 4 * stage] for stage in range(4))
        reference_matches = sum(row[5 + 4 * stage] + row[7 + 4 * stage] for stage in range(4))
        exact = test_matches == row[0] and reference_matches == row[1] and row[CHUNKS] == 1.0
        for k, value in enumerate(row):
            if not (k == CHUNKS and exact):
                total[k] += value
    return " ".join(repr(value) for value in total)


def _write_lines(stdin: IO[bytes], lines: list[str], failure: list[BaseException]) -> None:
    try:
        for line in lines:
            stdin.write((line + "\n").encode())
        stdin.flush()
    except OSError as exc:  # the reader sees the closed pipe too and reports Java's own error
        failure.append(exc)


_shared: MeteorProcess | None = None
_shared_lock = threading.Lock()


def shared_process() -> MeteorProcess:
    """The process-wide METEOR, started on first use and restarted if it has died."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive():
            _shared = MeteorProcess()
        return _shared


def start_in_background() -> None:
    """Start the shared METEOR now, so its start-up runs while the model loads and generates."""
    with contextlib.suppress(OSError):
        shared_process()


def meteor_score(references: Mapping[Any, Sequence[str]], hypotheses: Mapping[Any, Sequence[str]]) -> tuple:
    """METEOR 1.5 on tokenised captions through the shared process; a dead Java side is one UserError line."""
    return with_shared(lambda meteor: meteor.score(references, hypotheses))


def with_shared(work: Callable[[MeteorProcess], Any]) -> Any:
    """`work` done with the shared process; a dead Java side (or a closed pipe) is one UserError line."""
    meteor = shared_process()
    try:
        return work(meteor)
    except (ValueError, OSError) as exc:
        if isinstance(exc, ValueError) and meteor.alive():
            raise
        raise UserError(f"METEOR ({JAR}, java -Xmx2G) failed: {meteor.error_text() or exc}") from exc


@atexit.register
def _close_shared() -> None:
    if _shared is not None:
        _shared.close()
