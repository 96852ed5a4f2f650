"""One caption-scoring process per Python process: captions are scored while the GPU writes the next ones.

Why: scoring a caption corpus in one go at the end of a run (PTB tokenizer, BLEU, METEOR, ROUGE-L, CIDEr-D)
costs about a millisecond per image, 30-40% of the GPU's time at 250 images/s, and the GPU waits for it. Here
a separate process (not a thread: pure-Python scoring would hold the GIL the GPU loop needs) is told the
run's references when the run starts, receives each batch's captions as it returns, tokenises and scores
them in the background (caption_parts.py's per-image half; a `WarmTokenizer` so no Java start is in the way;
its own long-lived METEOR), and at the end only the corpus half is left. It starts when a captioning run
checks its environment, so Python's and METEOR's start-up overlap model loading, and a suite's runs share it.

Nothing depends on it: `CaptionStream.finish` returns None whenever the process is not there, died, or was
told about other references or captions than the records hold (a resumed run's earlier records are sent at
the end), and the caller then scores in-process (`score_captions`) with the same code. The scores are the
same either way (tests/test_caption_service.py).

Protocol: one JSON object per line. To the process: {"op": "begin", "corpus": n, "references": [[id,
[captions]], ...]}, {"op": "add", "corpus": n, "predictions": [[id, caption], ...]}, {"op": "finish",
"corpus": n, "order": [ids], "spice": bool, "skipped": {...}}. From it, one answer per finish: {"ok": true,
"corpus": n, "scores": {...}, "per_image": {metric: [scores in order]}, "skipped": {...}} or {"ok": false,
"error": "...", "user_error": bool}. Ids travel as JSON ints or strings, which keeps their type.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from kosmos_eval.core.progress import notice
from kosmos_eval.errors import UserError

log = logging.getLogger(__name__)


class CaptionStream:
    """One run's corpus in the scoring process: `add` captions as they are made, `finish` for the scores."""

    def __init__(self, service: ScoringProcess, number: int, references: dict[Any, list[str]]) -> None:
        self.service, self.number, self.references = service, number, references
        self.sent: dict[Any, str] = {}

    def add(self, predictions: Mapping[Any, str]) -> None:
        """Send the captions not sent yet (or changed); never raises: a failed send only means `finish` will
        answer None and the run scores in-process."""
        new = [[image_id, text] for image_id, text in predictions.items() if self.sent.get(image_id) != text]
        if new and self.service.send({"op": "add", "corpus": self.number, "predictions": new}):
            self.sent.update(predictions)

    def finish(
        self,
        predictions: Mapping[Any, str],
        references: Mapping[Any, Sequence[str]],
        run_spice: bool,
        skipped: dict[str, str],
    ) -> Any:
        """The CaptionScores of these records (images in the order of `references`), or None when the process
        cannot give them (the caller scores in-process)."""
        from kosmos_eval.metrics.captioning import CaptionScores

        if {image_id: list(refs) for image_id, refs in references.items()} != self.references:
            return None  # other references than the ones the process was told about
        self.add(predictions)
        order = list(references)
        message = {"op": "finish", "corpus": self.number, "order": order, "spice": run_spice, "skipped": skipped}
        answer = self.service.ask(message)
        if answer is None or answer.get("corpus") != self.number:
            return None
        if not answer["ok"]:
            if answer.get("user_error"):
                raise UserError(answer["error"])
            log.warning("the caption scoring process failed (%s); scoring in this process", answer["error"])
            return None
        per_image = {name: dict(zip(order, values, strict=True)) for name, values in answer["per_image"].items()}
        return CaptionScores(corpus=answer["scores"], per_image=per_image, skipped=answer["skipped"])


class ScoringProcess:
    """The client side: the child process, its pipes, and a lock so that one message goes at a time."""

    def __init__(self) -> None:
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (the child's stderr, read when it dies)
        package_root = str(Path(__file__).resolve().parents[2])  # the worker runs this very copy of the code
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kosmos_eval.metrics.caption_service"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            env=env,
        )
        self.lock = threading.Lock()
        self.corpora = 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def begin(self, references: Mapping[Any, Sequence[str]]) -> CaptionStream | None:
        with self.lock:
            self.corpora += 1
            number = self.corpora
        copied = {image_id: list(refs) for image_id, refs in references.items()}
        if not self.send({"op": "begin", "corpus": number, "references": [[k, v] for k, v in copied.items()]}):
            return None
        return CaptionStream(self, number, copied)

    def send(self, message: dict[str, Any]) -> bool:
        line = (json.dumps(message) + "\n").encode()
        with self.lock:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(line)
                self.process.stdin.flush()
                return True
            except (OSError, ValueError):  # a dead child or a closed pipe
                return False

    def ask(self, message: dict[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            try:
                assert self.process.stdin is not None and self.process.stdout is not None
                self.process.stdin.write((json.dumps(message) + "\n").encode())
                self.process.stdin.flush()
                line = self.process.stdout.readline()
            except (OSError, ValueError):
                line = b""
        if not line:
            self.errors.seek(0)
            tail = self.errors.read().decode(errors="replace").strip().splitlines()[-1:]
            log.warning("the caption scoring process ended (%s); scoring in this process", tail or "no message")
            return None
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.errors.close()


_shared: ScoringProcess | None = None
_shared_lock = threading.Lock()


def shared_process() -> ScoringProcess | None:
    """The process-wide scoring process, started on first use and again if it has died; None if it cannot
    start (the run then scores in-process)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive():
            notice(log, "starting the caption scorer (COCOEvalCap with Java) in the background")
            try:
                _shared = ScoringProcess()
            except OSError as exc:
                log.warning("could not start the caption scoring process (%s); scoring in this process", exc)
                _shared = None
        return _shared


def begin(references: Mapping[Any, Sequence[str]]) -> CaptionStream | None:
    """A new corpus (a run's images and their references) in the shared process."""
    service = shared_process()
    return service.begin(references) if service is not None else None


@atexit.register
def _close_shared() -> None:
    if _shared is not None:
        _shared.close()


# ---- the scoring process itself -----------------------------------------------------------------------------


class _Corpus:
    """The worker's state for one run: its references (prepared once), and each caption's per-image scores."""

    def __init__(self, number: int, references: dict[Any, list[str]]) -> None:
        self.number, self.raw_references = number, references
        self.references: Any = None  # caption_parts.CorpusReferences once prepared
        self.pending: dict[Any, str] = {}
        self.scores: dict[Any, Any] = {}
        self.error: tuple[str, bool] | None = None

    def work(self, tokenizer: Any) -> None:
        """Prepare the references if not done yet and score the captions waiting; the first failure is kept
        and answered at `finish`."""
        from kosmos_eval.metrics import caption_parts

        if self.error is not None:
            return
        try:
            if self.references is None:
                ids = list(self.raw_references)
                flat = tokenizer.tokenize([ref for image_id in ids for ref in self.raw_references[image_id]])
                tokens, cursor = {}, 0
                for image_id in ids:
                    count = len(self.raw_references[image_id])
                    tokens[image_id], cursor = flat[cursor : cursor + count], cursor + count
                self.references = caption_parts.prepare_references(tokens)
            if self.pending:
                waiting, self.pending = self.pending, {}
                hypotheses = dict(zip(waiting, tokenizer.tokenize(list(waiting.values())), strict=True))
                self.scores.update(caption_parts.score_hypotheses(self.references, hypotheses))
        except Exception as exc:  # answered at finish; the run then scores in-process
            self.error = (str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}", False)

    def add(self, predictions: list[list[Any]]) -> None:
        for image_id, text in predictions:
            if image_id not in self.raw_references:
                self.error = self.error or (f"image {image_id!r} is not in this corpus", False)
                continue
            self.pending[image_id] = text
            self.scores.pop(image_id, None)

    def finish(self, message: dict[str, Any], tokenizer: Any) -> dict[str, Any]:
        from kosmos_eval.metrics.captioning import finish_scores

        self.work(tokenizer)
        order = message["order"]
        if self.error is None and (set(order) != set(self.raw_references) or set(order) != set(self.scores)):
            self.error = ("the finished corpus does not cover the images it began with", False)
        if self.error is not None:
            return {"ok": False, "corpus": self.number, "error": self.error[0], "user_error": self.error[1]}
        try:
            result = finish_scores(self.references, self.scores, order, message["spice"], message["skipped"])
        except UserError as exc:  # e.g. SPICE failed: the same error the in-process path would raise
            return {"ok": False, "corpus": self.number, "error": str(exc), "user_error": True}
        per_image = {name: [values[image_id] for image_id in order] for name, values in result.per_image.items()}
        return {"ok": True, "corpus": self.number, "scores": result.corpus, "per_image": per_image,
                "skipped": result.skipped}  # fmt: skip


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Answer the protocol's messages until stdin closes. Captions are scored whenever no message waits, so
    each batch is what arrived while the previous one was scored."""
    from kosmos_eval.metrics import meteor, ptb

    messages: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read() -> None:  # a reader thread: the client's writes never wait for scoring
        for line in stdin:
            messages.put(json.loads(line))
        messages.put(None)

    threading.Thread(target=read, daemon=True).start()
    meteor.start_in_background()
    tokenizer = ptb.WarmTokenizer()
    corpus: _Corpus | None = None
    try:
        while True:
            batch = [messages.get()]
            while not messages.empty():
                batch.append(messages.get())
            for message in batch:
                if message is None:
                    return
                if message["op"] == "begin":
                    corpus = _Corpus(message["corpus"], {image_id: refs for image_id, refs in message["references"]})
                elif corpus is None or message["corpus"] != corpus.number:
                    if message["op"] == "finish":  # a corpus this process no longer holds
                        answer = {"ok": False, "corpus": message["corpus"], "error": "unknown corpus"}
                        stdout.write((json.dumps(answer) + "\n").encode())
                        stdout.flush()
                elif message["op"] == "add":
                    corpus.add(message["predictions"])
                elif message["op"] == "finish":
                    stdout.write((json.dumps(corpus.finish(message, tokenizer)) + "\n").encode())
                    stdout.flush()
                    corpus = None
            if corpus is not None and messages.empty():
                corpus.work(tokenizer)
    finally:
        tokenizer.close()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
