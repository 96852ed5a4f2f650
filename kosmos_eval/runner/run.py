"""Run one task with one backend: load -> build -> batch -> score -> records -> summary.

Resumable by construction: the run folder is named by the run's identity (task, split, shots, seed, model,
data, prompt hash), finished example ids are skipped, and the summary is always rebuilt from all records.
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

from tqdm import tqdm

import kosmos_eval.backends
import kosmos_eval.tasks  # noqa: F401  (registers tasks)
from kosmos_eval.config import RunConfig
from kosmos_eval.core.backend import Backend, fingerprint_changes
from kosmos_eval.core.files import OutputError, writing
from kosmos_eval.core.registry import TASKS
from kosmos_eval.core.types import Example, RankResult, Request
from kosmos_eval.data.locate import SAMPLE_NOTE, SAMPLE_ORIGIN, bundled_sample, resolve_data_dir
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.fewshot import DemoSampler, make_sampler
from kosmos_eval.fewshot.rices import FeatureStore, RicesSampler
from kosmos_eval.metrics import MetricValue
from kosmos_eval.runner.appender import BackgroundAppender
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.distributed import current_world
from kosmos_eval.runner.lock import RunLock
from kosmos_eval.runner.provenance import start_provenance
from kosmos_eval.runner.records import make_record, scores_summary
from kosmos_eval.runner.results import RunFolder, slug
from kosmos_eval.tasks.base import Scores, Task

log = logging.getLogger(__name__)

EXAMPLES_PER_STEP_MIN = 4
BATCHES_PER_STEP = 4  # a step is built, run and saved together: several batches, so image decoding overlaps


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    metrics: dict[str, MetricValue]
    scores: Scores
    summary: dict[str, Any]
    resumed: int  # examples found finished in the folder
    computed: int  # examples computed in this invocation


def make_task(config: RunConfig) -> Task:
    return TASKS.get(config.task)(seed=config.seed, options=config.task_options)


def make_backend(config: RunConfig) -> Backend:
    # the device may come from --device or from --model-args device= (as the README writes it), not both
    args = dict(config.model_args)
    device = args.pop("device", None) or config.device
    if config.device and config.model_args.get("device") and config.model_args["device"] != config.device:
        raise UserError(f"--device {config.device} and --model-args device={config.model_args['device']} disagree")
    # under torchrun / accelerate each process takes its own GPU
    return config.backend_info().create(config.seed, current_world().device(device), args)


def model_slug(config: RunConfig) -> str:
    return slug(config.backend_info().model_id(config.model_args))


def make_demo_sampler(
    task: Task, config: RunConfig, data_dir: Path | None, backend: Backend, progress: bool
) -> DemoSampler | None:
    """The few-shot sampler over the task's demo pool (None for zero-shot)."""
    if config.shots == 0:
        return None
    pool = task.load_demos(data_dir)
    label_of = (lambda e: e.fields[task.label_field]) if task.label_field else None

    def rices() -> DemoSampler:
        if task.demo_image(pool[0]) is None:
            raise UserError(f"--sampler rices compares images, and {task.name!r} examples have none")
        return RicesSampler(pool, FeatureStore(backend, progress), task.demo_image)  # type: ignore[arg-type]

    return make_sampler(config.sampler, pool, config.seed, label_of=label_of, rices=rices)


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


def load_slice(config: RunConfig) -> tuple[Task, str, Path | None, str, list[Example]]:
    """The task, split, data folder (and where it came from) and the examples a run of `config` evaluates,
    after every check that can fail before a model loads (`check-invariance` builds the same slice)."""
    task = make_task(config)
    task.check_shots(config.shots)
    if config.shots == 0 and config.sampler != "random":
        log.info("--sampler %s has no effect with --shots 0", config.sampler)
    split = config.split or task.default_split
    task.check_split(split)
    task.check_environment()
    data_dir, origin = resolve_data_dir(task.name, config.data_dir, config.sample, task.sample_fallback)
    try:
        examples = task.load(split, data_dir)
    except UserError as exc:
        if data_dir is None and bundled_sample(task.name) is not None:  # nothing configured: say what exists
            raise type(exc)(f"{exc} (or --sample: the bundled synthetic sample, to try the pipeline)") from None
        raise
    if config.example_ids is not None:
        examples = select_ids(examples, config.example_ids, task.name, split)
    if config.limit is not None:
        examples = examples[: config.limit]
    if not examples:
        raise DataError(f"{task.name}: no examples found in {data_dir}")
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids):
        raise DataError(f"{task.name}: example ids are not unique in {data_dir}")
    return task, split, data_dir, origin, examples


def evaluate(config: RunConfig, backend: BackendSource = None, progress: bool = True) -> RunOutcome:
    """Evaluate `config`. `backend` may be a loaded backend (tests) or a factory called only when there is work
    to do (sweeps that share one loaded model across shots and seeds)."""
    started = time.perf_counter()
    provenance = start_provenance()  # git and package look-ups, while the data loads and the model computes
    task, split, data_dir, origin, examples = load_slice(config)

    on_sample = origin == SAMPLE_ORIGIN
    identity = config.identity(task.prompt.sha256, split, on_sample)
    world = current_world()
    root = check_output_root(Path(config.output_dir))  # before any model loads
    run_dir = root / f"{task.name}_{model_slug(config)}_{config.shots}shot_{RunConfig.identity_hash(identity)}"
    folder = RunFolder(run_dir, rank=world.rank if world.size > 1 else None)
    with RunLock(run_dir, world.rank):  # one writer per folder, for the whole run
        return _evaluate_locked(
            config, backend, progress, started, provenance, task, split, data_dir, origin, examples, identity, folder
        )


def _evaluate_locked(
    config: RunConfig,
    backend: BackendSource,
    progress: bool,
    started: float,
    provenance: Callable[[], dict[str, Any]],
    task: Task,
    split: str,
    data_dir: Path | None,
    origin: str,
    examples: list[Example],
    identity: dict[str, Any],
    folder: RunFolder,
) -> RunOutcome:
    on_sample = origin == SAMPLE_ORIGIN
    world = current_world()
    # rank 0 reads first (and cuts a line an interrupted run left half-written), then the others
    records = folder.load_records() if world.is_main else {}
    world.barrier()
    if not world.is_main:
        records = folder.load_records(repair=False)
    unfinished = [e for e in examples if e.id not in records]
    pending = world.shard(unfinished)
    resumed = len(examples) - len(unfinished)
    if resumed and world.is_main:
        log.info("resuming %s: %d of %d examples already done", folder.path, resumed, len(examples))
    if unfinished:
        # before the folder exists: a model that fails to load leaves nothing behind
        if backend is None:
            backend = make_backend(config)
        elif not isinstance(backend, Backend):
            backend = backend(config)
    if world.is_main:
        folder.prepare(identity)
    world.barrier()
    if not world.is_main:
        folder.prepare(identity)  # checks only: rank 0 created it

    meta = folder.read_meta()
    fingerprint = meta.get("fingerprint")
    decoding = meta.get("decoding")  # recorded at the first start, so a finished rerun's summary keeps it
    if unfinished:
        current = backend.fingerprint()
        if fingerprint is not None:
            _refuse_other_model(folder.path, fingerprint, current)
        if fingerprint is None and world.is_main:
            decoding = backend.decoding_settings()
            folder.update_meta(fingerprint=current, decoding=decoding)
        fingerprint = current
    elif fingerprint is not None:  # nothing to compute, but a finished run must not stand for a changed model
        info = config.backend_info()
        static = info.static_fingerprint(config.model_args) if info.static_fingerprint else None
        if static is not None:
            _refuse_other_model(folder.path, fingerprint, static)
    if pending:
        task.begin_scoring(examples)  # scoring that can overlap the model's work starts now
        sampler = make_demo_sampler(task, config, data_dir, backend, progress and world.is_main)
        _compute(task, backend, config, sampler, pending, folder, records, progress and world.is_main)
    world.barrier()
    if world.is_main and (world.size > 1 or folder.has_rank_files()):
        folder.merge_rank_files([e.id for e in examples])
    world.barrier()
    if world.size > 1:
        records = folder.load_records(repair=False)

    selected = [records[e.id] for e in examples]
    scores = task.aggregate(selected)
    metrics = scores.metrics
    exports = task.export(selected, folder.path, split) if world.is_main else {}
    wall = time.perf_counter() - started
    summary = {
        "task": task.name,
        "family": task.family,
        "model": config.backend_info().model_name(config.model_args),
        "split": split,
        "shots": config.shots,
        "sampler": config.sampler if config.shots else None,
        "seed": config.seed,
        **scores_summary(task, scores, selected, [SAMPLE_NOTE] if on_sample else []),
        "exports": exports,
        # the template's decoding blocks and the backend's own settings in effect (generation config policy)
        "decoding": {"template": task.decoding_blocks(), "backend": decoding or {}},
        "config": config.to_dict(),
        "identity": identity,
        "run_dir": str(folder.path),
        "fingerprint": fingerprint,
        "data": {"dir": str(data_dir) if data_dir else None, "origin": origin, "sample": on_sample},
        **provenance(),  # "versions", "harness"
        "timing": {
            "wall_seconds": round(wall, 3),
            "examples_computed": len(unfinished),
            "examples_resumed": resumed,
            "examples_per_second": round(len(unfinished) / wall, 3) if unfinished and wall > 0 else None,
            "processes": world.size,
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if world.is_main:
        folder.write_summary(summary)
    return RunOutcome(folder.path, metrics, scores, summary, resumed, len(unfinished))


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


def _compute(
    task: Task,
    backend: Backend,
    config: RunConfig,
    sampler: DemoSampler | None,
    pending: list[Example],
    folder: RunFolder,
    records: dict[str, dict[str, Any]],
    progress: bool,
) -> None:
    """Build, batch and score pending examples a few at a time, appending records as each step finishes."""
    task.use_backend(backend.prompt_budget())  # prompts that must fit the model (WebSRC's page text) know how
    prepare = getattr(sampler, "prepare", None)
    if prepare is not None:
        prepare(pending)  # e.g. RICES embeds every query image in batches up front
    batcher = Batcher(backend, config.batch_size)
    bar = tqdm(total=len(pending), desc=f"{task.name} ({config.backend})", unit="ex", disable=not progress)
    try:
        with BackgroundAppender(folder) as appender:  # a step is written while the next one computes
            start = 0
            while start < len(pending):
                chunk, demos_per_example, requests_per_example = _build_step(
                    task, sampler, config, pending, start, batcher
                )
                outputs_per_example = run_stages(task, batcher, chunk, demos_per_example, requests_per_example)
                new_records = [
                    make_record(task, example, requests, demos, own)
                    for example, requests, demos, own in zip(
                        chunk, requests_per_example, demos_per_example, outputs_per_example, strict=True
                    )
                ]
                appender.append(new_records)
                task.observe(new_records)
                for record in new_records:
                    records[record["id"]] = record
                bar.update(len(chunk))
                start += len(chunk)
    finally:
        bar.close()


def _build_step(
    task: Task, sampler: DemoSampler | None, config: RunConfig, pending: list[Example], start: int, batcher: Batcher
) -> tuple[list[Example], list[list[Example]], list[list[Request]]]:
    """The step that begins at `pending[start]`: its examples, their demonstrations and their requests, enough
    examples to fill a few batches (at least a few examples), each built once."""
    chunk: list[Example] = []
    demos_per_example: list[list[Example]] = []
    requests_per_example: list[list[Request]] = []
    while start + len(chunk) < len(pending) and step_wants_more(len(chunk), requests_per_example, batcher):
        example = pending[start + len(chunk)]
        demos = sampler.sample(example, config.shots) if sampler is not None else []
        chunk.append(example)
        demos_per_example.append(demos)
        requests_per_example.append(task.build(example, demos))
    return chunk, demos_per_example, requests_per_example


def step_wants_more(examples: int, requests_per_example: list[list[Request]], batcher: Batcher) -> bool:
    """Whether a step of `examples` examples should take another: at least a few, and until their requests
    fill a few batches (a step is built, run and saved together; `check-invariance` steps the same way)."""
    requests = sum(map(len, requests_per_example))
    return examples < EXAMPLES_PER_STEP_MIN or requests < BATCHES_PER_STEP * batcher.batch_size


def run_stages(
    task: Task,
    batcher: Batcher,
    examples: list[Example],
    demos: list[list[Example]],
    first_requests: list[list[Request]],
) -> list[list[RankResult | str]]:
    """Outputs per example for the first requests and every follow-up the task asks for (a multi-stage task
    such as chain-of-thought builds its second prompt from the first stage's output). Each stage is batched
    across all examples of the step; an example is done when the task asks for nothing more."""
    outputs: list[list[RankResult | str]] = [[] for _ in examples]
    requests = first_requests
    while any(requests):
        flat = [request for own in requests for request in own]
        batcher.backend.check_requests(flat)  # e.g. a server without prompt log-probs refuses ranking up front
        flat = batcher.run(flat, _output_observer(task, examples, requests))
        cursor = 0
        for index, own in enumerate(requests):
            outputs[index].extend(flat[cursor : cursor + len(own)])
            cursor += len(own)
        requests = [
            task.follow_up(example, example_demos, outputs[index]) if own else []
            for index, (example, example_demos, own) in enumerate(zip(examples, demos, requests, strict=True))
        ]
    return outputs


def _output_observer(
    task: Task, examples: list[Example], requests: list[list[Request]]
) -> Callable[[list[int], list[RankResult | str]], None]:
    """`Task.observe_outputs` for the batcher's positions in the flattened requests of one stage."""
    flat = [(example, request) for example, own in zip(examples, requests, strict=True) for request in own]

    def observe(positions: list[int], outputs: list[RankResult | str]) -> None:
        task.observe_outputs([(*flat[position], output) for position, output in zip(positions, outputs, strict=True)])

    return observe
