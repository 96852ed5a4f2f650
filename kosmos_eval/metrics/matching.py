"""Matching a generated answer to one of a few candidate names (classification with descriptions, §4.7.1).

The paper's Figure 1 shows the model answering "Downy" for the candidate "downy woodpecker", so exact string
equality would be too strict. The rule, applied to normalised text (lower case, every run of characters
other than letters, digits and apostrophes turned into one space):

1. the answer equals one candidate's name;
2. else the answer contains exactly one candidate's full name as whole words ("a downy woodpecker");
3. else the answer contains a word that only one candidate's name has: a word of that name that is in no
   other candidate's name and not in the general category ("downy", "three toed"; "woodpecker" decides
   nothing).

Anything else (no candidate, or several at the same step) is unmatched and scored wrong, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SEPARATORS = re.compile(r"[^a-z0-9']+")


def normalise_answer(text: str) -> str:
    return _SEPARATORS.sub(" ", text.lower()).strip()


def match_candidate(answer: str, names: Sequence[str], general_category: str = "") -> int | None:
    """Index of the candidate the answer names, or None (see the module docstring for the rule)."""
    text = normalise_answer(answer)
    if not text:
        return None
    normalised = [normalise_answer(name) for name in names]
    exact = [i for i, name in enumerate(normalised) if text == name]
    if len(exact) == 1:
        return exact[0]
    padded = f" {text} "
    contained = [i for i, name in enumerate(normalised) if name and f" {name} " in padded]
    if len(contained) == 1:
        return contained[0]
    if contained:
        return None
    shared = set(normalise_answer(general_category).split())
    words = set(text.split())
    hits = []
    for i, name in enumerate(normalised):
        others = {word for j, other in enumerate(normalised) if j != i for word in other.split()}
        distinctive = set(name.split()) - others - shared
        if distinctive & words:
            hits.append(i)
    return hits[0] if len(hits) == 1 else None
