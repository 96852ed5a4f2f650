"""Suites: many runs from one name or file. `kosmos1` is the paper's whole protocol; a suite file names a fixed
slice for a CI gate.

A suite file is YAML:

    name: ci-slice                 # optional; defaults to the file name
    defaults: {limit: 50, seeds: [1234]}   # optional, applied to every entry
    runs:
      - task: raven
      - task: vqav2
        split: val
        shots: [0, 4]
        ids: ["262148000", "262148001"]    # a fixed slice by example id (or ids_file: a path, one id per line)
      - task: websrc
        options: {setting: without_text}

Entry fields: task (required), shots (int or list; default the task's first setting), seeds (list), split,
limit, ids / ids_file, options (task options), sampler, data_dir (relative paths are read from the suite
file's folder). The command's --data-dir is a data root with one folder per task; its --gen-kwargs reach
the entries whose task generates (ranking tasks run as they are). Each (entry, shots, seed) is an ordinary run
folder, so it resumes, and feeds `leaderboard` and `compare`, like any other run. `run raven,vqav2` is a suite
of those tasks (`task_list`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kosmos_eval.config import RunConfig
from kosmos_eval.core.progress import notice
from kosmos_eval.errors import DataError, ModelUnavailableError, UserError
from kosmos_eval.runner.run import RunOutcome

log = logging.getLogger(__name__)

ENTRY_FIELDS = {"task", "shots", "seeds", "split", "limit", "ids", "ids_file", "options", "sampler", "data_dir"}


@dataclass(frozen=True)
class SuiteEntry:
    task: str
    shots: tuple[int, ...] | None = None  # None: the task's first paper setting
    seeds: tuple[int, ...] | None = None  # None: the command's --seed
    split: str | None = None
    limit: int | None = None
    ids: tuple[str, ...] | None = None
    options: dict[str, str] = field(default_factory=dict)
    sampler: str | None = None
    data_dir: str | None = None  # this task's folder, where it is not under the command's data root


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    entries: tuple[SuiteEntry, ...]


def builtin_suites() -> dict[str, Path]:
    folder = resources.files("kosmos_eval.data").joinpath("suites")
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".yaml")}


def load_suite(source: str | Path) -> Suite:
    """A built-in suite by name (`kosmos1`) or a suite file."""
    builtin = builtin_suites()
    path = builtin[str(source)] if str(source) in builtin else Path(source)
    if not path.is_file():
        raise UserError(f"--suite {source}: no such file (built-in suites: {', '.join(sorted(builtin))})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise DataError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list) or not data["runs"]:
        raise DataError(f"{path}: a suite file is a mapping with a non-empty 'runs' list")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise DataError(f"{path}: 'defaults' must be a mapping of entry fields")
    entries = tuple(_entry(path, number, {**defaults, **raw}) for number, raw in enumerate(data["runs"], start=1))
    return Suite(str(data.get("name") or path.stem), str(data.get("description") or ""), entries)


def _entry(path: Path, number: int, raw: Any) -> SuiteEntry:
    where = f"{path}: runs[{number}]"
    if not isinstance(raw, dict) or "task" not in raw:
        raise DataError(f"{where}: each run is a mapping with at least 'task'")
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise DataError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(ENTRY_FIELDS))})")
    if "ids" in raw and "ids_file" in raw:
        raise DataError(f"{where}: give 'ids' or 'ids_file', not both")
    ids = raw.get("ids")
    if "ids_file" in raw:
        ids_path = (path.parent / str(raw["ids_file"])).expanduser()
        if not ids_path.is_file():
            raise DataError(f"{where}: ids_file {ids_path} does not exist")
        ids = [line.strip() for line in ids_path.read_text().splitlines() if line.strip()]
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise DataError(f"{where}: 'options' must be a mapping of task options")
    return SuiteEntry(
        task=str(raw["task"]),
        shots=_ints(raw.get("shots"), f"{where}.shots"),
        seeds=_ints(raw.get("seeds"), f"{where}.seeds"),
        split=str(raw["split"]) if raw.get("split") is not None else None,
        limit=_positive(raw.get("limit"), f"{where}.limit"),
        ids=tuple(str(i) for i in ids) if ids is not None else None,
        options={str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in options.items()},
        sampler=str(raw["sampler"]) if raw.get("sampler") is not None else None,
        data_dir=str((path.parent / str(raw["data_dir"])).expanduser()) if raw.get("data_dir") else None,
    )


def _ints(value: Any, where: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise DataError(f"{where}: expected a non-negative integer or a list of them, got {value!r}")
    return tuple(values)


def _positive(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DataError(f"{where}: expected a positive integer, got {value!r}")
    return value


def task_list(text: str, shots: Sequence[int], seeds: Sequence[int]) -> Suite:
    """`raven,vqav2` (lm-evaluation-harness's `--tasks a,b`): a suite of those tasks, each at the command's shots
    and seeds. A name that is no task is refused before anything runs, naming it and the closest task."""
    from kosmos_eval.core.registry import TASKS

    names = [name.strip() for name in text.split(",") if name.strip()]
    if len(set(names)) != len(names):
        raise UserError(f"the task list {text!r} repeats a task")
    for name in names:
        try:
            TASKS.get(name)
        except UserError as exc:
            raise UserError(f"in the task list {text!r}: {exc}") from None
    entries = tuple(SuiteEntry(task=name, shots=tuple(shots), seeds=tuple(seeds)) for name in names)
    return Suite(",".join(names), "the tasks given on the command line", entries)


def entry_config(base: RunConfig, entry: SuiteEntry) -> RunConfig:
    """The run configuration of one suite entry: the command's model, output and batch settings with the
    entry's task, split, slice, options and sampler. In a suite, --data-dir is a data root: a task without its
    own folder there reads $KOSMOS_EVAL_DATA or its hub copy (Raven too: never its bundled sample, which a run
    given no data at all reads), unless the entry names a data_dir. With --sample every entry reads its task's
    bundled sample."""
    data_dir = entry.data_dir
    if data_dir is None and base.data_dir and (Path(base.data_dir) / entry.task).is_dir():
        data_dir = str(Path(base.data_dir) / entry.task)
    if base.sample:
        data_dir = None
    return replace(
        base,
        sample_fallback=base.sample_fallback and not base.data_dir,
        task=entry.task,
        data_dir=data_dir,
        split=entry.split,
        limit=entry.limit if entry.limit is not None else base.limit,
        example_ids=entry.ids,
        task_options={**base.task_options, **entry.options},
        sampler=entry.sampler or base.sampler,
    )


@dataclass(frozen=True)
class PlannedRun:
    config: RunConfig
    shots: tuple[int, ...]
    seeds: tuple[int, ...]


def plan(suite: Suite, base: RunConfig) -> list[PlannedRun]:
    """Every entry checked before the first run starts (task, options, shots, split), so a typo in the last
    entry does not surface hours into the suite."""
    from kosmos_eval.core.registry import TASKS

    planned = []
    for entry in suite.entries:
        config = entry_config(base, entry)
        task = TASKS.get(entry.task)(seed=config.seed, options=config.task_options)
        if config.gen_kwargs and not task.generates():  # the command's --gen-kwargs reach the tasks that generate
            config = replace(config, gen_kwargs={})
        task.use_gen_kwargs(config.gen_kwargs)
        shots = entry.shots or (task.shots[0],)
        for k in shots:
            task.check_shots(k)
        task.check_split(config.split or task.default_split)
        planned.append(PlannedRun(config, tuple(shots), entry.seeds or (base.seed,)))
    return planned


def missing_data(planned: list[PlannedRun]) -> list[str]:
    """One line per planned task whose data is not found where the run would look."""
    from kosmos_eval.core.registry import TASKS
    from kosmos_eval.data.locate import resolve_data_dir
    from kosmos_eval.tasks.capabilities import data_status, falls_back_to_sample

    lines = []
    for item in planned:
        config = item.config
        task = TASKS.get(config.task)(seed=config.seed, options=config.task_options)
        try:
            fallback = falls_back_to_sample(task) and config.sample_fallback
            folder, _ = resolve_data_dir(task.name, config.data_dir, config.sample, fallback)
            status = data_status(task, folder)
        except UserError as exc:
            lines.append(f"{task.name}: {exc}")
            continue
        if not status.found:
            lines.append(f"{task.name}: {status.where}")
    return list(dict.fromkeys(lines))


@dataclass(frozen=True)
class SuiteFailure:
    task: str
    shots: tuple[int, ...]
    message: str


def run_suite(planned: list[PlannedRun], progress: bool = True) -> tuple[list[RunOutcome], list[SuiteFailure]]:
    """Every planned run in order, one model load for the whole suite. A run that fails on its data (a hub copy
    not cached, an id not in the split) is reported and the suite goes on: hours of other runs are not lost to
    one missing file. A model that cannot load, an interrupt or an unexpected error stops the suite (finished
    runs stay resumable).
    Before each run one line says which it is, "run i of N", and the time left from the mean run so far."""
    from kosmos_eval.runner.distributed import current_world
    from kosmos_eval.runner.sweep import SharedBackend, evaluate_sweep

    backend = SharedBackend()
    outcomes: list[RunOutcome] = []
    failures: list[SuiteFailure] = []
    total = sum(len(item.shots) * len(item.seeds) for item in planned)
    number, durations = 0, []
    for item in planned:
        runs: list[RunOutcome] = []
        settings = [(k, seed) for k in item.shots for seed in item.seeds]
        for done, (k, seed) in enumerate(settings):
            number += 1
            if current_world().is_main:
                notice(log, "%s", run_line(number, total, item.config.task, k, seed, durations))
            started = time.monotonic()
            try:
                found, _ = evaluate_sweep(item.config, [k], [seed], progress, backend)
            except ModelUnavailableError:  # every entry shares the model: none of them could run
                raise
            except UserError as exc:  # DataError included: the entry's other settings are skipped too
                failures.append(SuiteFailure(item.config.task, item.shots, str(exc)))
                number += len(settings) - done - 1
                runs = []
                break
            durations.append(time.monotonic() - started)
            runs += found
        outcomes += runs
    return outcomes, failures


def run_line(number: int, total: int, task: str, shots: int, seed: int, durations: Sequence[float]) -> str:
    """`run 3 of 8: vqav2 4-shot seed 1234 (ETA 2 min 10 s)`: the ETA is the mean duration of the runs so far
    times the runs left, this one included; the first run has none."""
    line = f"run {number} of {total}: {task} {shots}-shot seed {seed}"
    if durations:
        line += f" (ETA {duration_text(sum(durations) / len(durations) * (total - number + 1))})"
    return line


def duration_text(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
