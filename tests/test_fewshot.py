"""Demo samplers: seeded per query, never the query itself, independent of processing order; RICES picks the
nearest images and caches their features; seeds sweeps summarise as mean ± std."""

from __future__ import annotations

import json
import statistics
from types import SimpleNamespace

import numpy as np
import pytest

from kosmos_eval.core.backend import Backend
from kosmos_eval.core.types import Example, ImageInput
from kosmos_eval.errors import UserError
from kosmos_eval.fewshot import BalancedSampler, FixedSampler, RandomSampler, make_sampler
from kosmos_eval.fewshot.rices import FeatureStore, RicesSampler
from kosmos_eval.generators.pictures import make_image
from kosmos_eval.runner.sweep import parse_int_list


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


def samplers_over(pool: list[Example], seed: int, exclude_query: bool) -> list:
    return [
        RandomSampler(pool, seed, exclude_query),
        FixedSampler(pool, seed, exclude_query),
        BalancedSampler(pool, seed, lambda e: "one", exclude_query),
    ]


def test_a_query_may_get_the_train_example_that_shares_its_id_when_the_pool_is_another_split() -> None:
    # SuperGLUE ids restart in every split: validation "3" and train "3" are different examples
    train = [Example(id=str(i)) for i in range(10)]
    query = Example(id="3")
    across = [[ids(s.sample(query, 4)) for s in samplers_over(train, seed, False)] for seed in range(20)]
    for kind in range(3):  # random, fixed, balanced
        assert any("3" in by_seed[kind] for by_seed in across)
    # the pool is the evaluated split: "3" is the query itself and never shown
    for seed in range(20):
        assert all("3" not in ids(s.sample(query, 4)) for s in samplers_over(train, seed, True))


def test_make_sampler_passes_the_exclusion_rule_on_and_defaults_to_excluding() -> None:
    pool = pool_of(6)
    assert make_sampler("random", pool, 0).exclude_query  # what callers that do not say got before
    for name in ("random", "fixed", "balanced"):
        assert not make_sampler(name, pool, 0, label_of=lambda e: "x", exclude_query=False).exclude_query
    built = SimpleNamespace(name="rices", exclude_query=True)
    assert make_sampler("rices", pool, 0, rices=lambda: built, exclude_query=False) is built
    assert built.exclude_query is False


def test_demo_pool_is_the_evaluated_split_only_where_the_task_draws_from_it() -> None:
    from kosmos_eval.core.registry import TASKS

    assert not TASKS.get("copa")().demo_pool_is("validation")  # demos from train
    assert TASKS.get("winograd")().demo_pool_is("test")  # its only split
    assert TASKS.get("storycloze")().demo_pool_is("validation") and not TASKS.get("storycloze")().demo_pool_is("test")


@pytest.mark.parametrize("exclude_query", [True, False])
def test_draws_without_an_id_collision_are_unchanged(exclude_query) -> None:
    """The draws the samplers made before `exclude_query` existed (recorded from that code), whichever rule
    is chosen, since no pool id equals the query's; with a collision the excluding draw is unchanged too."""
    pool, outside = pool_of(20), Example(id="q-x")
    assert ids(RandomSampler(pool, 7, exclude_query).sample(outside, 4)) == ["p4", "p18", "p2", "p12"]
    assert ids(RandomSampler(pool_of(3), 5, exclude_query).sample(outside, 3)) == ["p2", "p0", "p1"]
    assert ids(FixedSampler(pool, 3, exclude_query).sample(outside, 4)) == ["p10", "p14", "p9", "p11"]
    balanced = BalancedSampler(pool_of(30, label_every=3), 1, lambda e: e.fields["label"], exclude_query)
    assert ids(balanced.sample(outside, 4)) == ["p26", "p17", "p21", "p12"]
    assert ids(RandomSampler(pool, 7).sample(pool[3], 4)) == ["p6", "p2", "p12", "p5"]


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
    return Example(id=key, images={"image": (ImageInput.from_pil(key, make_image(0)),)})


def test_rices_picks_the_nearest_images_most_similar_last_and_caches(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KOSMOS_EVAL_CACHE", str(tmp_path))
    vectors = {"a": [1, 0], "b": [0.9, 0.1], "c": [0, 1], "d": [0.5, 0.5], "q": [1, 0.05]}
    backend = VectorBackend(vectors)
    pool = [image_example(k) for k in "abcd"]
    sampler = RicesSampler(pool, FeatureStore(backend, progress=False), lambda e: e.image("image"))
    query = image_example("q")
    sampler.prepare([query])
    assert ids(sampler.sample(query, 3)) == ["d", "b", "a"]  # a is nearest, so it sits next to the query
    assert ids(sampler.sample(pool[0], 2)) == ["d", "b"]  # a query from the pool never gets itself
    assert backend.calls == 3  # pool, query batch, then pool[0] as a query
    sampler.exclude_query = False  # a query from another split whose id is "a" is not pool example "a"
    assert ids(sampler.sample(pool[0], 2)) == ["b", "a"]
    again = VectorBackend(vectors)
    RicesSampler(pool, FeatureStore(again, progress=False), lambda e: e.image("image"))
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
