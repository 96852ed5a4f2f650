"""VQA accuracy as the official VQAv2 and VizWiz evaluation scripts compute it, plus VizWiz answerability.

Why a reimplementation: the official scripts are Python 2 era classes bound to their own file loaders, and
their answer normalisation has quirks that change scores (when normalisation is skipped, which strings are
normalised, a 32-period limit, curly apostrophes in VizWiz's contraction table). Matching them quirk for quirk
is the only way our numbers are comparable with published ones; docs/metrics/vqa.md describes every rule and
the upstream files checked.

Per-question accuracy is kept at full precision (the official scripts round to 2 decimals in percent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

# Marks the official `processPunctuation` deletes or turns into a space (no period, apostrophe, colon, #, $, %,
# &, *, ^, |, ~: those pass through; periods have their own rule).
_PUNCTUATION = frozenset(';/[]"{}()=+\\_-><@`,?!')
_NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = frozenset({"a", "an", "the"})
# The official scripts pass re.UNICODE (== 32) where re.sub expects `count`: only the first 32 periods go.
_MAX_PERIODS_REMOVED = 32

# The official contraction table as "written-without-apostrophe=>with-apostrophe" pairs. Its oddities are kept
# on purpose: capitalised keys ("Im") never match because words are lower-cased first, "somebody'd" maps to
# "somebodyd", and a few entries map a word to itself.
_VQA_CONTRACTION_PAIRS = """
aint=>ain't arent=>aren't cant=>can't couldve=>could've couldnt=>couldn't couldn'tve=>couldn't've
couldnt've=>couldn't've didnt=>didn't doesnt=>doesn't dont=>don't hadnt=>hadn't hadnt've=>hadn't've
hadn'tve=>hadn't've hasnt=>hasn't havent=>haven't hed=>he'd hed've=>he'd've he'dve=>he'd've hes=>he's howd=>how'd
howll=>how'll hows=>how's Id've=>I'd've I'dve=>I'd've Im=>I'm Ive=>I've isnt=>isn't itd=>it'd itd've=>it'd've
it'dve=>it'd've itll=>it'll let's=>let's maam=>ma'am mightnt=>mightn't mightnt've=>mightn't've
mightn'tve=>mightn't've mightve=>might've mustnt=>mustn't mustve=>must've neednt=>needn't notve=>not've
oclock=>o'clock oughtnt=>oughtn't ow's'at=>'ow's'at 'ows'at=>'ow's'at 'ow'sat=>'ow's'at shant=>shan't
shed've=>she'd've she'dve=>she'd've she's=>she's shouldve=>should've shouldnt=>shouldn't shouldnt've=>shouldn't've
shouldn'tve=>shouldn't've somebody'd=>somebodyd somebodyd've=>somebody'd've somebody'dve=>somebody'd've
somebodyll=>somebody'll somebodys=>somebody's someoned=>someone'd someoned've=>someone'd've
someone'dve=>someone'd've someonell=>someone'll someones=>someone's somethingd=>something'd
somethingd've=>something'd've something'dve=>something'd've somethingll=>something'll thats=>that's
thered=>there'd thered've=>there'd've there'dve=>there'd've therere=>there're theres=>there's theyd=>they'd
theyd've=>they'd've they'dve=>they'd've theyll=>they'll theyre=>they're theyve=>they've twas=>'twas
wasnt=>wasn't wed've=>we'd've we'dve=>we'd've weve=>we've werent=>weren't whatll=>what'll whatre=>what're
whats=>what's whatve=>what've whens=>when's whered=>where'd wheres=>where's whereve=>where've whod=>who'd
whod've=>who'd've who'dve=>who'd've wholl=>who'll whos=>who's whove=>who've whyll=>why'll whyre=>why're
whys=>why's wont=>won't wouldve=>would've wouldnt=>wouldn't wouldnt've=>wouldn't've wouldn'tve=>wouldn't've
yall=>y'all yall'll=>y'all'll y'allll=>y'all'll yall'd've=>y'all'd've y'alld've=>y'all'd've y'all'dve=>y'all'd've
youd=>you'd youd've=>you'd've you'dve=>you'd've youll=>you'll youre=>you're youve=>you've
"""
VQA_CONTRACTIONS: dict[str, str] = dict(pair.split("=>") for pair in _VQA_CONTRACTION_PAIRS.split())

# VizWiz's copy of the table has the ASCII apostrophe turned into U+2019 (’) in most entries, in keys and in
# values; these are the entries that kept the ASCII one.
_CURLY = "\u2019"
_VIZWIZ_ASCII_KEYS = frozenset({"couldn'tve", "hadn'tve"})
_VIZWIZ_ASCII_VALUES = frozenset({"aint", "arent", "cant", "couldve", "couldnt", "weve", "wheres", "whove"})
VIZWIZ_CONTRACTIONS: dict[str, str] = {
    (key if key in _VIZWIZ_ASCII_KEYS else key.replace("'", _CURLY)): (
        value if key in _VIZWIZ_ASCII_VALUES else value.replace("'", _CURLY)
    )
    for key, value in VQA_CONTRACTIONS.items()
}

# The VQAv2 script runs under Python 2, where `\d` in a pattern without re.UNICODE is ASCII only; the VizWiz
# script is Python 3 code, where `\d` is any Unicode decimal digit.
_VQA_DIGIT_COMMA_DIGIT = re.compile(r"[0-9],[0-9]")
_VQA_PERIOD = re.compile(r"\.(?![0-9])")
_VIZWIZ_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_VIZWIZ_PERIOD = re.compile(r"\.(?!\d)")

_QUESTION_CUE = "Question:"


def postprocess_generated_answer(text: str) -> str:
    """The short answer in a model's free-running output, before any official normalisation.

    Few-shot prompts end with "Answer:", and models go on past their answer: a newline, or the next
    "Question: ..." of the pattern. Leading whitespace is skipped first (an answer that starts on a new line is
    kept), then the text is cut at its first newline and at its first "Question:", and stripped.
    """
    text = text.lstrip()
    text = text.split("\n", 1)[0]
    text = text.split(_QUESTION_CUE, 1)[0]
    return text.strip()


def _clean(answer: str) -> str:
    """Both scripts' first step: tabs and newlines become spaces, then the ends are stripped."""
    return answer.replace("\n", " ").replace("\t", " ").strip()


def _process_punctuation(text: str, digit_comma_digit: re.Pattern[str], period: re.Pattern[str]) -> str:
    """Each listed mark is deleted where the text has it next to a space (or has a digit,digit anywhere),
    otherwise replaced by a space; both tests look at the text as given. Then periods not followed by a
    digit are deleted (the first 32 of them)."""
    glue_all = digit_comma_digit.search(text) is not None
    delete = {mark: glue_all or f"{mark} " in text or f" {mark}" in text for mark in set(text) & _PUNCTUATION}
    spaced = "".join(("" if delete[ch] else " ") if ch in delete else ch for ch in text)
    return period.sub("", spaced, count=_MAX_PERIODS_REMOVED)


def _process_digits_articles(text: str, contractions: dict[str, str]) -> str:
    """Lower-case, split on whitespace, number words to digits, drop articles, restore contractions, and
    join with single spaces."""
    words = []
    for word in text.lower().split():
        word = _NUMBER_WORDS.get(word, word)
        if word not in _ARTICLES:
            words.append(contractions.get(word, word))
    return " ".join(words)


def _normalize_vqa_cleaned(text: str) -> str:
    text = _process_punctuation(text, _VQA_DIGIT_COMMA_DIGIT, _VQA_PERIOD)
    return _process_digits_articles(text, VQA_CONTRACTIONS)


def normalize_vqa_answer(answer: str) -> str:
    """The full VQAv2 normalisation: whitespace clean-up, punctuation, periods, lower case, number words,
    articles, contractions. `vqa_accuracy` applies it only when the ten human answers are not all identical."""
    return _normalize_vqa_cleaned(_clean(answer))


def normalize_vizwiz_answer(answer: str) -> str:
    """VizWiz's normalisation of a predicted answer: the same steps as VQAv2's, with VizWiz's contraction
    table (mostly U+2019 apostrophes: "dont" becomes "don’t") and Unicode digits in the digit rules."""
    text = _process_punctuation(_clean(answer), _VIZWIZ_DIGIT_COMMA_DIGIT, _VIZWIZ_PERIOD)
    return _process_digits_articles(text, VIZWIZ_CONTRACTIONS)


def _leave_one_out(prediction: str, references: Sequence[str]) -> float:
    """Mean over the n leave-one-out subsets of min(1, matches among the other n-1 / 3), computed exactly:
    leaving out a matching answer leaves m-1 matches, leaving out another leaves m."""
    n = len(references)
    if n == 0:
        raise ValueError("VQA accuracy needs at least one reference answer")
    m = sum(1 for reference in references if reference == prediction)
    capped = m * min(3, m - 1) + (n - m) * min(3, m) if m else 0
    return capped / (3 * n)


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """VQAv2 accuracy of one predicted answer against the human answers, in [0, 1].

    Prediction and answers are cleaned (tabs/newlines to spaces, stripped). Only if the cleaned answers are
    not all identical are both sides normalised with `normalize_vqa_answer`'s steps; otherwise the
    comparison is exact (so "Yes" scores 0 against ten "yes"). Then every answer is left out in turn, the
    prediction earns min(1, matches among the rest / 3), and the results are averaged: with ten answers,
    1, 2, 3, 4+ matches give 0.3, 0.6, 0.9, 1.0.
    """
    references = [_clean(answer) for answer in answers]
    candidate = _clean(prediction)
    if len(set(references)) > 1:
        references = [_normalize_vqa_cleaned(reference) for reference in references]
        candidate = _normalize_vqa_cleaned(candidate)
    return _leave_one_out(candidate, references)


def vizwiz_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """VizWiz accuracy of one predicted answer, in [0, 1].

    Unlike VQAv2, the prediction is always normalised (`normalize_vizwiz_answer`) and the human answers never
    are: they are compared exactly as the annotation file stores them. Leave-one-out averaging as in VQAv2.
    """
    return _leave_one_out(normalize_vizwiz_answer(prediction), list(answers))


def breakdown(values: Sequence[float], groups: Sequence[str]) -> dict[str, tuple[float, int]]:
    """Mean value and count per group (answer type, question type), sorted by group name."""
    if len(values) != len(groups):
        raise ValueError(f"breakdown needs one group per value, got {len(values)} values and {len(groups)} groups")
    members: dict[str, list[float]] = {}
    for value, group in zip(values, groups, strict=True):
        members.setdefault(group, []).append(float(value))
    return {group: (math.fsum(items) / len(items), len(items)) for group, items in sorted(members.items())}


def _check_pair(name: str, first: Sequence[object], second: Sequence[object]) -> None:
    if len(first) != len(second):
        raise ValueError(f"{name} needs equal lengths, got {len(first)} and {len(second)}")
    if not first:
        raise ValueError(f"{name} needs at least one item")


def unanswerable_average_precision(scores: Sequence[float], unanswerable: Sequence[bool]) -> float:
    """Average precision of `scores` (higher = more likely unanswerable) for the `unanswerable` labels.

    scikit-learn's `average_precision_score`, which the VizWiz script calls: the sum over distinct score
    thresholds, from the highest down (tied scores enter together), of (recall gain) x (precision there). No
    interpolation. With no unanswerable question at all the result is 0.0 (current scikit-learn warns and
    returns 0.0). VizWiz's score is 1 - the submitted `answerable` confidence: see `unanswerable_scores`.
    """
    _check_pair("unanswerable_average_precision", scores, unanswerable)
    values = [float(score) for score in scores]
    if any(math.isnan(value) for value in values):
        raise ValueError("unanswerable_average_precision: scores contain NaN")
    positives = sum(1 for label in unanswerable if label)
    if positives == 0:
        return 0.0
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=True)
    true_pos = false_pos = 0
    previous_recall = 0.0
    total = 0.0
    start = 0
    while start < len(order):
        end = start
        while end < len(order) and values[order[end]] == values[order[start]]:
            if unanswerable[order[end]]:
                true_pos += 1
            else:
                false_pos += 1
            end += 1
        recall = true_pos / positives
        total += (recall - previous_recall) * (true_pos / (true_pos + false_pos))
        previous_recall = recall
        start = end
    return total


def unanswerable_f1(predicted_unanswerable: Sequence[bool], unanswerable: Sequence[bool]) -> float:
    """F1 of the "unanswerable" class: 2TP / (2TP + FP + FN); 0.0 when there is neither a predicted nor a
    true unanswerable question (scikit-learn's `f1_score` default). VizWiz predicts "unanswerable" where
    1 - answerable > 0.5: see `predicted_unanswerable`."""
    _check_pair("unanswerable_f1", predicted_unanswerable, unanswerable)
    pairs = [(bool(p), bool(t)) for p, t in zip(predicted_unanswerable, unanswerable, strict=True)]
    true_pos = sum(1 for p, t in pairs if p and t)
    false_pos = sum(1 for p, t in pairs if p and not t)
    false_neg = sum(1 for p, t in pairs if t and not p)
    denominator = 2 * true_pos + false_pos + false_neg
    return 2 * true_pos / denominator if denominator else 0.0


def unanswerable_scores(answerable: Sequence[float]) -> list[float]:
    """The VizWiz script's unanswerability score: 1.0 - the submitted `answerable` confidence."""
    return [1.0 - float(score) for score in answerable]


def predicted_unanswerable(answerable: Sequence[float]) -> list[bool]:
    """The VizWiz script's decision: unanswerable where 1.0 - answerable > 0.5 (so 0.5 itself is answerable)."""
    return [score > 0.5 for score in unanswerable_scores(answerable)]


def answer_means_unanswerable(answer: str) -> bool:
    """Whether a predicted answer is VizWiz's "unanswerable" label after VizWiz normalisation. For predictions
    without an explicit `answerable` confidence, 1.0 - this is used as one (our choice; see docs)."""
    return normalize_vizwiz_answer(answer) == "unanswerable"
