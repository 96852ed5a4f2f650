"""Metrics on known inputs, the chance baseline's determinism, the batcher's order and OOM back-off."""

from __future__ import annotations

import numpy as np
import pytest

from kosmos_eval.backends.chance import ChanceBackend
from kosmos_eval.config import RunConfig, parse_batch_size, parse_model_args
from kosmos_eval.core.types import Context, GenerateRequest, RankRequest, RankResult
from kosmos_eval.errors import BackendOutOfMemory, UserError
from kosmos_eval.metrics import base as metrics_base
from kosmos_eval.metrics import bootstrap_ci, mean_metric, mean_metrics
from kosmos_eval.runner.batcher import Batcher


def test_mean_metric_value_and_ci_on_known_input():
    metric = mean_metric([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], seed=0)
    assert metric.value == pytest.approx(0.2) and metric.n == 10
    assert metric.ci_low == pytest.approx(0.0) and 0.4 <= metric.ci_high <= 0.6
    assert mean_metric([1, 1, 1], seed=0).ci_low == 1.0


def test_vectorised_mean_ci_equals_generic_bootstrap():
    values = np.random.default_rng(3).integers(0, 2, size=137)
    fast = mean_metric(values, seed=11)
    slow = bootstrap_ci(values, np.mean, seed=11)
    assert (fast.ci_low, fast.ci_high) == pytest.approx(slow)


def test_mean_ci_does_not_depend_on_the_bootstrap_block(monkeypatch):
    # the memory bound (resamples computed a block at a time) changes no digit of the interval
    values = np.random.default_rng(4).random(301)
    whole = mean_metric(values, seed=2)
    for block in (301, 301 * 7, 301 * 1999, 1):  # one resample a block, 7, all but one in the first, one
        monkeypatch.setattr(metrics_base, "BOOTSTRAP_BLOCK", block)
        assert mean_metric(values, seed=2) == whole
    rng = np.random.default_rng(2)
    means = values[rng.integers(0, 301, size=(2000, 301))].mean(axis=1)  # the whole matrix at once
    assert (whole.ci_low, whole.ci_high) == tuple(np.quantile(means, [0.025, 0.975]))


def test_mean_metrics_share_one_draw_and_equal_each_column_alone(monkeypatch):
    rng = np.random.default_rng(8)
    columns = {"accuracy": rng.integers(0, 2, size=403), "f1": rng.random(403), "third": rng.random(403) < 0.1}
    alone = {name: mean_metric(values, seed=6) for name, values in columns.items()}
    assert mean_metrics(columns, seed=6) == alone
    monkeypatch.setattr(metrics_base, "BOOTSTRAP_BLOCK", 403 * 3 * 5)  # blocks of 5 resamples: same intervals
    assert mean_metrics(columns, seed=6) == alone
    assert list(mean_metrics(columns, seed=6)) == ["accuracy", "f1", "third"]  # the caller's order
    empty = mean_metrics({"a": [], "b": []}, seed=0)
    assert empty["a"].n == 0 and np.isnan(empty["b"].value)
    assert mean_metrics({}, seed=0) == {}
    with pytest.raises(ValueError, match="same examples"):
        mean_metrics({"a": [1, 0], "b": [1]}, seed=0)


def test_ci_is_seeded():
    values = [0, 1] * 20
    assert mean_metric(values, seed=5) == mean_metric(values, seed=5)


def test_chance_scores_depend_on_content_not_batching():
    backend = ChanceBackend(seed=3)
    requests = [RankRequest(Context.of(f"q{i}"), ("a", "b", "c")) for i in range(10)]
    together = backend.rank(requests)
    alone = [backend.rank([r])[0] for r in reversed(requests)][::-1]
    assert together == alone
    assert ChanceBackend(seed=4).rank(requests) != together


def test_chance_argmax_is_uniform_over_candidates():
    backend = ChanceBackend(seed=0)
    wins = np.zeros(4)
    for i in range(4000):
        (result,) = backend.rank([RankRequest(Context.of(f"item {i}"), ("w", "x", "y", "z"))])
        wins[int(np.argmax(result.logprobs))] += 1
    assert all(900 < w < 1100 for w in wins)


def test_chance_generation_picks_a_candidate():
    backend = ChanceBackend(seed=0)
    outputs = backend.generate([GenerateRequest(Context.of(f"q{i}"), candidates=("yes", "no")) for i in range(50)])
    assert set(outputs) == {"yes", "no"}


class RecordingBackend(ChanceBackend):
    def __init__(self, fits: int) -> None:
        super().__init__(seed=0)
        self.fits = fits
        self.calls: list[int] = []

    def rank(self, requests):
        self.calls.append(len(requests))
        if len(requests) > self.fits:
            raise BackendOutOfMemory("too big")
        return super().rank(requests)

    def default_batch_size(self):
        return 16


def test_auto_batch_size_halves_on_oom_without_losing_work():
    backend = RecordingBackend(fits=5)
    requests = [RankRequest(Context.of("x" * i), ("a",)) for i in range(23)]
    outputs = Batcher(backend, batch_size=None).run(requests)
    assert outputs == ChanceBackend(seed=0).rank(requests)  # every answer in its request's place
    assert backend.calls[:3] == [16, 8, 4] and max(backend.calls[3:]) == 4


def test_each_batch_is_given_as_it_returns_and_a_batch_that_ran_out_of_memory_never():
    backend = RecordingBackend(fits=5)
    requests = [RankRequest(Context.of("x" * i), ("a",)) for i in range(23)]
    batches = Batcher(backend, batch_size=None).batches(requests)
    reported = [next(batches)]
    assert backend.calls == [16, 8, 4]  # given before the next batch is computed
    reported += list(batches)
    outputs = ChanceBackend(seed=0).rank(requests)
    assert [len(positions) for positions, _ in reported] == [4] * 5 + [3]  # the batches that ran, in order
    positions = [p for batch, _ in reported for p in batch]
    assert sorted(positions) == list(range(23))  # each request once, by its place in `requests`
    assert positions[:4] == [22, 21, 20, 19]  # longest first
    assert all(outputs[p] == o for batch, got in reported for p, o in zip(batch, got, strict=True))


def test_fixed_batch_size_oom_is_a_clear_error():
    with pytest.raises(UserError, match="Out of memory at batch size 8"):
        Batcher(RecordingBackend(fits=5), batch_size=8).run([RankRequest(Context.of("x"), ("a",))] * 9)


def test_batcher_orders_longest_first_and_keeps_output_order():
    seen: list[str] = []

    class Spy(ChanceBackend):
        def rank(self, requests):
            seen.extend(r.context.text for r in requests)
            return super().rank(requests)

    requests = [RankRequest(Context.of("x" * n), ("a",)) for n in (3, 9, 1, 5)]
    outputs = Batcher(Spy(seed=0), batch_size=2).run(requests)
    assert seen == ["x" * 9, "x" * 5, "x" * 3, "x"]
    assert all(isinstance(o, RankResult) for o in outputs)
    assert outputs == ChanceBackend(seed=0).rank(requests)


def test_parse_model_args_and_batch_size():
    assert parse_model_args("pretrained=a/b,dtype=bfloat16") == {"pretrained": "a/b", "dtype": "bfloat16"}
    assert parse_model_args("") == {}
    with pytest.raises(UserError, match="given twice"):
        parse_model_args("a=1,a=2")
    assert parse_batch_size("auto") is None and parse_batch_size("4") == 4
    with pytest.raises(UserError):
        parse_batch_size("0")


def test_run_identity_ignores_speed_settings_but_not_the_model():
    a = RunConfig(task="raven", model_args={"pretrained": "m"}, batch_size=4, device="cpu", limit=3)
    b = RunConfig(task="raven", model_args={"pretrained": "m", "device": "cuda"}, batch_size=None, output_dir="x")
    c = RunConfig(task="raven", model_args={"pretrained": "other"})
    assert a.identity("h", "test") == b.identity("h", "test")
    assert a.identity("h", "test") != c.identity("h", "test")
    assert a.identity("h", "test") != a.identity("h2", "test")
