"""The run plan (runner/plan.py): `kosmos-eval run` and `check-invariance` build the same one for a config, so the
check sends the batches a run sends: same examples, universe windows, demos per example and step length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kosmos_eval.backends.chance import ChanceBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.core.types import Example
from kosmos_eval.errors import UserError
from kosmos_eval.fewshot.rices import CACHE_ENV
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.invariance import check_invariance
from kosmos_eval.runner.plan import RunPlan, StepPlan
from kosmos_eval.runner.run import evaluate, plan_run

Seen = list[tuple[RunPlan, StepPlan]]
Drawn = list[list[str]]


def ids(examples: list[Example]) -> list[str]:
    return [example.id for example in examples]


def config_for(tmp_path: Path, sampler: str = "random", **overrides: Any) -> RunConfig:
    # the bundled sample: 9 val questions, 12 train demos; one request per example at batch size 2 makes windows
    # of 8 examples, so --limit 6 cuts the first window and the second holds none of the slice
    fields: dict[str, Any] = dict(
        task="vqav2",
        backend="chance",
        sample=True,
        shots=2,
        sampler=sampler,
        limit=6,
        batch_size=2,
        output_dir=str(tmp_path / "runs"),
    )
    return RunConfig(**(fields | overrides))


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Seen, Drawn]:
    """Every (plan, step plan) pair built while the test runs, and the demo ids `StepPlan.demos` drew, in order."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))  # RICES caches the pool's features here
    built: Seen = []
    drawn: Drawn = []
    step_plan, demos = RunPlan.step_plan, StepPlan.demos

    def recording_plan(self: RunPlan, batcher: Batcher, progress: bool) -> StepPlan:
        built.append((self, step_plan(self, batcher, progress)))
        return built[-1][1]

    def recording_demos(self: StepPlan, window: list[Example]) -> list[list[Example]]:
        own = demos(self, window)
        drawn.extend(ids(one) for one in own)
        return own

    monkeypatch.setattr(RunPlan, "step_plan", recording_plan)
    monkeypatch.setattr(StepPlan, "demos", recording_demos)
    return built, drawn


@pytest.mark.parametrize("sampler", ["random", "rices"])
def test_run_and_check_invariance_build_the_same_plan(tmp_path: Path, seen: tuple[Seen, Drawn], sampler: str) -> None:
    built, drawn = seen
    config = config_for(tmp_path, sampler)
    outcome = evaluate(config, progress=False)
    check_invariance(config, batch_size=config.batch_size, progress=False)
    (run, run_steps), (check, check_steps) = built

    assert ids(run.examples) == ids(check.examples) == ids(run.universe)[:6]
    assert ids(run.universe) == ids(check.universe) and len(run.universe) == 9
    assert ids(run.demos or []) == ids(check.demos or []) and len(run.demos or []) == 12
    assert (run.split, run.data_dir, run.origin, run.identity) == (
        check.split,
        check.data_dir,
        check.origin,
        check.identity,
    )
    assert run_steps.length == check_steps.length == 8

    every = set(ids(run.universe))
    windows = [w.examples for w in run_steps.windows(run.universe, every)]
    assert [ids(w) for w in windows] == [ids(w.examples) for w in check_steps.windows(check.universe, every)]
    assert [ids(w) for w in windows] == [ids(run.universe)[:8], ids(run.universe)[8:]]

    # the demos the run wrote are those the check sent (its one window: the slice's six examples)
    written = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    assert [record["demo_ids"] for record in written] == drawn
    assert len(drawn) == 6 and all(len(own) == 2 for own in drawn)
    # and every window of the universe draws the same demos from either plan
    for window in windows:
        assert [ids(own) for own in run_steps.demos(window)] == [ids(own) for own in check_steps.demos(window)]


def test_the_plan_is_made_before_any_model_and_the_backend_only_when_asked(tmp_path: Path) -> None:
    made: list[RunConfig] = []

    def factory(config: RunConfig) -> ChanceBackend:
        made.append(config)
        return ChanceBackend(seed=config.seed)

    config = config_for(tmp_path)
    plan = plan_run(config, factory)
    assert made == []  # the plan checks the data and the model args; it loads nothing
    assert isinstance(plan.backend(), ChanceBackend) and made == [config]
    loaded = ChanceBackend()
    assert plan_run(config, loaded).backend() is loaded
    assert isinstance(plan_run(config).backend(), ChanceBackend)  # None: the backend the config names


def test_a_limit_below_one_is_refused_by_the_plan(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--limit must be at least 1, got 0"):
        plan_run(config_for(tmp_path, limit=0))
