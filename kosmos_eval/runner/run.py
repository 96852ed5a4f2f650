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
from kosmos_eval.core.registry import TASKS
from kosmos_eval.core.types import Example
from kosmos_eval.data.locate import SAMPLE_NOTE, SAMPLE_ORIGIN, bundled_sample, resolve_data_dir
from kosmos_eval.data.presence import check_image_files
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.fewshot import DemoSampler, make_sampler
from kosmos_eval.fewshot.rices import FeatureStore, RicesSampler
from kosmos_eval.metrics import MetricValue
from kosmos_eval.runner.appender import BackgroundAppender
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.distributed import current_world
from kosmos_eval.runner.lock import RunLock
from kosmos_eval.runner.provenance import start_provenance
from kosmos_eval.runner.records import scores_summary, summary_header
from kosmos_eval.runner.results import RUN_META, RunFolder, commits_path, slug
from kosmos_eval.runner.steps import compute_steps, first_request_count, plan_steps, step_length
from kosmos_eval.tasks.base import Scores, Task
from kosmos_eval.tasks.hub import HubData

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


@dataclass(frozen=True)
class RunSlice:
    """What a run evaluates: the task, its split and data, the examples asked for (after --limit or a suite's
    ids), and the ordered list they were cut from, whose fixed windows are the run's steps."""

    task: Task
    split: str
    data_dir: Path | None
    origin: str
    examples: list[Example]
    universe: list[Example]
    demos: list[Example] | None = None  # the few-shot demonstration pool (None for zero-shot)
    hub: dict[str, Any] | None = None  # the hub copy the split was read from (data/hub_source.py), if one


def make_task(config: RunConfig) -> Task:
    task = TASKS.get(config.task)(seed=config.seed, options=config.task_options)
    task.use_gen_kwargs(config.gen_kwargs)  # refused here where they would change nothing
    return task


def backend_args(config: RunConfig) -> tuple[dict[str, str], str | None]:
    """The model args without `device`, and the device, which may come from --device or from --model-args
    device= (as the README writes it), not both; under torchrun / accelerate each process takes its own GPU."""
    args = dict(config.model_args)
    device = args.pop("device", None) or config.device
    if config.device and config.model_args.get("device") and config.model_args["device"] != config.device:
        raise UserError(f"--device {config.device} and --model-args device={config.model_args['device']} disagree")
    return args, current_world().device(device)


def make_backend(config: RunConfig) -> Backend:
    args, device = backend_args(config)
    return config.backend_info().create(config.seed, device, args)


def model_slug(config: RunConfig) -> str:
    return slug(config.backend_info().model_id(config.model_args))


def make_demo_sampler(
    task: Task, config: RunConfig, pool: list[Example] | None, backend: Backend, progress: bool
) -> DemoSampler | None:
    """The few-shot sampler over the task's demo pool (None for zero-shot; the pool is loaded by
    `load_slice`, before any model)."""
    if config.shots == 0 or pool is None:
        return None
    label_of = (lambda e: e.fields[task.label_field]) if task.label_field else None

    def rices() -> DemoSampler:
        if task.demo_image(pool[0]) is None:
            raise UserError(f"--sampler rices compares images, and {task.name!r} examples have none")
        return RicesSampler(pool, FeatureStore(backend, progress), task.demo_image)  # type: ignore[arg-type]

    # a pool example with the query's id is the query itself only when the pool is the evaluated split (ids
    # restart in every split of SuperGLUE: validation item 3 may see train item 3)
    exclude_query = task.demo_pool_is(config.split or task.default_split)
    return make_sampler(config.sampler, pool, config.seed, label_of=label_of, rices=rices, exclude_query=exclude_query)


def select_ids(examples: list[Example], wanted: tuple[str, ...], task: str, split: str) -> list[Example]:
    """The examples with the given ids, in the given order (a suite's fixed slice); unknown ids are an error,
    since a slice that silently shrinks would make a CI gate compare less than it claims."""
    by_id = {e.id: e for e in examples}
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise DataError(
            f"{task}: {len(unknown)} of the {len(wanted)} requested example ids are not in the {split} split "
            f"(first: {unknown[0]!r})"
        )
    return [by_id[i] for i in dict.fromkeys(wanted)]


BackendSource = Backend | Callable[[RunConfig], Backend] | None


def load_slice(config: RunConfig) -> RunSlice:
    """The task, split, data folder (and where it came from) and the examples a run of `config` evaluates,
    after every check that can fail before a model loads (`check-invariance` builds the same slice). The
    model args and the device are checked here too, so a finished run with nothing left to compute still
    refuses a typo or a GPU that is not there."""
    task = make_task(config)
    task.check_shots(config.shots)
    if config.shots == 0 and config.sampler != "random":
        log.info("--sampler %s has no effect with --shots 0", config.sampler)
    split = config.split or task.default_split
    task.check_split(split)
    task.check_environment()
    args, device = backend_args(config)
    config.backend_info().check(args, device)
    data_dir, origin = resolve_data_dir(task.name, config.data_dir, config.sample, task.sample_fallback)
    beside = getattr(task, "default_data_dir", lambda: None)() if data_dir is None else None
    if beside is not None:  # a user's task reads the data beside its YAML file
        data_dir, origin = beside, f"the task file's folder ({beside})"
    try:
        universe = task.load(split, data_dir)
    except UserError as exc:
        if data_dir is None and bundled_sample(task.name) is not None:  # nothing configured: say what exists
            raise type(exc)(f"{exc} (or --sample: the bundled synthetic sample, to try the pipeline)") from None
        raise
    if config.example_ids is not None:
        universe = select_ids(universe, config.example_ids, task.name, split)
    examples = universe[: config.limit] if config.limit is not None else universe
    if not examples:
        raise DataError(f"{task.name}: no examples found in {data_dir}")
    ids = [e.id for e in universe]
    if len(set(ids)) != len(ids):
        raise DataError(f"{task.name}: example ids are not unique in {data_dir}")
    demos = task.load_demos(data_dir) if config.shots else None
    if demos is not None and not demos:
        raise DataError(f"{task.name}: the demonstration pool ({task.demo_split}) in {data_dir} is empty")
    if demos is not None:  # a pool that is the evaluated split never shows a query itself
        task.check_shots(config.shots, len(demos) - (1 if task.demo_pool_is(split) else 0))
    # every window of the split may be computed (a window is computed whole), and any demo may be drawn
    groups = [(f"the {split} split", universe)] + ([(f"the {task.demo_split} demonstrations", demos)] if demos else [])
    config.backend_info().check_task_inputs(args, task.name, any(e.images for _, group in groups for e in group))
    check_image_files(task.name, groups)
    hub = task.hub_provenance(split) if isinstance(task, HubData) else None
    if hub is not None:  # the rows came from a hub copy: its name, and the folder only where it was a copy of it
        origin = f"hub {hub['id']}" + (f" (local copy {hub['local_copy']})" if hub["local_copy"] else "")
        data_dir = Path(hub["local_copy"]) if hub["local_copy"] else None
    return RunSlice(task, split, data_dir, origin, examples, universe, demos, hub)


def evaluate(config: RunConfig, backend: BackendSource = None, progress: bool = True) -> RunOutcome:
    """Evaluate `config`. `backend` may be a loaded backend (tests) or a factory called only when there is work
    to do (sweeps that share one loaded model across shots and seeds)."""
    started = time.perf_counter()
    provenance = start_provenance()  # git and package look-ups, while the data loads and the model computes
    run = load_slice(config)
    identity = config.identity(run.task.prompt.sha256, run.split, run.origin == SAMPLE_ORIGIN)
    if run.hub is not None:  # another copy (or revision) of the data is another run
        identity["hub"] = f"{run.hub['id']}@{run.hub['revision'] or 'default'}"
    world = current_world()
    root = check_output_root(Path(config.output_dir))  # before any model loads
    run_dir = root / f"{run.task.name}_{model_slug(config)}_{config.shots}shot_{RunConfig.identity_hash(identity)}"
    folder = RunFolder(run_dir, rank=world.rank if world.size > 1 else None)
    with RunLock(run_dir, world.rank):  # one writer per folder, for the whole run
        created = world.size == 1 and not (folder.path / RUN_META).exists()
        try:
            return _evaluate_locked(config, backend, progress, run, identity, folder, started, provenance)
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
    config: RunConfig,
    backend: BackendSource,
    progress: bool,
    run: RunSlice,
    identity: dict[str, Any],
    folder: RunFolder,
    started: float,
    provenance: Callable[[], dict[str, Any]],
) -> RunOutcome:
    task, world = run.task, current_world()
    # rank 0 reads first (and cuts a line an interrupted run left half-written), then the others
    records = folder.load_records() if world.is_main else {}
    world.barrier()
    if not world.is_main:
        records = folder.load_records(repair=False)
    unfinished = [e for e in run.examples if e.id not in records]
    resumed = len(run.examples) - len(unfinished)
    if resumed and world.is_main:
        log.info("resuming %s: %d of %d examples already done", folder.path, resumed, len(run.examples))
    current: dict[str, Any] | None = None
    if unfinished:
        # before the folder exists: a model that fails to load, or a server that does not answer (the
        # fingerprint asks it its model), leaves nothing behind
        if backend is None:
            backend = make_backend(config)
        elif not isinstance(backend, Backend):
            backend = backend(config)
        current = backend.fingerprint()
    if world.is_main:
        folder.prepare(identity)
    world.barrier()
    if not world.is_main:
        folder.prepare(identity)  # checks only: rank 0 created it

    meta = folder.read_meta()
    fingerprint = meta.get("fingerprint")
    decoding = meta.get("decoding")  # recorded at the first start, so a finished rerun's summary keeps it
    if unfinished:
        assert isinstance(backend, Backend) and current is not None
        if fingerprint is not None:
            _refuse_other_model(folder.path, fingerprint, current)
        if fingerprint is None and world.is_main:
            decoding = backend.decoding_settings()
            folder.update_meta(fingerprint=current, decoding=decoding)
        fingerprint = current
        _compute(config, backend, run, unfinished, folder, records, progress and world.is_main)
    elif fingerprint is not None:  # nothing to compute, but a finished run must not stand for a changed model
        info = config.backend_info()
        static = info.static_fingerprint(config.model_args) if info.static_fingerprint else None
        if static is not None:
            _refuse_other_model(folder.path, fingerprint, static)
    world.barrier()
    if world.is_main and (world.size > 1 or folder.has_rank_files()):
        folder.merge_rank_files([e.id for e in run.examples])
    world.barrier()
    if world.size > 1:
        records = folder.load_records(repair=False)

    selected = [records[e.id] for e in run.examples]
    folder_records = len(records) if len(records) > len(selected) else None  # a slice of a larger run
    scores = task.aggregate(selected)
    on_sample = run.origin == SAMPLE_ORIGIN
    paper_shots = () if TASKS.user_source(task.name) else task.shots  # a user's task is in no paper setting
    exports = task.export(selected, folder.path, run.split) if world.is_main and folder_records is None else {}
    wall = time.perf_counter() - started
    summary = {
        **summary_header(),
        "task": task.name,
        "family": task.family,
        "model": config.backend_info().model_name(config.model_args),
        "split": run.split,
        "shots": config.shots,
        "sampler": config.sampler if config.shots else None,
        "seed": config.seed,
        **scores_summary(task, scores, selected, data_notes(run) + config.setting_notes(paper_shots)),
        **config.setting_label(paper_shots),  # a setting the paper does not report, labelled
        "exports": exports,
        # the template's decoding blocks and the backend's own settings in effect (generation config policy)
        "decoding": {"template": task.decoding_blocks(), "backend": decoding or {}},
        "config": config.to_dict(),
        "identity": identity,
        "run_dir": str(folder.path),
        "fingerprint": fingerprint,
        "data": {
            "dir": str(run.data_dir) if run.data_dir else None,
            "origin": run.origin,
            "sample": on_sample,
            **({"hub": run.hub, "paper_split": run.hub["paper_split"]} if run.hub is not None else {}),
        },
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
    config: RunConfig,
    backend: Backend,
    run: RunSlice,
    unfinished: list[Example],
    folder: RunFolder,
    records: dict[str, dict[str, Any]],
    progress: bool,
) -> None:
    """Compute this process's windows of the unfinished examples, appending each step's records as it ends."""
    task = run.task
    metrics = task.streaming_metrics()
    for metric in metrics:  # metrics that can work while the model computes start now, on every example scored
        metric.begin(run.examples)
    task.use_backend(backend.prompt_budget())  # prompts that must fit the model (WebSRC's page text) know how
    sampler = make_demo_sampler(task, config, run.demos, backend, progress)
    batcher = Batcher(backend, config.batch_size)
    length = step_length(first_request_count(task, sampler, config.shots, run.universe[0]), batcher.batch_size)
    steps = current_world().shard(plan_steps(run.universe, {e.id for e in unfinished}, length))
    with BackgroundAppender(folder) as appender:  # a step is written while the next one computes

        def save(new_records: list[dict[str, Any]]) -> None:
            appender.append(new_records)
            records.update((record["id"], record) for record in new_records)

        compute_steps(task, batcher, sampler, config.shots, steps, save, progress, metrics)


def data_notes(run: RunSlice) -> list[str]:
    """What a summary says about its data: the bundled sample, or a hub copy that is not the paper's split."""
    if run.origin == SAMPLE_ORIGIN:
        return [SAMPLE_NOTE]
    if run.hub is not None and not run.hub["paper_split"]:
        why = "; ".join(run.hub["why_not_paper"])
        return [
            f"data: hub {run.hub['id']} ({run.split}) is not the official data ({why}); not compared with the paper"
        ]
    return []


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
