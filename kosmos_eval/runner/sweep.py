"""Several runs from one command: `--shots 0,2,4,8` and `--seeds 1,2,3`.

Each (shots, seed) pair is its own run folder (so each resumes and feeds the leaderboard on its own); the
model is loaded once and shared. Where more than one seed is given, the runs of one shot setting are
summarised as mean ± standard deviation across seeds, as Flamingo reports few-shot results, in
`<output>/<task>_<model>_<k>shot_seeds_<hash>.json`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kosmos_eval.config import RunConfig
from kosmos_eval.core.backend import Backend
from kosmos_eval.core.files import write_json_atomic
from kosmos_eval.errors import UserError
from kosmos_eval.runner.distributed import current_world
from kosmos_eval.runner.plan import check_demo_pool
from kosmos_eval.runner.run import RunOutcome, evaluate, make_backend, model_slug


def parse_int_list(text: str | int, flag: str) -> list[int]:
    """'0,2,4' -> [0, 2, 4]; duplicates refused so no run is computed twice by accident."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    try:
        values = [int(item) for item in items]
    except ValueError:
        raise UserError(f"{flag} takes integers separated by commas (e.g. 0,2,4,8); got {text!r}") from None
    if not values:
        raise UserError(f"{flag} is empty")
    if len(set(values)) != len(values):
        raise UserError(f"{flag} {text!r} repeats a value")
    if any(v < 0 for v in values):
        raise UserError(f"{flag} values must be non-negative; got {text!r}")
    return values


@dataclass(frozen=True)
class SeedSummary:
    shots: int
    seeds: list[int]
    metrics: dict[str, dict[str, Any]]  # name -> {"mean", "std", "values"}
    path: Path


class SharedBackend:
    """Loads the model on first use and hands the same instance to every run of the sweep. A backend whose
    outputs depend on the run seed (class attribute `seeded`, e.g. the chance baseline) is built per seed."""

    def __init__(self) -> None:
        self.loaded: dict[tuple, Backend] = {}

    def __call__(self, config: RunConfig) -> Backend:
        key: tuple = (config.backend, tuple(sorted(config.model_args.items())), config.device)
        if config.backend_info().seeded:
            key += (config.seed,)
        if key not in self.loaded:
            self.loaded[key] = make_backend(config)
        return self.loaded[key]


def seed_summary(outcomes: list[RunOutcome], base: RunConfig, shots: int) -> SeedSummary:
    """Mean and sample standard deviation (n-1) of every metric across the seeds of one shot setting."""
    names = list(outcomes[0].metrics)
    metrics = {}
    for name in names:
        values = [o.metrics[name].value for o in outcomes if name in o.metrics]
        metrics[name] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values,
        }
    seeds = [o.summary["seed"] for o in outcomes]
    identity = {k: v for k, v in outcomes[0].summary["identity"].items() if k != "seed"}
    name = f"{base.task}_{model_slug(base)}_{shots}shot_seeds_{RunConfig.identity_hash(identity)}.json"
    path = Path(base.output_dir) / name
    # data-parallel: every rank has the same merged outcomes, one writes; slices of larger runs leave the file
    # of the full runs as it is (a result never shrinks)
    if current_world().is_main and not any(outcome.is_slice for outcome in outcomes):
        write_json_atomic(
            path,
            {
                "task": base.task,
                "shots": shots,
                "seeds": seeds,
                "headline": outcomes[0].summary["headline"],
                "metrics": metrics,
                "runs": [str(o.run_dir) for o in outcomes],
                "identity_without_seed": identity,
            },
        )
    return SeedSummary(shots, seeds, metrics, path)


def evaluate_sweep(
    base: RunConfig,
    shots: list[int],
    seeds: list[int],
    progress: bool = True,
    backend: SharedBackend | None = None,
) -> tuple[list[RunOutcome], list[SeedSummary]]:
    """Every (shots, seed) run, shots outermost, then the per-shots seed summaries (when several seeds).
    `backend` shares one loaded model across sweeps (a suite's entries)."""
    from kosmos_eval.runner.run import make_task

    task = make_task(base)
    for k in shots:  # refuse a bad setting before the first run starts, not after the others finished
        task.check_shots(k)
    if len(shots) > 1 and max(shots) > 0:
        # the largest setting against the demo pool as loaded (`--shots 2,13` with 12 usable demos), so no
        # earlier setting is computed in vain
        check_demo_pool(replace(base, shots=max(shots)), task)
    backend = backend or SharedBackend()
    outcomes: list[RunOutcome] = []
    summaries: list[SeedSummary] = []
    for k in shots:
        group = [evaluate(replace(base, shots=k, seed=seed), backend, progress) for seed in seeds]
        outcomes += group
        if len(seeds) > 1:
            summaries.append(seed_summary(group, base, k))
    return outcomes, summaries
