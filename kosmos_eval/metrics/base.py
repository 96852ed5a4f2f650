"""Metric values with 95% confidence intervals from a seeded percentile bootstrap over examples, and the
streaming metric: a corpus metric that works while the model computes.

The bootstrap resamples examples (not tokens or candidates) and recomputes the corpus statistic, so the same
machinery serves means (accuracy) and corpus metrics (CIDEr, ROC AUC) alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # only named: the metrics load without the image stack
    from kosmos_eval.core.types import Example

DEFAULT_RESAMPLES = 2000
# Resampled indices held at once by any bootstrap (8 MB; one resample where n is larger). Larger blocks are no
# faster (1M vs 4M: the same seconds at n = 100k), and a block's gathered values cost as much again.
BOOTSTRAP_BLOCK = 1_000_000


@dataclass(frozen=True)
class MetricValue:
    value: float
    ci_low: float | None  # None where no honest interval exists (e.g. corpus BLEU, see docs/metrics)
    ci_high: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self, percent: bool = True) -> str:
        scale = 100.0 if percent else 1.0
        if self.ci_low is None or self.ci_high is None:
            return f"{self.value * scale:.1f} (n={self.n})"
        return f"{self.value * scale:.1f} (95% CI {self.ci_low * scale:.1f}-{self.ci_high * scale:.1f}, n={self.n})"


class StreamingMetric(ABC):
    """A corpus metric that can do most of its work before the run ends, while the model computes.

    Why: some corpus metrics cost as much CPU at the end of a run as the model's last seconds (captioning's
    PTB tokenizer, METEOR and CIDEr-D), and the GPU would wait for them. A task names such metrics
    (`StreamingScored.streaming_metrics`, tasks/capabilities.py); the runner `begin`s each with every example
    the run will score, before the model computes anything, and `feed`s it the run's records as they are made
    (a batch's worth at a time, before their step is written), and the task's `aggregate` asks the metric for
    its scores at the end.

    Feeding only saves time: the scores come from the records `aggregate` is given, whatever was fed. A metric
    never begun (nothing left to compute, `kosmos-eval score`), fed some records only (a resumed run's earlier
    records are read from the folder, never fed) or fed records that were not the final ones must give the
    same scores, to the last bit; and `feed` never raises, so a failing helper costs time, never the run.
    """

    @abstractmethod
    def begin(self, examples: Sequence[Example]) -> None:
        """The examples this run scores (the whole selection, records already saved included)."""

    @abstractmethod
    def feed(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Records of this run, as soon as they are made; each is fed at most once per run."""


def map_resample_blocks(n: int, seed: int, resamples: int, per_block: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """`per_block` of the seeded bootstrap draw (`resamples` rows of n example indices), concatenated.

    Every bootstrap in kosmos_eval/metrics draws through here. Why blocks: the whole (resamples x n) matrix is
    1.6 GB at n = 100k, more than everything else a run holds; a block holds at most BOOTSTRAP_BLOCK indices
    (one row where n is larger) and is freed once `per_block` has turned it into one result per row (along
    axis 0). Why the result does not depend on the block size: numpy's Generator fills an integers() array
    row-major from one stream, so consecutive row blocks from one generator are exactly the rows one
    (resamples x n) call gives (tests/test_metric_memory.py pins this).
    """
    rng = np.random.default_rng(seed)
    rows = max(1, BOOTSTRAP_BLOCK // max(n, 1))
    results = []
    for start in range(0, resamples, rows):
        # passed on without a name here: the block is freed as soon as per_block returns
        results.append(per_block(rng.integers(0, n, size=(min(rows, resamples - start), n))))
    return np.concatenate(results) if results else per_block(np.empty((0, n), dtype=np.int64))


def bootstrap_ci(
    values: Sequence[Any],
    statistic: Callable[[np.ndarray], float],
    seed: int,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over resampled examples (seeded, so reproducible)."""
    data = np.asarray(values)
    n = len(data)
    if n == 0:
        return float("nan"), float("nan")
    stats = map_resample_blocks(n, seed, resamples, lambda block: np.array([statistic(data[row]) for row in block]))
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(stats, tail)), float(np.quantile(stats, 1.0 - tail))


def mean_metric(values: Sequence[float | bool], seed: int) -> MetricValue:
    """Mean of per-example values (accuracy when they are 0/1) with its bootstrap 95% CI (see `mean_metrics`)."""
    return mean_metrics({"value": values}, seed)["value"]


def mean_metrics(columns: dict[str, Sequence[float | bool]], seed: int) -> dict[str, MetricValue]:
    """`mean_metric` of several per-example columns over the same examples, drawing the resamples once.

    The bootstrap is vectorised: resampled means are computed a block of resamples at a time
    (`map_resample_blocks`), so memory stays bounded on VQAv2-size splits and the interval does not depend on
    the block size. Drawing the indices is most of the cost, and with one seed every column would draw the
    same ones, so a task's accuracy and its length-normalised accuracy share one draw; each column's interval
    is exactly what `mean_metric` gives it alone.
    """
    names = list(columns)
    if not names:
        return {}
    lengths = {name: len(columns[name]) for name in names}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"mean_metrics: columns must cover the same examples, got lengths {lengths}")
    data = np.asarray([columns[name] for name in names], dtype=np.float64).reshape(len(names), -1)
    n = data.shape[1]
    if n == 0:
        return {name: MetricValue(float("nan"), float("nan"), float("nan"), 0) for name in names}

    def block_means(indices: np.ndarray) -> np.ndarray:
        # column by column, each a 2-D mean over its rows: the summation order (so every digit) of mean_metric
        return np.stack([column[indices].mean(axis=1) for column in data], axis=1)

    means = map_resample_blocks(n, seed, DEFAULT_RESAMPLES, block_means)  # resamples x columns
    low, high = np.quantile(means, [0.025, 0.975], axis=0)
    return {name: MetricValue(float(data[i].mean()), float(low[i]), float(high[i]), n) for i, name in enumerate(names)}


def group_means(records: Sequence[dict[str, Any]], group: str, value: str) -> dict[str, dict[str, float]]:
    """Per-group breakdown {group value: {"value": mean of record[value], "n": count}}, e.g. VQA accuracy per
    answer type. Records without the value (None) are left out."""
    members: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if record.get(value) is not None:
            members[str(record.get(group))].append(float(record[value]))
    return {key: {"value": sum(v) / len(v), "n": len(v)} for key, v in sorted(members.items())}
