"""The PTB tokenisation COCOEvalCap applies to captions, with pycocoevalcap's own Stanford CoreNLP 3.4.1 jar.

What it does, as pycocoevalcap's PTBTokenizer does it: every caption becomes one line, the jar's
`edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase` tokenises each line on its own, and tokens
that are pure punctuation ('' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;) are dropped; each caption
comes back as its tokens joined by single spaces. Differences, none of which changes a token: the captions
go to the jar's standard input instead of a file in the package's own folder (which may be read-only), a run
may tokenise references and predictions in one Java start or in batches (lines are independent), a
`WarmTokenizer` keeps the next tokenizer started before its batch exists, and besides "\\n" every character
Java ends a line at is made a space, since one would split a caption in two and shift every later caption
onto the wrong image. The output equals pycocoevalcap's (tests/test_caption_java.py).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kosmos_eval.errors import UserError

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
    lines = [JAVA_LINE_BREAKS.sub(" ", caption) for caption in captions]
    process = process or start_tokenizer()
    stdout, stderr = process.communicate("\n".join(lines).encode("utf-8"))
    if process.returncode != 0:
        first = stderr.decode(errors="replace").strip().splitlines()[:1]
        raise UserError(f"the PTB tokenizer (java -cp {JAR}) exited with status {process.returncode}: {first}")
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


class WarmTokenizer:
    """Tokenises batch after batch with no Java start in the way: one tokenizer is always started and waiting,
    and each batch takes it and starts the next (a streamed run tokenises each step's captions as it ends)."""

    def __init__(self) -> None:
        self.spare: subprocess.Popen | None = start_tokenizer()

    def tokenize(self, captions: Sequence[str]) -> list[str]:
        if not captions:
            return []
        process, self.spare = self.spare, None
        try:
            return tokenize_lines(captions, process)
        finally:
            self.spare = start_tokenizer()

    def close(self) -> None:
        if self.spare is not None:
            self.spare.kill()
            self.spare.communicate()
            self.spare = None
