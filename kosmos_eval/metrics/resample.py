"""Metrics in per-example form, and the paired bootstrap that compares two runs on the examples they share.

A corpus metric is not always a mean of per-example numbers (ROC AUC ranks all examples together), so a
metric is given as one row per example plus the statistic that turns any multiset of rows into the metric.
Resampling rows and re-applying the statistic then recomputes the metric exactly on each resample, whatever
its kind. Means get a vectorised path because they are most of the metrics and resamples are many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kosmos_eval.metrics.base import DEFAULT_RESAMPLES, map_resample_blocks


def _mean(rows: np.ndarray) -> float:
    return float(rows.mean())


@dataclass(frozen=True)
class ExampleMetric:
    """`rows[id]` is one example's contribution; `statistic(stacked rows)` is the metric of those examples.
    `is_mean` marks statistics that are the plain mean of scalar rows (resampled in one matrix operation)."""

    rows: dict[str, Any]
    statistic: Callable[[np.ndarray], float] = _mean
    is_mean: bool = True

    def value(self, ids: Sequence[str] | None = None) -> float:
        chosen = list(self.rows) if ids is None else ids
        return float(self.statistic(np.asarray([self.rows[i] for i in chosen], dtype=np.float64)))


def field_value(record: dict[str, Any], field: str) -> Any:
    """record["a"]["b"] for field "a.b"; None where any step is missing."""
    value: Any = record
    for part in field.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def mean_rows(records: Sequence[dict[str, Any]], field: str) -> ExampleMetric:
    """The metric that is the mean of `field` over the records that have it (True/False count as 1/0)."""
    rows = {}
    for record in records:
        value = field_value(record, field)
        if value is not None:
            rows[str(record["id"])] = float(value)
    return ExampleMetric(rows)


def custom_rows(rows: dict[str, Any], statistic: Callable[[np.ndarray], float]) -> ExampleMetric:
    """A metric whose statistic is not a mean (e.g. ROC AUC over (score, label) rows)."""
    return ExampleMetric(rows, statistic, is_mean=False)


@dataclass(frozen=True)
class PairedDelta:
    """candidate - baseline on the shared examples, with a percentile CI and the one-sided bootstrap p-value
    of "the candidate is not worse" (the share of resampled deltas at or above zero)."""

    baseline: float
    candidate: float
    delta: float
    ci_low: float
    ci_high: float
    p_worse: float  # small = the drop is unlikely to be resampling noise
    n: int


def paired_bootstrap(
    baseline: ExampleMetric,
    candidate: ExampleMetric,
    ids: Sequence[str],
    seed: int = 1234,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> PairedDelta:
    """Resample the shared examples with replacement (the same draw for both runs: that pairing removes the
    between-example variance both runs share) and recompute both metrics on every draw. The draw comes a block
    of resamples at a time (`map_resample_blocks`), so memory does not grow with resamples x n."""
    n = len(ids)
    if n == 0:
        raise ValueError("paired bootstrap needs at least one shared example")
    base_rows = np.asarray([baseline.rows[i] for i in ids], dtype=np.float64)
    cand_rows = np.asarray([candidate.rows[i] for i in ids], dtype=np.float64)
    differences = cand_rows - base_rows if baseline.is_mean and candidate.is_mean else None

    def block_deltas(draws: np.ndarray) -> np.ndarray:
        if differences is not None:  # means: one matrix operation per block
            return differences[draws].mean(axis=1)
        return np.array([candidate.statistic(cand_rows[row]) - baseline.statistic(base_rows[row]) for row in draws])

    deltas = map_resample_blocks(n, seed, resamples, block_deltas)
    deltas = deltas[~np.isnan(deltas)]  # e.g. ROC AUC on a draw with one class only
    base_value = float(baseline.statistic(base_rows))
    cand_value = float(candidate.statistic(cand_rows))
    tail = (1.0 - confidence) / 2.0
    if len(deltas) == 0:
        low = high = p_worse = float("nan")
    else:
        # rounding: identical runs give deltas of exactly 0 up to float noise, which must count as "not worse"
        deltas = np.round(deltas, 12)
        low, high = (float(q) for q in np.quantile(deltas, [tail, 1.0 - tail]))
        p_worse = float((np.count_nonzero(deltas >= 0) + 1) / (len(deltas) + 1))
    return PairedDelta(base_value, cand_value, cand_value - base_value, low, high, p_worse, n)
