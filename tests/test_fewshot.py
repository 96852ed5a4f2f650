"""Demo samplers: seeded per query, never the query itself, independent of processing order; RICES picks the
nearest images and caches their features; seeds sweeps summarise as mean ± std."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from kosmos_eval.core.backend import Backend
from kosmos_eval.core.types import Example, ImageInput
from kosmos_eval.errors import UserError
from kosmos_eval.fewshot import BalancedSampler, FixedSampler, RandomSampler, make_sampler
from kosmos_eval.fewshot.rices import FeatureStore, RicesSampler
from kosmos_eval.runner.sweep import parse_int_list
from tests.images import make_image


def pool_of(n: int, label_every: int = 2) -> list[Example]:
    return [Example(id=f"p{i}", fields={"label": "pos" if i % label_every == 0 else "neg"}) for i in range(n)]


def ids(examples: list[Example]) -> list[str]:
    return [e.id for e in examples]


def test_random_sampler_is_seeded_per_query_and_excludes_the_query() -> None:
    pool = pool_of(20)
    sampler = RandomSampler(pool, seed=7)
    query = pool[3]
    first = ids(sampler.sample(query, 8))
    assert len(first) == 8 and len(set(first)) == 8 and "p3" not in first
    # the same query gets the same demos whatever was sampled before (resume / sharding safe)
    for other in pool[:10]:
        sampler.sample(other, 8)
    assert ids(sampler.sample(query, 8)) == first
    assert ids(RandomSampler(pool, seed=8).sample(query, 8)) != first
    assert sampler.sample(query, 0) == []


def test_random_sampler_never_returns_the_query_even_when_the_pool_is_tiny() -> None:
    pool = pool_of(3)
    for seed in range(30):
        assert ids(RandomSampler(pool, seed).sample(pool[0], 2)) in (["p1", "p2"], ["p2", "p1"])
    with pytest.raises(UserError, match="holds only 2 usable"):
        RandomSampler(pool, 0).sample(pool[0], 3)


def test_fixed_sampler_shares_demos_and_replaces_the_query() -> None:
    pool = pool_of(12)
    sampler = FixedSampler(pool, seed=3)
    outside = Example(id="query-x")
    shared = ids(sampler.sample(outside, 4))
    assert ids(sampler.sample(Example(id="query-y"), 4)) == shared
    inside = pool[int(shared[0][1:])]
    replaced = ids(sampler.sample(inside, 4))
    assert inside.id not in replaced and replaced[:3] == shared[1:]


def test_balanced_sampler_spreads_demos_over_classes() -> None:
    pool = pool_of(30, label_every=3)  # 10 pos, 20 neg
    sampler = BalancedSampler(pool, seed=1, label_of=lambda e: e.fields["label"])
    for k in (2, 4, 6):
        labels = [e.fields["label"] for e in sampler.sample(Example(id="q"), k)]
        assert labels.count("pos") == labels.count("neg") == k // 2
    labels = [e.fields["label"] for e in sampler.sample(Example(id="q"), 3)]
    assert sorted([labels.count("pos"), labels.count("neg")]) == [1, 2]


def test_make_sampler_refuses_what_a_task_cannot_do() -> None:
    pool = pool_of(4)
    with pytest.raises(UserError, match="classification task"):
        make_sampler("balanced", pool, 0)
    with pytest.raises(UserError, match="Unknown --sampler"):
        make_sampler("nearest", pool, 0)
    with pytest.raises(UserError, match="demo pool"):
        make_sampler("random", [], 0)


class VectorBackend(Backend):
    """Features are given per image key; counts calls so the on-disk cache can be checked."""

    name = "vectors"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.calls = 0

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        self.calls += 1
        return np.array([self.vectors[image.key] for image in images])

    def fingerprint(self) -> dict[str, str]:
        return {"backend": "vectors"}

    def rank(self, requests):
        raise AssertionError("only image features are asked for")

    generate = rank


def image_example(key: str) -> Example:
    return Example(id=key, images={"image": ImageInput.from_pil(key, make_image(0))})


def test_rices_picks_the_nearest_images_most_similar_last_and_caches(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KOSMOS_EVAL_CACHE", str(tmp_path))
    vectors = {"a": [1, 0], "b": [0.9, 0.1], "c": [0, 1], "d": [0.5, 0.5], "q": [1, 0.05]}
    backend = VectorBackend(vectors)
    pool = [image_example(k) for k in "abcd"]
    sampler = RicesSampler(pool, FeatureStore(backend, progress=False), lambda e: e.images["image"])
    query = image_example("q")
    sampler.prepare([query])
    assert ids(sampler.sample(query, 3)) == ["d", "b", "a"]  # a is nearest, so it sits next to the query
    assert ids(sampler.sample(pool[0], 2)) == ["d", "b"]  # a query from the pool never gets itself
    assert backend.calls == 3  # pool, query batch, then pool[0] as a query
    again = VectorBackend(vectors)
    RicesSampler(pool, FeatureStore(again, progress=False), lambda e: e.images["image"])
    assert again.calls == 0  # pool features came from the cache
    assert list((tmp_path / "features").rglob("*.npz"))


def test_parse_int_list() -> None:
    assert parse_int_list("0, 2,4,8", "--shots") == [0, 2, 4, 8]
    for bad in ("", "1,1", "a", "-1"):
        with pytest.raises(UserError):
            parse_int_list(bad, "--shots")


def test_seeds_sweep_reports_mean_and_std_of_its_runs(tmp_path) -> None:
    from kosmos_eval.config import RunConfig
    from kosmos_eval.runner.sweep import evaluate_sweep

    base = RunConfig(task="raven", backend="chance", output_dir=str(tmp_path), limit=20)
    outcomes, summaries = evaluate_sweep(base, [0], [1, 2, 3], progress=False)
    values = [o.metrics["accuracy"].value for o in outcomes]
    assert [o.summary["seed"] for o in outcomes] == [1, 2, 3]
    assert [o.summary["fingerprint"]["seed"] for o in outcomes] == [1, 2, 3]  # a seeded backend per seed
    assert len({o.run_dir for o in outcomes}) == 3
    (summary,) = summaries
    assert summary.metrics["accuracy"]["mean"] == pytest.approx(statistics.fmean(values))
    assert summary.metrics["accuracy"]["std"] == pytest.approx(statistics.stdev(values))
    assert json.loads(summary.path.read_text())["runs"] == [str(o.run_dir) for o in outcomes]
