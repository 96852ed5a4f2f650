"""Run one task with one backend: load -> build -> batch -> score -> records -> summary.

Resumable by construction: the run folder is named by the run's identity (task, split, shots, seed, model,
data, prompt hash), finished example ids are skipped, and steps are cut so that a resumed or extended run
writes the same bytes as an uninterrupted one (runner/steps.py).

A result never shrinks: summary.json covers every record in its folder. A rerun that asks for fewer examples
than the folder holds (a smaller --limit, a suite's slice of a full run) is a slice: its metrics are returned
and printed as a slice, and the folder's summary and exports are left as they are.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kosmos_eval.config import RunConfig
from kosmos_eval.core.backend import Backend, fingerprint_changes
from kosmos_eval.core.files import OutputError, writing
from kosmos_eval.core.progress import notice
from kosmos_eval.core.registry import TASKS
from kosmos_eval.core.types import Example
from kosmos_eval.errors import UserError
from kosmos_eval.metrics import MetricValue
from kosmos_eval.runner.appender import BackgroundAppender
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.distributed import current_world
from kosmos_eval.runner.lock import RunLock
from kosmos_eval.runner.plan import BackendSource, RunPlan
from kosmos_eval.runner.plan import make_backend as make_backend  # re-exported: sweeps build backends as runs do
from kosmos_eval.runner.provenance import start_provenance
from kosmos_eval.runner.records import scores_summary, summary_header
from kosmos_eval.runner.results import RUN_META, RunFolder, commits_path, slug
from kosmos_eval.runner.steps import compute_steps
from kosmos_eval.tasks import capabilities
from kosmos_eval.tasks.base import Scores, Task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    metrics: dict[str, MetricValue]
    scores: Scores
    summary: dict[str, Any]  # summary.json as written; for a slice, the slice's summary (not written)
    resumed: int  # examples found finished in the folder
    computed: int  # examples computed in this invocation
    timing: dict[str, Any]  # timing.json: when this invocation finished, how long it took
    folder_records: int | None = None  # set when this run is a slice: how many records the folder holds

    @property
    def is_slice(self) -> bool:
        """Fewer examples than the folder holds were asked for: the metrics are the slice's, summary.json
        (which covers the whole folder) was left as it is."""
        return self.folder_records is not None


def make_task(config: RunConfig) -> Task:
    """The task a run of `config` evaluates (kept here, where sweeps and the overhead benchmark find it)."""
    task = TASKS.get(config.task)(seed=config.seed, options=config.task_options)
    task.use_gen_kwargs(config.gen_kwargs)  # refused here where they would change nothing
    return task


def model_slug(config: RunConfig) -> str:
    return slug(config.backend_info().model_id(config.model_args))


def plan_run(config: RunConfig, backend: BackendSource = None) -> RunPlan:
    """The plan of a run of `config`, after every check that can fail before a model loads; `check-invariance`
    builds its plan here too, so it sees the examples, demos and windows a run would."""
    return RunPlan.load(config, make_task(config), backend)


def evaluate(config: RunConfig, backend: BackendSource = None, progress: bool = True) -> RunOutcome:
    """Evaluate `config`. `backend` may be a loaded backend (tests) or a factory called only when there is work
    to do (sweeps that share one loaded model across shots and seeds)."""
    started = time.perf_counter()
    provenance = start_provenance()  # git and package look-ups, while the data loads and the model computes
    plan = plan_run(config, backend)
    world = current_world()
    root = check_output_root(Path(config.output_dir))  # before any model loads
    name = f"{plan.task.name}_{model_slug(config)}_{config.shots}shot_{RunConfig.identity_hash(plan.identity)}"
    folder = RunFolder(root / name, rank=world.rank if world.size > 1 else None)
    with RunLock(folder.path, world.rank):  # one writer per folder, for the whole run
        created = world.size == 1 and not (folder.path / RUN_META).exists()
        try:
            return _evaluate_locked(plan, folder, progress, started, provenance)
        except BaseException:
            if created:
                _discard_if_empty(folder)  # a run that fails before its first record leaves no folder behind
            raise


def _discard_if_empty(folder: RunFolder) -> None:
    """Remove what a failed invocation created in a folder that holds no record yet (run.json, an empty
    commits file), so the lock's release removes the folder itself; a folder with any record is kept, to
    resume from."""
    samples = folder.sample_files()
    if any(path.stat().st_size for path in samples):
        return
    commits = {commits_path(path) for path in [folder.samples_path, *samples]}
    for path in [folder.path / RUN_META, *samples, *commits]:
        path.unlink(missing_ok=True)


def _evaluate_locked(
    plan: RunPlan, folder: RunFolder, progress: bool, started: float, provenance: Callable[[], dict[str, Any]]
) -> RunOutcome:
    config, task, world = plan.config, plan.task, current_world()
    # rank 0 reads first (and cuts a line an interrupted run left half-written), then the others
    records = folder.load_records() if world.is_main else {}
    world.barrier()
    if not world.is_main:
        records = folder.load_records(repair=False)
    unfinished = [e for e in plan.examples if e.id not in records]
    resumed = len(plan.examples) - len(unfinished)
    if resumed and world.is_main:
        notice(log, "resuming %s: %d of %d examples already done", folder.path, resumed, len(plan.examples))
    backend: Backend | None = None
    current: dict[str, Any] | None = None
    if unfinished:
        # before the folder exists: a model that fails to load, or a server that does not answer (the
        # fingerprint asks it its model), leaves nothing behind
        backend = plan.backend()
        current = backend.fingerprint()
    if world.is_main:
        folder.prepare(plan.identity)
    world.barrier()
    if not world.is_main:
        folder.prepare(plan.identity)  # checks only: rank 0 created it

    meta = folder.read_meta()
    fingerprint = meta.get("fingerprint")
    decoding = meta.get("decoding")  # recorded at the first start, so a finished rerun's summary keeps it
    if unfinished:
        assert backend is not None and current is not None
        if fingerprint is not None:
            _refuse_other_model(folder.path, fingerprint, current)
        if fingerprint is None and world.is_main:
            decoding = backend.decoding_settings()
            folder.update_meta(fingerprint=current, decoding=decoding)
        fingerprint = current
        records.update((record["id"], record) for record in _compute(plan, backend, unfinished, folder, progress))
    elif fingerprint is not None:  # nothing to compute, but a finished run must not stand for a changed model
        info = config.backend_info()
        static = info.static_fingerprint(config.model_args) if info.static_fingerprint else None
        if static is not None:
            _refuse_other_model(folder.path, fingerprint, static)
    world.barrier()
    if world.is_main and (world.size > 1 or folder.has_rank_files()):
        folder.merge_rank_files([e.id for e in plan.examples])
    world.barrier()
    if world.size > 1:
        records = folder.load_records(repair=False)

    selected = [records[e.id] for e in plan.examples]
    folder_records = len(records) if len(records) > len(selected) else None  # a slice of a larger run
    scores = task.aggregate(selected)
    paper_shots = () if TASKS.user_source(task.name) else task.shots  # a user's task is in no paper setting
    writes_exports = world.is_main and folder_records is None  # a slice leaves the folder's exports alone
    exports = capabilities.export(task, selected, folder.path, plan.split) if writes_exports else {}
    wall = time.perf_counter() - started
    summary = {
        **summary_header(),
        "task": task.name,
        "family": task.family,
        "model": config.backend_info().model_name(config.model_args),
        "split": plan.split,
        "shots": config.shots,
        "sampler": config.sampler if config.shots else None,
        "seed": config.seed,
        **scores_summary(task, scores, selected, plan.data_notes() + config.setting_notes(paper_shots)),
        **config.setting_label(paper_shots),  # a setting the paper does not report, labelled
        "exports": exports,
        # the template's decoding blocks and the backend's own settings in effect (generation config policy)
        "decoding": {"template": task.decoding_blocks(), "backend": decoding or {}},
        "config": config.to_dict(),
        "identity": plan.identity,
        "run_dir": str(folder.path),
        "fingerprint": fingerprint,
        "data": plan.data_summary(),
        **provenance(),  # "versions", "harness"
    }
    # when and how fast: kept out of summary.json, which a resumed or extended run rewrites byte for byte
    timing = {
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "examples_computed": len(unfinished),
        "examples_resumed": resumed,
        "examples_per_second": round(len(unfinished) / wall, 3) if unfinished and wall > 0 else None,
        "processes": world.size,
    }
    if folder_records is not None:
        summary["slice"] = {"n": len(selected), "folder_records": folder_records}
        if world.is_main:
            log.info(  # the CLI prints it as part of the result; the outcome says it (is_slice)
                "%s holds %d records; this run asked for %d of them: its metrics are that slice's, and "
                "summary.json (all %d records) is left as it is",
                folder.path,
                folder_records,
                len(selected),
                folder_records,
            )
    elif world.is_main:
        folder.write_summary(summary, timing)
    return RunOutcome(folder.path, scores.metrics, scores, summary, resumed, len(unfinished), timing, folder_records)


def _compute(
    plan: RunPlan, backend: Backend, unfinished: list[Example], folder: RunFolder, progress: bool
) -> list[dict[str, Any]]:
    """Compute this process's windows of the unfinished examples, appending each step's records as it ends;
    returns the records written."""
    task, world = plan.task, current_world()
    progress = progress and world.is_main
    metrics = capabilities.streaming_metrics(task)
    for metric in metrics:  # metrics that can work while the model computes start now, on every example scored
        metric.begin(plan.examples)
    batcher = Batcher(backend, plan.config.batch_size)
    steps = plan.step_plan(batcher, progress)
    windows = world.shard(steps.windows(plan.universe, {e.id for e in unfinished}))
    written: list[dict[str, Any]] = []
    with BackgroundAppender(folder) as appender:  # a step is written while the next one computes

        def save(new_records: list[dict[str, Any]]) -> None:
            appender.append(new_records)
            written.extend(new_records)

        compute_steps(task, batcher, steps.sampler, steps.shots, windows, save, progress, metrics)
    return written


def check_output_root(root: Path) -> Path:
    """The results root exists (created if need be) and is a writable folder: said in one line before the
    model loads, not after an hour of loading and computing."""
    if root.exists() and not root.is_dir():
        raise OutputError(f"--output {root} is a file, not a folder; give a folder for the run folders")
    with writing(root, "create the output folder"):
        root.mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK | os.X_OK):
        raise OutputError(f"--output {root}: cannot write there (permission denied or read-only); choose another")
    return root


def _refuse_other_model(run_dir: Path, recorded: dict[str, Any], now: dict[str, Any]) -> None:
    changes = fingerprint_changes(recorded, now)
    if changes:
        shown = "; ".join(changes[:4]) + (f"; and {len(changes) - 4} more" if len(changes) > 4 else "")
        raise UserError(
            f"{run_dir} was computed with a different model ({shown}): its records would not be this model's. "
            "Use another --output to keep both runs"
        )
