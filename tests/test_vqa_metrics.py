"""VQAv2 / VizWiz accuracy and VizWiz answerability on hand-computed cases, quirks of the official scripts
included (see docs/metrics/vqa.md)."""

from __future__ import annotations

import pytest

from kosmos_eval.metrics.vqa import (
    answer_means_unanswerable,
    breakdown,
    normalize_vizwiz_answer,
    normalize_vqa_answer,
    postprocess_generated_answer,
    predicted_unanswerable,
    unanswerable_average_precision,
    unanswerable_f1,
    unanswerable_scores,
    vizwiz_accuracy,
    vqa_accuracy,
)

CURLY = "\u2019"


def _answers(matching: str, k: int, other: str = "cat", n: int = 10) -> list[str]:
    return [matching] * k + [other] * (n - k)


@pytest.mark.parametrize(
    ("k", "expected"),
    # leave-one-out: k annotators left out see k-1 matches, the other 10-k see k; each earns min(1, m/3)
    [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)],
)
def test_partial_credit_over_ten_leave_one_out_subsets(k, expected):
    assert vqa_accuracy("dog", _answers("dog", k)) == expected


def test_partial_credit_with_fewer_answers():
    # 5 answers, 2 match: (2 * min(3, 1) + 3 * min(3, 2)) / (3 * 5) = 8/15
    assert vqa_accuracy("dog", ["dog", "dog", "cat", "cow", "pig"]) == 8 / 15
    assert vqa_accuracy("dog", ["dog"]) == 0.0  # one answer: the only subset left has no answer
    with pytest.raises(ValueError, match="at least one reference answer"):
        vqa_accuracy("dog", [])


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("yes.", "yes"),
        ("Yes!", "yes"),  # '!' not next to a space: becomes a space, then split away
        ("1,000", "1000"),  # digit,digit anywhere: every listed mark is deleted, not spaced
        ("1,000-2,000", "10002000"),
        ("red,white", "red white"),  # no digit,digit and no space next to ',': a space
        ("red, white", "red white"),  # ', ' present: deleted
        ("3.5", "3.5"),  # a period before a digit is kept ...
        ("3.5.", "3.5"),  # ... one before anything else goes
        ("no.1", "no.1"),  # even without a digit before it (the upstream look-behind is a typo)
        ("a.m.", "am"),
        ("2:30 p.m.", "2:30 pm"),  # colons are not in the punctuation list
        ("girl's", "girl's"),  # nor apostrophes
        ("two", "2"),
        ("Two Dogs", "2 dogs"),
        ("none", "0"),
        ("ten", "10"),
        ("eleven", "eleven"),
        ("a dog", "dog"),
        ("The  Dog ", "dog"),
        ("the", ""),
        ("dont", "don't"),
        ("Dont know", "don't know"),
        ("Im", "im"),  # the table's capitalised keys never match: words are lower-cased first
        ("somebody'd", "somebodyd"),  # a reversed entry of the upstream table, kept
        ("couldnt've", "couldn't've"),
        ("\tyes\n", "yes"),
    ],
)
def test_vqa_normalisation(raw, normalized):
    assert normalize_vqa_answer(raw) == normalized


def test_only_the_first_32_periods_are_removed():
    # upstream passes re.UNICODE (32) where re.sub takes `count`
    assert normalize_vqa_answer("a." * 40) == "a" * 32 + "a." * 8


def test_identical_answers_skip_normalisation():
    ten_yes = ["yes"] * 10
    nine_yes = ["yes"] * 9 + ["no"]
    assert vqa_accuracy("yes.", ten_yes) == 0.0  # exact comparison when all ten agree
    assert vqa_accuracy("yes.", nine_yes) == 1.0  # normalised when they do not
    assert vqa_accuracy("Yes", ten_yes) == 0.0
    assert vqa_accuracy("Yes", nine_yes) == 1.0
    assert vqa_accuracy(" yes\n", ten_yes) == 1.0  # whitespace clean-up always happens
    # identity is checked after the clean-up: "yes " makes no difference
    assert vqa_accuracy("Yes", ["yes"] * 9 + ["yes "]) == 0.0
    assert vqa_accuracy("2", ["two"] * 10) == 0.0
    assert vqa_accuracy("2", ["two"] * 9 + ["three"]) == 1.0


def test_normalisation_applies_to_both_sides():
    answers = ["two"] * 3 + ["2 dogs"] * 7
    assert vqa_accuracy("2", answers) == 0.9  # "two" -> "2": 3 matches
    assert vqa_accuracy("a dog", ["dog", "dog"] + ["cat"] * 8) == 0.6
    assert vqa_accuracy("dont know", ["don't know"] * 4 + ["no"] * 6) == 1.0


def test_vizwiz_normalises_the_prediction_only():
    # all ten agree: VQAv2 compares exactly, VizWiz still normalises the prediction
    assert vqa_accuracy("yes.", ["yes"] * 10) == 0.0
    assert vizwiz_accuracy("yes.", ["yes"] * 10) == 1.0
    # answers are never normalised: a capitalised human answer can never be matched
    assert vqa_accuracy("Yes", ["Yes"] * 10) == 1.0
    assert vizwiz_accuracy("Yes", ["Yes"] * 10) == 0.0
    assert vizwiz_accuracy("Unanswerable.", ["unanswerable"] * 6 + ["blue"] * 4) == 1.0
    assert vizwiz_accuracy("two", ["2"] * 2 + ["3"] * 8) == 0.6
    assert vizwiz_accuracy("blue", ["blue "] * 10) == 0.0  # not even stripped


def test_vizwiz_contractions_use_curly_apostrophes():
    assert normalize_vizwiz_answer("dont") == f"don{CURLY}t"
    assert vizwiz_accuracy("dont", ["don't"] * 10) == 0.0
    assert vizwiz_accuracy("dont", [f"don{CURLY}t"] * 10) == 1.0
    # the entries that kept ASCII apostrophes upstream
    assert normalize_vizwiz_answer("cant") == "can't"
    assert normalize_vizwiz_answer("whove") == "who've"
    assert normalize_vizwiz_answer("couldn'tve") == f"couldn{CURLY}t{CURLY}ve"  # ASCII key, curly value
    assert normalize_vizwiz_answer("couldnt've") == "couldnt've"  # its key has a curly apostrophe
    assert normalize_vqa_answer("couldn'tve") == "couldn't've"


def test_digit_rules_ascii_for_vqav2_unicode_for_vizwiz():
    arabic = "\u0663,\u0664"  # Arabic-Indic 3,4: a digit pair only in Python 3's \d (the VizWiz script)
    assert normalize_vqa_answer(arabic) == "\u0663 \u0664"
    assert normalize_vizwiz_answer(arabic) == "\u0663\u0664"


def test_answer_means_unanswerable():
    assert answer_means_unanswerable(" Unanswerable.")
    assert not answer_means_unanswerable("unanswerable question")


@pytest.mark.parametrize(
    ("generated", "answer"),
    [
        (" two\nQuestion: what is it? Answer: a cat", "two"),
        ("yes Question: is it red?", "yes"),
        ("\n  a red car \n\n", "a red car"),
        ("", ""),
        ("Question: why?", ""),
    ],
)
def test_postprocess_generated_answer(generated, answer):
    assert postprocess_generated_answer(generated) == answer


def test_breakdown_means_and_counts_per_group():
    result = breakdown([1.0, 0.0, 0.3, 0.9, 0.6], ["yes/no", "yes/no", "number", "other", "number"])
    assert list(result) == ["number", "other", "yes/no"]
    assert result["yes/no"] == (0.5, 2)
    assert result["other"] == (0.9, 1)
    assert result["number"][1] == 2 and result["number"][0] == pytest.approx(0.45, abs=1e-15)
    with pytest.raises(ValueError, match="one group per value"):
        breakdown([1.0], [])


def test_average_precision_hand_computed():
    # thresholds 0.9 / 0.8 / 0.7 / 0.6: (P, R) = (1, .5) (.5, .5) (2/3, 1) (.5, 1) -> .5*1 + .5*2/3 = 5/6
    assert unanswerable_average_precision([0.9, 0.8, 0.7, 0.6], [True, False, True, False]) == pytest.approx(5 / 6)
    # tied scores enter together: 0.5 -> (P, R) = (1/2, 1/2), 0.2 -> (2/3, 1): .5*.5 + .5*2/3 = 7/12
    assert unanswerable_average_precision([0.5, 0.5, 0.2], [True, False, True]) == pytest.approx(7 / 12)
    # a perfect ranking, a reversed one, and no positives at all (scikit-learn returns 0.0)
    assert unanswerable_average_precision([0.9, 0.1], [True, False]) == 1.0
    assert unanswerable_average_precision([0.1, 0.9], [True, False]) == 0.5
    assert unanswerable_average_precision([0.1, 0.9], [False, False]) == 0.0
    with pytest.raises(ValueError, match="equal lengths"):
        unanswerable_average_precision([0.1], [True, False])


def test_f1_hand_computed():
    assert unanswerable_f1([True, True, False, False], [True, False, True, False]) == 0.5  # 2 / (2 + 1 + 1)
    assert unanswerable_f1([True, True, True], [True, True, False]) == 0.8  # 4 / (4 + 1)
    assert unanswerable_f1([False, False], [False, False]) == 0.0  # nothing to find: scikit-learn's 0.0
    assert unanswerable_f1([False, False], [True, False]) == 0.0


def test_answerable_confidence_to_unanswerability():
    assert unanswerable_scores([0.25, 1, 0]) == [0.75, 0.0, 1.0]
    # unanswerable where 1 - answerable > 0.5: exactly 0.5 counts as answerable
    assert predicted_unanswerable([0.2, 0.5, 0.7, 0.49]) == [True, False, False, True]
    answerable = [0.1, 0.6, 0.3, 0.9]
    labels = [True, True, False, False]  # unanswerable = answerable == 0
    scores = unanswerable_scores(answerable)  # 0.9, 0.4, 0.7, 0.1 -> ranking T F T F
    assert unanswerable_average_precision(scores, labels) == pytest.approx(5 / 6)
    assert unanswerable_f1(predicted_unanswerable(answerable), labels) == 0.5
