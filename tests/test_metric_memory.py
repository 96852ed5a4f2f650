"""Bootstrap memory does not grow with resamples x n (issue 27, item 6), and the blocking changes no number.

Every bootstrap in kosmos_eval/metrics draws its resamples through `base.map_resample_blocks`: row blocks of
at most BOOTSTRAP_BLOCK indices from one seeded generator. These tests pin (1) that numpy gives the same
numbers for the blocks as for one (resamples x n) draw, (2) that every metric gives exactly the interval the
unblocked computation gives, (3) that no draw and no ROC AUC step allocates more than its bound at n = 200k,
and (4) that the memory benchmark (benchmarks/memory_scaling.py) runs in a quick mode.
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from benchmarks import memory_scaling
from kosmos_eval.metrics import base, classification
from kosmos_eval.metrics.base import BOOTSTRAP_BLOCK, MetricValue, bootstrap_ci, map_resample_blocks, mean_metric
from kosmos_eval.metrics.classification import auc_metric, auc_or_nan, resampled_aucs
from kosmos_eval.metrics.resample import custom_rows, mean_rows, paired_bootstrap

BIG_N = 200_000


def _binary_task(n: int, seed: int, distinct: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores that separate the classes a little; `distinct` values only (many ties) when given."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    labels[:2] = (0, 1)
    noise = rng.normal(size=n) if distinct is None else rng.integers(0, distinct, n) / distinct
    return noise + 0.5 * labels, labels


# ------------------------------------------------------------------------------------------ the draw itself
@pytest.mark.parametrize("n", [1, 2, 13, 1000, 2**31 + 5, 2**40])  # small, odd, beyond 32 bits
@pytest.mark.parametrize("rows", [1, 2, 3, 7, 23])
def test_numpy_row_blocks_equal_one_draw(n, rows):
    # what makes blocking free: Generator.integers fills row-major from one stream, whatever the call sizes
    whole = np.random.default_rng(5).integers(0, n, size=(23, 13))
    rng = np.random.default_rng(5)
    blocks = [rng.integers(0, n, size=(min(rows, 23 - start), 13)) for start in range(0, 23, rows)]
    assert np.array_equal(np.concatenate(blocks), whole)


@pytest.mark.parametrize("block", [1, 13, 13 * 4, 13 * 99, 13 * 100, 10**9])
def test_resample_blocks_are_the_rows_of_one_draw(monkeypatch, block):
    monkeypatch.setattr(base, "BOOTSTRAP_BLOCK", block)
    sizes: list[int] = []

    def keep(rows: np.ndarray) -> np.ndarray:
        sizes.append(rows.size)
        return rows

    drawn = map_resample_blocks(13, seed=9, resamples=100, per_block=keep)
    assert max(sizes) <= max(block, 13) and sum(sizes) == 1300
    assert np.array_equal(drawn, np.random.default_rng(9).integers(0, 13, size=(100, 13)))
    assert map_resample_blocks(13, seed=9, resamples=0, per_block=keep).shape == (0, 13)  # no resamples, no error


# ------------------------------------------------------------------ blocked == unblocked, metric by metric
def _unblocked_auc_metric(scores, labels, seed: int, resamples: int) -> MetricValue:
    """auc_metric as it was before blocking: one (resamples x n) draw, every row's AUC at once."""
    n = len(scores)
    indices = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    aucs = resampled_aucs(scores, labels, indices)
    usable = aucs[~np.isnan(aucs)]
    if len(usable) * 2 < resamples:
        return MetricValue(classification.roc_auc(scores, labels), None, None, n)
    tail = (1.0 - 0.95) / 2.0  # as auc_metric computes it (not exactly 0.025)
    low, high = np.quantile(usable, [tail, 1.0 - tail])
    return MetricValue(classification.roc_auc(scores, labels), float(low), float(high), n)


@pytest.mark.parametrize(("n", "distinct"), [(3, None), (301, None), (301, 4), (2000, 50)])
def test_auc_metric_blocked_equals_unblocked(monkeypatch, n, distinct):
    scores, labels = _binary_task(n, seed=n, distinct=distinct)
    expected = _unblocked_auc_metric(scores, labels, seed=3, resamples=2000)
    assert auc_metric(scores, labels, seed=3) == expected
    # tiny draw blocks (one resample, a few) and tiny AUC steps: the same digits
    for block, chunk in ((n, 1), (n * 7, 2 * n), (n * 1999, 10**9)):
        monkeypatch.setattr(base, "BOOTSTRAP_BLOCK", block)
        monkeypatch.setattr(classification, "_CHUNK_ELEMENTS", chunk)
        assert auc_metric(scores, labels, seed=3) == expected


def test_resampled_aucs_do_not_depend_on_the_step(monkeypatch):
    scores, labels = _binary_task(500, seed=1)
    indices = np.random.default_rng(0).integers(0, 500, size=(300, 500))
    whole = resampled_aucs(scores, labels, indices)
    monkeypatch.setattr(classification, "_CHUNK_ELEMENTS", 1)  # one row per step
    assert np.array_equal(resampled_aucs(scores, labels, indices), whole, equal_nan=True)


def _unblocked_paired(base_rows, cand_rows, statistic, seed: int, resamples: int) -> np.ndarray:
    n = len(base_rows)
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    return np.array([statistic(cand_rows[row]) - statistic(base_rows[row]) for row in draws])


def test_paired_bootstrap_blocked_equals_unblocked(monkeypatch):
    rng = np.random.default_rng(6)
    ids = [str(i) for i in range(257)]
    baseline = mean_rows([{"id": i, "x": float(rng.random())} for i in ids], "x")
    candidate = mean_rows([{"id": i, "x": float(rng.random())} for i in ids], "x")
    whole = paired_bootstrap(baseline, candidate, ids, seed=2)
    pairs = {i: (float(rng.random()), int(rng.integers(0, 2))) for i in ids}
    auc_base = custom_rows(pairs, auc_or_nan)
    auc_cand = custom_rows({i: (float(rng.random()), label) for i, (_, label) in pairs.items()}, auc_or_nan)
    auc_whole = paired_bootstrap(auc_base, auc_cand, ids, seed=2, resamples=200)
    monkeypatch.setattr(base, "BOOTSTRAP_BLOCK", 257 * 3)
    assert paired_bootstrap(baseline, candidate, ids, seed=2) == whole
    assert paired_bootstrap(auc_base, auc_cand, ids, seed=2, resamples=200) == auc_whole
    # and both equal the one-matrix computation (the non-mean path recomputes the statistic per row)
    base_rows = np.asarray([auc_base.rows[i] for i in ids])
    cand_rows = np.asarray([auc_cand.rows[i] for i in ids])
    deltas = _unblocked_paired(base_rows, cand_rows, auc_or_nan, seed=2, resamples=200)
    deltas = np.round(deltas[~np.isnan(deltas)], 12)
    tail = (1.0 - 0.95) / 2.0
    assert (auc_whole.ci_low, auc_whole.ci_high) == tuple(np.quantile(deltas, [tail, 1.0 - tail]))


def test_bootstrap_ci_blocked_equals_unblocked(monkeypatch):
    values = np.random.default_rng(7).random(211)
    rows = np.random.default_rng(4).integers(0, 211, size=(2000, 211))
    stats = np.array([np.median(values[row]) for row in rows])
    tail = (1.0 - 0.95) / 2.0
    expected = (float(np.quantile(stats, tail)), float(np.quantile(stats, 1.0 - tail)))
    assert bootstrap_ci(values, np.median, seed=4) == expected
    monkeypatch.setattr(base, "BOOTSTRAP_BLOCK", 211 * 5)
    assert bootstrap_ci(values, np.median, seed=4) == expected


# ------------------------------------------------------------------------------- the memory bound at 200k
class _RecordingGenerator:
    """A Generator that refuses any integers() call over BOOTSTRAP_BLOCK numbers before drawing them (so the
    unbounded code fails fast instead of allocating gigabytes) and records the size of every call."""

    def __init__(self, inner: np.random.Generator, sizes: list[int]) -> None:
        self.inner, self.sizes = inner, sizes

    def integers(self, low, high=None, size=None, **kwargs):
        count = int(np.prod(size)) if size is not None else 1
        self.sizes.append(count)
        assert count <= max(BOOTSTRAP_BLOCK, high or low), f"a draw of {count:,} indices at once"
        return self.inner.integers(low, high, size=size, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def draw_sizes(monkeypatch) -> list[int]:
    sizes: list[int] = []
    real = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda seed=None: _RecordingGenerator(real(seed), sizes))
    return sizes


def test_no_bootstrap_draws_more_than_one_block_at_once(draw_sizes, monkeypatch):
    scores, labels = _binary_task(BIG_N, seed=0)
    draw_sizes.clear()  # the test data's own draw
    auc_metric(scores, labels, seed=0, resamples=100)
    monkeypatch.setattr(base, "DEFAULT_RESAMPLES", 100)  # mean_metric's fixed count, cut for test time
    mean_metric(labels, seed=0)
    bootstrap_ci(scores, np.mean, seed=0, resamples=40)
    ids = [str(i) for i in range(BIG_N)]
    first = mean_rows([{"id": i, "x": float(s)} for i, s in zip(ids, scores, strict=True)], "x")
    second = mean_rows([{"id": i, "x": float(s) / 2} for i, s in zip(ids, scores, strict=True)], "x")
    paired_bootstrap(first, second, ids, seed=0, resamples=100)
    rows = BOOTSTRAP_BLOCK // BIG_N  # resamples per draw (5 of 200k at the default 1M)
    assert len(draw_sizes) == 3 * -(-100 // rows) + -(-40 // rows)
    assert max(draw_sizes) == rows * BIG_N <= BOOTSTRAP_BLOCK


def test_auc_metric_peak_allocation_is_bounded_at_200k():
    scores, labels = _binary_task(BIG_N, seed=1)  # every score distinct: the most tie groups
    tracemalloc.start()  # numpy reports its array buffers to tracemalloc
    try:
        tracemalloc.reset_peak()
        auc_metric(scores, labels, seed=1, resamples=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one draw block (1M int64, 8 MB) + a step's few arrays of at most 1M numbers (8 MB each) + the inputs;
    # one (100 x 200k) draw alone would be 160 MB, and a 256-row step of it several times that
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_the_recording_generator_refuses_an_unbounded_draw(draw_sizes):
    rng = np.random.default_rng(0)
    with pytest.raises(AssertionError, match="at once"):
        rng.integers(0, BIG_N, size=(2000, BIG_N))
    assert draw_sizes == [2000 * BIG_N]


# ------------------------------------------------------------------------- benchmarks/memory_scaling.py
@pytest.mark.slow
def test_memory_scaling_benchmark_quick(tmp_path, capsys):
    # every stage in its own process on 200 memes: the report's shape, and the same metrics on every path
    out = tmp_path / "memory_scaling.json"
    assert memory_scaling.main(["--sizes", "200", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["command"] == f"python benchmarks/memory_scaling.py --sizes 200 --out {out}"
    rows = {row["stage"]: row for row in report["results"]}
    assert list(rows) == list(memory_scaling.STAGES)
    assert all(row["size"] == 200 and row["peak_rss_mb"] > 10 and "passed" not in row for row in rows.values())
    counts = ("run", "computed"), ("resume", "resumed"), ("examples", "examples"), ("records", "records")
    assert [rows[stage][key] for stage, key in counts] == [200] * 4
    assert rows["score"]["records"] == rows["aggregate"]["records"] == 200
    assert rows["score"]["per_sample"] == "recomputed"
    auc = rows["run"]["metrics"]["roc_auc"]
    assert all(rows[name]["metrics"]["roc_auc"] == auc for name in ("resume", "aggregate", "score"))
    assert "peak RSS MB" in capsys.readouterr().out


def test_loaded_records_share_their_field_names(tmp_path):
    """100k records hold one copy of each field name, not 100k (a third of a record's memory at 100k): the
    loader interns keys, and a loader that stopped doing so would fail here."""
    from kosmos_eval.runner.results import RunFolder

    folder = RunFolder(tmp_path)
    record = {"record_format": 2, "prompt": "p", "images": [], "demo_ids": []}
    folder.append([{**record, "id": str(i)} for i in range(3)])
    first, second, _ = folder.load_records().values()
    assert [id(key) for key in first] == [id(key) for key in second]
