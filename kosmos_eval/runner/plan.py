"""The run plan: what a run of one `RunConfig` evaluates and how its work is cut, made once for `kosmos-eval run`
and for `check-invariance`.

The invariance check is only worth its name if it sends the batches a run sends: the same task, split, data,
examples, demonstration pool, demos per example and step windows. Both commands therefore build a `RunPlan`
from their config and read everything from it, rather than each repeating the set-up and drifting apart.

The plan comes in two parts because a run must fail early and cheaply. `RunPlan.load` makes every check that
can fail before a model loads (task, shots, split, environment, model args and device, data, image files), so
a typo costs seconds and a run leaves no folder behind. What needs the model comes later, from
`RunPlan.step_plan`, once a backend exists: the demo sampler (RICES embeds the pool with the model) and the
window length (from the batch size and the first example's request count, runner/steps.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kosmos_eval.config import RunConfig
from kosmos_eval.core.backend import Backend
from kosmos_eval.core.types import Example
from kosmos_eval.data.locate import (
    SAMPLE_NOTE,
    SAMPLE_ORIGIN,
    bundled_sample,
    resolve_data_dir,
    sample_answer_notes,
    sample_digest,
)
from kosmos_eval.data.presence import check_image_files
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.fewshot import DemoSampler, make_sampler
from kosmos_eval.fewshot.rices import FeatureStore, RicesSampler
from kosmos_eval.runner.batcher import Batcher
from kosmos_eval.runner.distributed import current_world
from kosmos_eval.runner.steps import Step, first_request_count, plan_steps, step_length
from kosmos_eval.tasks import capabilities
from kosmos_eval.tasks.base import Task
from kosmos_eval.tasks.hub import HubData

log = logging.getLogger(__name__)

# a loaded backend (tests), a factory called only once there is work to do (sweeps share one loaded model),
# or None: the backend the config names
BackendSource = Backend | Callable[[RunConfig], Backend] | None


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


@dataclass(frozen=True)
class RunPlan:
    """What a run evaluates: the task, its split and data, the examples asked for (after --limit or a suite's
    ids), the ordered list they were cut from (whose fixed windows are the run's steps), the demonstration
    pool, the run's identity (which names its folder) and where its backend comes from."""

    config: RunConfig
    task: Task
    split: str
    data_dir: Path | None
    origin: str
    examples: list[Example]
    universe: list[Example]
    demos: list[Example] | None  # the few-shot demonstration pool (None for zero-shot)
    hub: dict[str, Any] | None  # the hub copy the split was read from (data/hub_source.py), if one
    identity: dict[str, Any]
    backend_source: BackendSource = None

    @classmethod
    def load(cls, config: RunConfig, task: Task, backend: BackendSource = None) -> RunPlan:
        """Every check that can fail before a model loads, then the slice. The model args and the device are
        checked here too, so a finished run with nothing left to compute still refuses a typo or a GPU that
        is not there. `task` is made by the caller (`runner.run.make_task`, where sweeps and benchmarks find it)."""
        if config.limit is not None and config.limit < 1:
            raise UserError(f"--limit must be at least 1, got {config.limit}")
        task.check_shots(config.shots)
        if config.shots == 0 and config.sampler != "random":
            log.info("--sampler %s has no effect with --shots 0", config.sampler)
        split = config.split or task.default_split
        task.check_split(split)
        capabilities.check_environment(task)
        args, device = backend_args(config)
        config.backend_info().check(args, device)
        data_dir, origin = data_folder(config, task)
        if isinstance(task, HubData):
            task.check_hub_demos(config.shots, data_dir)
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
        demos = _demo_pool(config, task, split, data_dir)
        # every window of the split may be computed (a window is computed whole), and any demo may be drawn
        groups = [(f"the {split} split", universe)] + (
            [(f"the {task.demo_split} demonstrations", demos)] if demos else []
        )
        config.backend_info().check_task_inputs(args, task.name, any(e.images for _, group in groups for e in group))
        check_image_files(task.name, groups)
        capabilities.start_services(task)
        hub = task.hub_provenance(split) if isinstance(task, HubData) else None
        if hub is not None:  # the rows came from a hub copy: its name, and the folder only where it was a copy of it
            origin = f"hub {hub['id']}" + (f" (local copy {hub['local_copy']})" if hub["local_copy"] else "")
            data_dir = Path(hub["local_copy"]) if hub["local_copy"] else None
        identity = config.identity(task.prompt.sha256, split, origin == SAMPLE_ORIGIN)
        pinned = {key: task.option_reader.defaults[key] for key in task.identity_options}
        if pinned:  # given or not, these options name the folder (Task.identity_options)
            identity["task_options"] = dict(sorted({**pinned, **identity["task_options"]}.items()))
        if origin == SAMPLE_ORIGIN and data_dir is not None:  # another version of the sample is another run
            identity["sample_sha256"] = sample_digest(data_dir)
        if hub is not None:  # another copy (or revision) of the data is another run
            identity["hub"] = f"{hub['id']}@{hub['revision'] or 'default'}"
        return cls(config, task, split, data_dir, origin, examples, universe, demos, hub, identity, backend)

    @property
    def on_sample(self) -> bool:
        return self.origin == SAMPLE_ORIGIN

    def data_notes(self) -> list[str]:
        """What a summary says about its data: the bundled sample, or a hub copy that is not the paper's split."""
        if self.on_sample:
            return [SAMPLE_NOTE, *sample_answer_notes(self.data_dir, self.split)]
        if self.hub is not None and not self.hub["paper_split"]:
            why = "; ".join(self.hub["why_not_paper"])
            return [
                f"data: hub {self.hub['id']} ({self.split}) is not the official data ({why}); not compared with the "
                "paper"
            ]
        return []

    def data_summary(self) -> dict[str, Any]:
        """The summary's `data` block: where the rows came from, so a reader can tell runs on other data apart."""
        return {
            "dir": str(self.data_dir) if self.data_dir else None,
            "origin": self.origin,
            "sample": self.on_sample,
            **({"hub": self.hub, "paper_split": self.hub["paper_split"]} if self.hub is not None else {}),
        }

    def backend(self) -> Backend:
        """The backend: the one given, the factory's, or the one the config names. Called only once the plan is
        known to be valid and there is work to do, since it may load a model or ask a server."""
        source = self.backend_source
        if source is None:
            return make_backend(self.config)
        return source if isinstance(source, Backend) else source(self.config)

    def step_plan(self, batcher: Batcher, progress: bool) -> StepPlan:
        """What the backend decides: the prompt budget the task builds to, the demo sampler, and the window
        length at `batcher`'s batch size (the universe's first example decides it, so a `--limit` or a resume
        never moves a window)."""
        capabilities.use_backend(self.task, batcher.backend.prompt_budget())  # prompts that must fit the model know how
        sampler = self._demo_sampler(batcher.backend, progress)
        shots = self.config.shots
        length = step_length(first_request_count(self.task, sampler, shots, self.universe[0]), batcher.batch_size)
        return StepPlan(sampler, shots, length)

    def _demo_sampler(self, backend: Backend, progress: bool) -> DemoSampler | None:
        """The few-shot sampler over the demo pool (None for zero-shot; the pool was loaded with the plan)."""
        config, task, pool = self.config, self.task, self.demos
        if config.shots == 0 or pool is None:
            return None
        label_of = (lambda e: e.fields[task.label_field]) if task.label_field else None

        def rices() -> DemoSampler:
            image_of = partial(capabilities.demo_image, task)
            if image_of(pool[0]) is None:
                raise UserError(f"--sampler rices compares images, and {task.name!r} examples have none")
            return RicesSampler(pool, FeatureStore(backend, progress), image_of)  # type: ignore[arg-type]

        # a pool example with the query's id is the query itself only when the pool is the evaluated split (ids
        # restart in every split of SuperGLUE: validation item 3 may see train item 3)
        exclude_query = task.demo_pool_is(self.split)
        return make_sampler(
            config.sampler, pool, config.seed, label_of=label_of, rices=rices, exclude_query=exclude_query
        )


def data_folder(config: RunConfig, task: Task) -> tuple[Path | None, str]:
    """(folder, origin) a run of `config` reads: resolve_data_dir's answer, or a user task's own folder."""
    fallback = capabilities.falls_back_to_sample(task) and config.sample_fallback
    data_dir, origin = resolve_data_dir(task.name, config.data_dir, config.sample, fallback)
    beside = getattr(task, "default_data_dir", lambda: None)() if data_dir is None else None
    if beside is not None:  # a user's task reads the data beside its YAML file
        return beside, f"the task file's folder ({beside})"
    return data_dir, origin


def check_demo_pool(config: RunConfig, task: Task) -> None:
    """The demonstration pool against `config.shots`, as a run checks it, without loading the evaluated split
    or looking at its images: a sweep asks it of its largest setting before its first run."""
    data_dir, _ = data_folder(config, task)
    if isinstance(task, HubData):
        task.check_hub_demos(config.shots, data_dir)
    _demo_pool(config, task, config.split or task.default_split, data_dir)


def _demo_pool(config: RunConfig, task: Task, split: str, data_dir: Path | None) -> list[Example] | None:
    """The demonstration pool (None for zero-shot), refused when it is empty or too small for the shots."""
    demos = task.load_demos(data_dir) if config.shots else None
    if demos is not None and not demos:
        raise DataError(f"{task.name}: the demonstration pool ({task.demo_split}) in {data_dir} is empty")
    if demos is not None:  # a pool that is the evaluated split never shows a query itself
        task.check_shots(config.shots, len(demos) - (1 if task.demo_pool_is(split) else 0))
    return demos


@dataclass(frozen=True)
class StepPlan:
    """The part of a plan that needs the backend: the demo sampler and the window length (runner/steps.py)."""

    sampler: DemoSampler | None
    shots: int
    length: int

    def windows(self, examples: Sequence[Example], wanted: set[str]) -> list[Step]:
        """The fixed windows of `examples` (a run: the universe; check-invariance: the slice, so its last window
        lacks the neighbours past --limit) that hold a wanted example."""
        return plan_steps(examples, wanted, self.length)

    def demos(self, window: Sequence[Example]) -> list[list[Example]]:
        """Each example's demos, as a run draws them: RICES embeds the window's queries together first."""
        prepare = getattr(self.sampler, "prepare", None)
        if prepare is not None:
            prepare(window)
        return [self.sampler.sample(example, self.shots) if self.sampler is not None else [] for example in window]
