"""WebSRC exact match and F1, computed the way the official WebSRC evaluation computes them.

KOSMOS-1 reports WebSRC EM and F1 "following the WebSRC paper". The official script
(X-LANCE/WebSRC-Baseline, src/utils_evaluate.py) uses SQuAD-style answer normalisation and token-overlap
F1 and averages per question over the whole set. Its scores are percentages; ours are fractions (0..1), so
multiply by 100 to compare. The tricky cases (empty answers, missing predictions) are described in
docs/metrics/websrc.md.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping
from typing import Literal

from kosmos_eval.errors import DataError

# ASCII punctuation only, as the official script uses `string.punctuation`: "®", "’" or "–" are kept.
_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLE = re.compile(r"\b(?:a|an|the)\b", re.UNICODE)
# A new "Q:" at the start of the text or after whitespace: the prompt's next question, not part of the answer.
_NEXT_QUESTION = re.compile(r"(?:^|(?<=\s))Q:")

MissingPolicy = Literal["error", "skip", "zero"]


def normalize_websrc_answer(text: str) -> str:
    """Lower-case, delete ASCII punctuation, replace the words a/an/the by spaces, collapse whitespace.

    The steps run in this order, so punctuation inside a word joins it ("the-end" -> "theend", which is then
    no longer an article) and "190.7" becomes "1907".
    """
    without_punctuation = text.lower().translate(_DROP_PUNCTUATION)
    return " ".join(_ARTICLE.sub(" ", without_punctuation).split())


def _tokens(text: str) -> list[str]:
    return normalize_websrc_answer(text).split() if text else []


def websrc_exact_match(prediction: str, gold: str) -> float:
    """1.0 when both answers normalise to the same string (two empty normalisations match), else 0.0."""
    return float(normalize_websrc_answer(prediction) == normalize_websrc_answer(gold))


def websrc_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 over normalised tokens, counting repeated tokens at most as often as both sides have
    them. When either side has no tokens the score is 1.0 if both are empty and 0.0 otherwise."""
    predicted, expected = _tokens(prediction), _tokens(gold)
    if not predicted or not expected:
        return float(predicted == expected)
    overlap = sum((Counter(predicted) & Counter(expected)).values())
    if overlap == 0:
        return 0.0
    precision = 1.0 * overlap / len(predicted)
    recall = 1.0 * overlap / len(expected)
    return (2 * precision * recall) / (precision + recall)


def score_websrc(
    predictions: Mapping[str, str], gold: Mapping[str, str], *, missing: MissingPolicy = "error"
) -> dict[str, float]:
    """Corpus EM and F1 (fractions in 0..1; the official script prints the same numbers times 100).

    Each question's EM and F1 are averaged with equal weight over all questions of `gold` (no per-domain or
    per-site weighting). Predictions for ids not in `gold` are ignored, as the official script does.
    Returns ``{"exact": ..., "f1": ..., "total": number of questions averaged}``.

    `missing` decides what a gold question without a prediction does:

    * ``"error"`` (default): raise DataError. The official script cannot finish in this case (it skips the
      question in its overall sums, then fails with a KeyError when it breaks scores down), so no official
      number exists; refusing is the faithful choice and never inflates a score.
    * ``"skip"``: leave the question out of both sums and the count, the overall numbers the official script
      computes before failing.
    * ``"zero"``: count it as EM 0 and F1 0 (the SQuAD v1.1 convention).
    """
    if missing not in ("error", "skip", "zero"):
        raise ValueError(f"missing must be 'error', 'skip' or 'zero', got {missing!r}")
    if not gold:
        raise DataError("WebSRC scoring: no gold questions to score")
    absent = [qid for qid in gold if qid not in predictions]
    if absent and missing == "error":
        shown = ", ".join(absent[:5]) + (", ..." if len(absent) > 5 else "")
        raise DataError(
            f"WebSRC scoring: {len(absent)} of {len(gold)} questions have no prediction ({shown}); "
            "predict every question, or score with missing='skip' or missing='zero'"
        )
    exact_total = f1_total = 0.0
    count = 0
    for qid, answer in gold.items():
        if qid not in predictions:
            if missing == "skip":
                continue
            count += 1  # "zero": contributes nothing to the sums
            continue
        prediction = predictions[qid]
        exact_total += websrc_exact_match(prediction, answer)
        f1_total += websrc_f1(prediction, answer)
        count += 1
    if count == 0:
        raise DataError("WebSRC scoring: no question has a prediction, nothing to average")
    return {"exact": exact_total / count, "f1": f1_total / count, "total": count}


def postprocess_generated_answer(text: str) -> str:
    """The answer part of a generation that follows the prompt's "A:".

    Keeps the text before the first newline, then cuts where a new "Q:" begins (at the start or after
    whitespace, so "FAQ:" is kept), and strips surrounding whitespace. A generation that starts with a
    newline therefore yields "", as a newline stop sequence would.
    """
    first_line = text.split("\n", 1)[0]
    match = _NEXT_QUESTION.search(first_line)
    if match:
        first_line = first_line[: match.start()]
    return first_line.strip()
