"""Binary classification metrics: ROC AUC (HatefulMemes' official metric) with a bootstrap interval, and the
yes/no probability a zero-shot model's log-likelihoods turn into a score.

ROC AUC is computed exactly as the Mann-Whitney statistic: the probability that a randomly drawn positive
scores higher than a randomly drawn negative, a tie counting one half. This is the same number as the
trapezoidal area under the full ROC curve (sklearn's ``roc_auc_score``) and as the rank-sum formula with
average ranks, but it needs no per-threshold curve. Scores are first mapped to tie groups (distinct values in
ascending order); everything after that is counting per group, which is what lets the bootstrap recompute
thousands of AUCs at once: a resample is just a vector of how many times each example was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kosmos_eval.metrics.base import DEFAULT_RESAMPLES, MetricValue, map_resample_blocks

# Resamples handled per vectorised step: at most _RESAMPLE_CHUNK rows (enough to make numpy's per-call overhead
# negligible), and fewer where the rows are long, so that no array of a step holds more than _CHUNK_ELEMENTS
# numbers (8 MB; a step holds about six such arrays) whatever n is: 256 rows of a 100k-example split would be
# 200 MB per array. One row per step where n alone is larger.
_RESAMPLE_CHUNK = 256
_CHUNK_ELEMENTS = 1_000_000


def _checked_inputs(scores: Sequence[float], labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Scores as float64 and labels as a boolean "is positive" array, after the checks every caller needs."""
    score_array = np.asarray(scores, dtype=np.float64).reshape(-1)
    label_array = np.asarray(labels).reshape(-1)
    if score_array.shape != label_array.shape:
        raise ValueError(
            f"ROC AUC needs one label per score, got {len(score_array)} scores and {len(label_array)} labels"
        )
    if np.isnan(score_array).any():
        raise ValueError(f"ROC AUC scores contain NaN (first at index {int(np.argmax(np.isnan(score_array)))})")
    if label_array.size and not np.isin(label_array, (0, 1)).all():
        bad = label_array[~np.isin(label_array, (0, 1))][0]
        raise ValueError(f"ROC AUC labels must be 0 or 1, got {bad!r}")
    positive = label_array.astype(bool)
    positives = int(positive.sum())
    if positives == 0 or positives == len(positive):
        present = "no examples" if len(positive) == 0 else f"only label {int(positive[0])} ({len(positive)} examples)"
        raise ValueError(f"ROC AUC is undefined with a single class: {present}; it needs both positives and negatives")
    return score_array, positive


def _auc_from_group_counts(positive_counts: np.ndarray, negative_counts: np.ndarray) -> np.ndarray:
    """AUC per row from per-tie-group counts (groups in ascending score order, one row per weighting).

    Each positive in group g beats every negative in groups below g and ties (half credit) with the negatives
    in g: sum_g P[g] * (N[< g] + N[g] / 2), divided by the number of positive-negative pairs. Rows with no
    positives or no negatives come out NaN.
    """
    negatives_below_or_equal = np.cumsum(negative_counts, axis=-1)
    wins = (positive_counts * (negatives_below_or_equal - 0.5 * negative_counts)).sum(axis=-1)
    pairs = positive_counts.sum(axis=-1) * negative_counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1.0), np.nan)


def auc_or_nan(rows: np.ndarray) -> float:
    """ROC AUC of (score, label) rows, NaN where one class is missing (a bootstrap draw may hold one only)."""
    labels = rows[:, 1].astype(int)
    if labels.min() == labels.max():
        return float("nan")
    return roc_auc(rows[:, 0], labels)


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Exact area under the ROC curve (higher score = more likely positive), ties counting one half.

    Raises ValueError when only one class is present (the AUC does not exist), when lengths differ, when a
    label is not 0/1 or a score is NaN.
    """
    score_array, positive = _checked_inputs(scores, labels)
    distinct, group = np.unique(score_array, return_inverse=True)
    positive_counts = np.bincount(group[positive], minlength=len(distinct)).astype(np.float64)
    negative_counts = np.bincount(group[~positive], minlength=len(distinct)).astype(np.float64)
    return float(_auc_from_group_counts(positive_counts, negative_counts))


def resampled_aucs(scores: Sequence[float], labels: Sequence[int], indices: np.ndarray) -> np.ndarray:
    """The AUC of each resample, where row r of `indices` lists the example indices drawn for resample r.

    Vectorised: the examples are grouped by score once; each resample becomes per-group positive/negative
    counts (one `bincount` for a whole chunk of resamples), and the AUC of every row follows from cumulative
    sums. Rows that drew a single class are NaN (their AUC does not exist). Public so tests can check it
    against `roc_auc` on each resample.
    """
    score_array, positive = _checked_inputs(scores, labels)
    indices = np.asarray(indices)
    if indices.ndim != 2:
        raise ValueError(f"indices must be a 2-D array (resamples x drawn examples), got shape {indices.shape}")
    return _ScoreGroups(score_array, positive).aucs(indices)


class _ScoreGroups:
    """Examples grouped by score once (a sort), so that each block of resamples only counts.

    Each example gets one code: its score group, offset by `groups` for positives, so a single bincount per
    row yields the negative counts (first half) and positive counts (second half).
    """

    def __init__(self, score_array: np.ndarray, positive: np.ndarray) -> None:
        distinct, group = np.unique(score_array, return_inverse=True)
        self.groups = len(distinct)
        self.code = group + self.groups * positive

    def aucs(self, indices: np.ndarray) -> np.ndarray:
        """The AUC of each row of `indices`, a chunk of rows at a time (memory bounded as _CHUNK_ELEMENTS says).

        Every row's AUC is computed from its own integer counts, so the chunking changes no digit.
        """
        groups, width = self.groups, indices.shape[1]
        step = max(1, min(_RESAMPLE_CHUNK, _CHUNK_ELEMENTS // max(width, 2 * groups, 1)))
        aucs = np.empty(len(indices), dtype=np.float64)
        for start in range(0, len(indices), step):
            chunk = indices[start : start + step]
            rows = len(chunk)
            flat = self.code[chunk]
            flat += (2 * groups) * np.arange(rows)[:, None]
            counts = np.bincount(flat.ravel(), minlength=rows * 2 * groups).reshape(rows, 2, groups)
            del flat
            aucs[start : start + rows] = _auc_from_group_counts(counts[:, 1].astype(np.float64), counts[:, 0])
        return aucs


def auc_metric(
    scores: Sequence[float],
    labels: Sequence[int],
    seed: int,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> MetricValue:
    """ROC AUC with a seeded percentile bootstrap interval over examples.

    Each resample draws n examples with replacement (`map_resample_blocks`, as everywhere in metrics: seeded,
    and a block of resamples at a time, so memory does not grow with resamples x n) and recomputes the AUC.
    Resamples that drew a single class have no AUC and are skipped; if more than half of them would be
    skipped (tiny or extremely unbalanced sets) the interval is reported as None rather than one that
    describes a biased subset of resamples.
    """
    score_array, positive = _checked_inputs(scores, labels)
    value = roc_auc(score_array, positive.astype(np.int64))
    n = len(score_array)
    grouped = _ScoreGroups(score_array, positive)
    # the draw comes in blocks of rows (map_resample_blocks): the same numbers as one (resamples x n) matrix
    aucs = map_resample_blocks(n, seed, resamples, grouped.aucs)
    usable = aucs[~np.isnan(aucs)]
    if len(usable) * 2 < resamples:
        return MetricValue(value, None, None, n)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(usable, [tail, 1.0 - tail])
    return MetricValue(value, float(low), float(high), n)


def yes_probability(logprob_yes: float, logprob_no: float) -> float:
    """P(yes) / (P(yes) + P(no)) from two natural-log probabilities, without leaving log space.

    Equal to sigmoid(logprob_yes - logprob_no); written in the branch that never exponentiates a positive
    number, so log-probabilities like -1000 and -1001 (whose exp() underflows to 0) still give 1/(1+e^-1).
    Raises ValueError for NaN or when both are -inf (the model gave neither answer any probability).
    """
    if np.isnan(logprob_yes) or np.isnan(logprob_no):
        raise ValueError(f"yes_probability got NaN log-probabilities ({logprob_yes}, {logprob_no})")
    if logprob_yes == float("-inf") and logprob_no == float("-inf"):
        raise ValueError("yes_probability is undefined when both log-probabilities are -inf")
    if logprob_yes == logprob_no:  # also covers both +inf, where the difference would be NaN
        return 0.5
    difference = float(logprob_yes) - float(logprob_no)
    if difference >= 0:
        return float(1.0 / (1.0 + np.exp(-difference)))
    ratio = float(np.exp(difference))
    return ratio / (1.0 + ratio)
