"""ROC AUC (exact, ties as one half), its vectorised bootstrap, and the stable yes/no probability."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kosmos_eval.metrics.base import MetricValue
from kosmos_eval.metrics.classification import auc_metric, resampled_aucs, roc_auc, yes_probability


def _pairwise_auc(scores, labels) -> float:
    """Brute force definition: over all positive-negative pairs, 1 if the positive scores higher, 1/2 if tied."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    negatives = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def test_ties_across_classes_by_hand():
    # positives 0.5, 0.9; negatives 0.5, 0.2. Pairs: (0.5 vs 0.5) tie 1/2, (0.5 vs 0.2) 1, (0.9 vs 0.5) 1,
    # (0.9 vs 0.2) 1 -> 3.5 / 4 = 0.875 (sklearn's trapezoid over thresholds gives the same 0.875)
    assert roc_auc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]) == 0.875


def test_more_hand_cases():
    # positives 0.3, 0.3; negatives 0.3, 0.1, 0.4: each positive beats 0.1 (1), ties 0.3 (1/2), loses to 0.4
    # -> 2 * 1.5 / 6 = 0.5
    assert roc_auc([0.3, 0.3, 0.3, 0.1, 0.4], [1, 1, 0, 0, 0]) == 0.5
    # one positive 0.6 among negatives 0.1, 0.6, 0.7, 0.6: 1 + 1/2 + 0 + 1/2 = 2 of 4 -> 0.5
    assert roc_auc([0.1, 0.6, 0.6, 0.7, 0.6], [0, 1, 0, 0, 0]) == 0.5
    # positives 2, 3; negative 1 and 2: 2 vs 1 win, 2 vs 2 tie, 3 vs both win -> 3.5 / 4
    assert roc_auc([2, 3, 1, 2], [True, True, False, False]) == 0.875


def test_all_tied_perfect_and_inverted():
    assert roc_auc([0.7] * 5, [1, 0, 1, 0, 0]) == 0.5
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    # infinite scores are orderable: -inf positive below everything, +inf positive above
    assert roc_auc([-np.inf, 0.0, np.inf], [1, 0, 1]) == 0.5


def test_matches_pairwise_count_on_random_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(2, 40))
        labels = rng.integers(0, 2, n)
        labels[0], labels[1] = 0, 1  # both classes present
        scores = rng.integers(0, 5, n) / 4  # few distinct values: many ties within and across classes
        assert roc_auc(scores, labels) == pytest.approx(_pairwise_auc(scores, labels), abs=1e-12)


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2], [1, 1], "single class: only label 1"),
        ([0.1, 0.2], [0, 0], "single class: only label 0"),
        ([], [], "single class: no examples"),
        ([0.1, 0.2], [0, 1, 1], "one label per score"),
        ([0.1, 0.2], [0, 2], "must be 0 or 1"),
        ([0.1, float("nan")], [0, 1], "NaN"),
    ],
)
def test_bad_inputs_raise(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        roc_auc(scores, labels)


def test_resampled_aucs_equal_roc_auc_of_each_resample():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, 30) / 5
    labels = rng.integers(0, 2, 30)
    labels[:2] = (0, 1)
    indices = rng.integers(0, 30, size=(600, 30))  # more rows than one vectorised chunk (256)
    indices[5] = np.flatnonzero(labels == 1)[0]  # a single-class resample: no AUC
    aucs = resampled_aucs(scores, labels, indices)
    assert np.isnan(aucs[5])
    for row, auc in zip(indices, aucs, strict=True):
        if len(set(labels[row])) == 2:
            assert auc == pytest.approx(roc_auc(scores[row], labels[row]), abs=1e-12)


def test_auc_metric_interval_contains_value_and_is_reproducible():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + labels
    metric = auc_metric(scores, labels, seed=7)
    assert isinstance(metric, MetricValue)
    assert metric.value == roc_auc(scores, labels)
    assert metric.n == 300
    assert metric.ci_low < metric.value < metric.ci_high
    assert auc_metric(scores, labels, seed=7) == metric
    assert auc_metric(scores, labels, seed=8) != metric


def test_identical_distributions_give_about_one_half():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 1000)
    scores = rng.normal(size=2000)  # same distribution for both classes
    metric = auc_metric(scores, labels, seed=0)
    assert abs(metric.value - 0.5) < 0.04
    assert metric.ci_low < 0.5 < metric.ci_high
    assert metric.ci_high - metric.ci_low < 0.1


def test_interval_is_none_when_most_resamples_lack_a_class():
    # n=3 with one positive: a resample is single-class with probability (2/3)^3 + (1/3)^3 = 1/3 -> kept
    metric = auc_metric([0.9, 0.1, 0.2], [1, 0, 0], seed=0)
    assert metric.ci_low is not None and metric.ci_high is not None
    # n=2: each resample is single-class with probability 1/2; pick a seed that skips more than half of 10
    metric = auc_metric([0.9, 0.1], [1, 0], seed=_seed_with_many_skips(), resamples=10)
    assert metric.value == 1.0
    assert metric.ci_low is None and metric.ci_high is None


def _seed_with_many_skips() -> int:
    """A seed whose 10 resamples of 2 examples contain more than 5 single-class ones (same draw as auc_metric)."""
    for seed in range(100):
        draws = np.random.default_rng(seed).integers(0, 2, size=(10, 2))
        if (draws[:, 0] == draws[:, 1]).sum() > 5:
            return seed
    raise AssertionError("no such seed in range(100)")


def test_bootstrap_is_fast_on_ten_thousand_items():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 10_000)
    scores = rng.normal(size=10_000) + 0.5 * labels
    start = time.perf_counter()
    auc_metric(scores, labels, seed=0)  # 2000 resamples, every score distinct (the slowest case)
    assert time.perf_counter() - start < 10.0  # about 1.3 s on a laptop CPU; generous for slow CI


def test_yes_probability():
    assert yes_probability(np.log(0.3), np.log(0.1)) == pytest.approx(0.75)  # 0.3 / (0.3 + 0.1)
    assert yes_probability(-2.0, -2.0) == 0.5
    # exp(-1000) underflows to 0.0; the ratio is still e^-1000 / (e^-1000 + e^-1001) = 1 / (1 + e^-1)
    assert np.exp(-1000.0) == 0.0
    assert yes_probability(-1000.0, -1001.0) == pytest.approx(1 / (1 + np.exp(-1)))
    assert yes_probability(-1001.0, -1000.0) == pytest.approx(1 - 1 / (1 + np.exp(-1)))
    assert yes_probability(-5.0, float("-inf")) == 1.0
    assert yes_probability(float("-inf"), -5.0) == 0.0
    with pytest.raises(ValueError, match="both log-probabilities are -inf"):
        yes_probability(float("-inf"), float("-inf"))
    with pytest.raises(ValueError, match="NaN"):
        yes_probability(float("nan"), -1.0)
