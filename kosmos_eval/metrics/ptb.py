"""The PTB tokenisation COCOEvalCap applies to captions, with pycocoevalcap's own Stanford CoreNLP 3.4.1 jar.

What it does, as pycocoevalcap's PTBTokenizer does it: every caption becomes one line, the jar's
`edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase` tokenises each line on its own, and tokens
that are pure punctuation ('' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;) are dropped; each caption
comes back as its tokens joined by single spaces. Differences, none of which changes a token: the captions
go to the jar's standard input instead of a file in the package's own folder (which may be read-only), a run
may tokenise references and predictions in one Java start or in batches (lines are independent), a
`WarmTokenizer` tokenises batch after batch in one JVM (java/PtbServer.java, which calls the jar's
command-line entry point per batch) or keeps the next tokenizer started before its batch exists, and
besides "\\n" every character Java ends a line at is made a space, since one would split a caption in two and
shift every later caption onto the wrong image. The output equals pycocoevalcap's (tests/test_caption_java.py).
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kosmos_eval.errors import UserError

log = logging.getLogger(__name__)

JAR = "stanford-corenlp-3.4.1.jar"
PUNCTUATION = frozenset(
    {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}
)
JAVA_LINE_BREAKS = re.compile("[\n\r\u2028\u2029\x0b\x0c]")


def jar_path() -> Path:
    from importlib import import_module

    folder = Path(import_module("pycocoevalcap.tokenizer.ptbtokenizer").__file__).resolve().parent  # type: ignore[arg-type]
    return folder / JAR


def tokenize_groups(groups: Sequence[Mapping[Any, Sequence[str]]]) -> list[dict[Any, list[str]]]:
    """Each group (image id -> captions) tokenised, in one run of the tokenizer for all of them."""
    tokens = iter(tokenize_lines([caption for group in groups for captions in group.values() for caption in captions]))
    return [{image_id: [next(tokens) for _ in captions] for image_id, captions in group.items()} for group in groups]


def tokenize_lines(captions: Sequence[str], process: subprocess.Popen | None = None) -> list[str]:
    """Each caption tokenised as COCOEvalCap tokenises it, by one run of the tokenizer (`process`: one already
    started by `start_tokenizer` and still waiting for its input, else a new one)."""
    if not captions:
        return []
    lines = java_lines(captions)
    process = process or start_tokenizer()
    stdout, stderr = process.communicate("\n".join(lines).encode("utf-8"))
    if process.returncode != 0:
        first = stderr.decode(errors="replace").strip().splitlines()[:1]
        raise UserError(f"the PTB tokenizer (java -cp {JAR}) exited with status {process.returncode}: {first}")
    return tokens_of(stdout, lines)


def java_lines(captions: Sequence[str]) -> list[str]:
    """The captions as the tokenizer's input lines: any character Java ends a line at made a space."""
    return [JAVA_LINE_BREAKS.sub(" ", caption) for caption in captions]


def tokens_of(stdout: bytes, lines: Sequence[str]) -> list[str]:
    """The tokenizer's output for `lines` as one string of kept tokens per line (punctuation dropped)."""
    output = stdout.decode("utf-8").split("\n")
    if len(output) < len(lines) or any(output[len(lines) :]):
        raise UserError(
            f"the PTB tokenizer (java, {jar_path()}) returned {len(output)} lines for {len(lines)} captions; "
            "check that `java -version` works and the jar is readable"
        )
    return [" ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATION) for line in output[: len(lines)]]


def start_tokenizer() -> subprocess.Popen:
    """A tokenizer JVM reading its captions from standard input: it starts (a fifth of a second) and then
    waits, so the start can be paid before the captions exist."""
    command = ["java", "-cp", str(jar_path()), "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines"]
    try:
        return subprocess.Popen(
            [*command, "-lowerCase"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise UserError(f"the PTB tokenizer (java -cp {JAR}) could not start: {exc}") from exc


SERVER_SOURCE = Path(__file__).with_name("java") / "PtbServer.java"


class TokenizerServer:
    """One tokenizer JVM for any number of batches (java/PtbServer.java runs the jar's command-line entry
    point once per batch, so the tokens are those of `tokenize_lines`). Needs Java 11+ with its compiler
    module (a JDK), since the server runs from source; `WarmTokenizer` falls back to a JVM per batch."""

    def __init__(self) -> None:
        command = ["java", "-cp", str(jar_path()), str(SERVER_SOURCE)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def tokenize(self, captions: Sequence[str]) -> list[str]:
        """Raises OSError when the server is not (or no longer) running."""
        if not captions:
            return []
        lines = java_lines(captions)
        data = "\n".join(lines).encode("utf-8")
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(f"{len(data)}\n".encode() + data)
            stdin.flush()
            header = stdout.readline()
            if not header.strip().isdigit():
                raise OSError(f"the tokenizer server answered {header[:80]!r}")
            answer = stdout.read(int(header))
        except (OSError, ValueError) as exc:
            raise OSError(f"the PTB tokenizer server stopped: {exc}") from exc
        return tokens_of(answer, lines)

    def close(self) -> None:
        self.process.kill()
        self.process.communicate()


class WarmTokenizer:
    """Tokenises batch after batch with no Java start in the way (a streamed run tokenises each step's
    captions as it ends): one `TokenizerServer` for every batch, or where it cannot run (Java 8, a Java
    without its compiler), one tokenizer always started and waiting, which each batch takes while it starts
    the next."""

    def __init__(self) -> None:
        self.server: TokenizerServer | None = None
        self.spare: subprocess.Popen | None = None
        try:
            self.server = TokenizerServer()
        except OSError:
            self.spare = start_tokenizer()

    def tokenize(self, captions: Sequence[str]) -> list[str]:
        if not captions:
            return []
        if self.server is not None:
            try:
                return self.server.tokenize(captions)
            except OSError as exc:  # e.g. no compiler for the server's source: a JVM per batch from now on
                log.info("PTB tokenizer server unavailable (%s); one Java start per batch", exc)
                self.server.close()
                self.server = None
        process, self.spare = self.spare, None
        try:
            return tokenize_lines(captions, process)
        finally:
            self.spare = start_tokenizer()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.spare is not None:
            self.spare.kill()
            self.spare.communicate()
            self.spare = None
