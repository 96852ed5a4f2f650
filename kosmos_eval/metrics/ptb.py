"""The PTB tokenisation COCOEvalCap applies to captions, with pycocoevalcap's own Stanford CoreNLP 3.4.1 jar.

What it does, as pycocoevalcap's PTBTokenizer does it: every caption becomes one line, the jar's
`edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase` tokenises each line on its own, and tokens
that are pure punctuation ('' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;) are dropped; each caption
comes back as its tokens joined by single spaces. Differences, none of which changes a token: references and
predictions are tokenised in one Java start instead of two (lines are independent), the input file goes to a
temporary folder instead of the package's own (which may be read-only), and besides "\\n" every character
Java ends a line at is made a space, since one would split a caption in two and shift every later caption
onto the wrong image. The output equals pycocoevalcap's (tests/test_caption_java.py).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
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
    lines = [
        JAVA_LINE_BREAKS.sub(" ", caption) for group in groups for captions in group.values() for caption in captions
    ]
    with tempfile.TemporaryDirectory(prefix="kosmos-eval-ptb-") as scratch:
        source = Path(scratch) / "captions.txt"
        source.write_text("\n".join(lines), encoding="utf-8")
        command = ["java", "-cp", str(jar_path()), "edu.stanford.nlp.process.PTBTokenizer"]
        try:
            done = subprocess.run(
                [*command, "-preserveLines", "-lowerCase", str(source)], capture_output=True, check=False
            )
        except OSError as exc:
            raise UserError(f"the PTB tokenizer (java -cp {JAR}) could not start: {exc}") from exc
    if done.returncode != 0:
        first = done.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise UserError(f"the PTB tokenizer (java -cp {JAR}) exited with status {done.returncode}: {first}")
    output = done.stdout.decode("utf-8").split("\n")
    if len(output) < len(lines) or any(output[len(lines) :]):
        raise UserError(
            f"the PTB tokenizer (java, {jar_path()}) returned {len(output)} lines for {len(lines)} captions; "
            "check that `java -version` works and the jar is readable"
        )
    tokens = iter(output)
    tokenized = []
    for group in groups:
        tokenized.append(
            {
                image_id: [
                    " ".join(w for w in next(tokens).rstrip().split(" ") if w not in PUNCTUATION) for _ in captions
                ]
                for image_id, captions in group.items()
            }
        )
    return tokenized
