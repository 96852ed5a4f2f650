"""Users' own tasks: YAML files in folders outside the package, checked and registered beside the built-in ones.

Why: a task that differs from the paper's only in data, prompt, options and metric should be a file the user
writes, not a fork of the package (docs/tasks/custom.md). Folders come from `--include-path DIR` (the CLI calls
`include_task_paths`) or from $KOSMOS_EVAL_TASKS (folders separated like PATH), which is read again whenever
the task registry is consulted (`sync_environment`), so a long-lived process or a test sees its current value.

A file is a task file when it is a YAML mapping with a `task` key (other YAML files in the folder, such as suite
files, are left alone). Every file of a folder is checked before any is registered; a bad field is one line
naming the file and the field; a name that is a built-in task or suite, or that two files declare, is refused.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import string
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kosmos_eval.core.registry import TASKS
from kosmos_eval.data.hub_source import HubCopy, HubSplit
from kosmos_eval.errors import UserError
from kosmos_eval.prompting import PART_KINDS, PromptTemplate
from kosmos_eval.tasks.declarative import task_class
from kosmos_eval.tasks.declared_spec import (
    DERIVED_FIELDS,
    GENERATE_METRICS,
    POSTPROCESS,
    RANK_METRICS,
    DataSpec,
    TaskSpec,
)

TASKS_ENV = "KOSMOS_EVAL_TASKS"
KINDS = ("rank", "generate")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # a run folder's first part: no separators, no surprises
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
COMMON_KEYS = ("task", "description", "kind", "data", "shots", "metrics", "breakdowns", "demo", "query")
KIND_KEYS = {
    "rank": ("choices", "choices_field", "option", "label", "end_of_sequence"),
    "generate": ("references", "postprocess", "decoding"),
}
DATA_KEYS = ("files", "hub", "demo_split", "id", "images", "fields")
HUB_KEYS = ("id", "revision", "config", "splits")

_included: set[str] = set()  # names registered from --include-path (kept when $KOSMOS_EVAL_TASKS changes)
_environment: dict[str, Any] = {"value": None, "names": []}  # the last value read and the names it registered


class _File:
    """One task file being checked: every error is one line naming the file and the field."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    def fail(self, field: str, problem: str) -> UserError:
        return UserError(f"{self.path}: field {field!r}: {problem}")

    def get(self, field: str, kind: type | tuple[type, ...], default: Any = None, within: Any = None) -> Any:
        source = self.data if within is None else within
        key = field.rsplit(".", 1)[-1]
        value = source.get(key, default)
        wrong_type = value is not None and not isinstance(value, kind)
        if wrong_type or (isinstance(value, bool) and kind is not bool):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(field, f"must be a {names}, is {value!r}")
        return value

    def text(self, field: str, within: Any = None, required: bool = False) -> str | None:
        value = self.get(field, str, within=within)
        if required and not (value and value.strip()):
            raise self.fail(field, "is missing (a non-empty string)")
        return value

    def mapping(self, field: str, within: Any = None) -> dict[str, str]:
        value = self.get(field, dict, {}, within)
        for key, item in value.items():
            if not isinstance(item, str) or not item:
                raise self.fail(f"{field}.{key}", f"must name a column, is {item!r}")
        return {str(key): item for key, item in value.items()}

    def known(self, keys: Sequence[str], allowed: Sequence[str], where: str = "") -> None:
        for key in keys:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(allowed)})"
                what = f"a {self.data.get('kind')} task" if not where else where.rstrip(".")
                raise self.fail(f"{where}{key}", f"is not a setting of {what}{hint}")


def parse_task_file(path: Path) -> TaskSpec | None:
    """The checked spec of one file, or None when the file is YAML but not a task file (no `task` key)."""
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise UserError(f"{path}: not valid YAML{line}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict) or "task" not in data:
        return None
    file = _File(path, data)
    name = file.text("task", required=True) or ""
    if not NAME.match(name):
        raise file.fail("task", f"{name!r} must be lower-case letters, digits and _ (starting with a letter)")
    kind = file.text("kind", required=True)
    if kind not in KINDS:
        raise file.fail("kind", f"must be one of {', '.join(KINDS)}, is {kind!r}")
    file.known(list(data), [*COMMON_KEYS, *KIND_KEYS[kind]])
    data_spec = _data(file)
    shots = tuple(file.get("shots", list, [0]))
    if not shots or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shots):
        raise file.fail("shots", f"must be a list of whole numbers 0 or more, is {list(shots)!r}")
    if max(shots) > 0 and (data_spec.demo_split is None or "demo" not in data):
        raise file.fail("shots", "more than 0 need data.demo_split (the demonstrations' split) and a 'demo' layout")
    allowed = RANK_METRICS if kind == "rank" else GENERATE_METRICS
    if kind == "generate" and "metrics" not in data:
        raise file.fail("metrics", f"is missing: name the metrics, headline first ({', '.join(allowed)})")
    metrics = tuple(file.get("metrics", list, [allowed[0]]))
    wrong = [m for m in metrics if m not in allowed]
    if not metrics or wrong or len(set(metrics)) < len(metrics):
        raise file.fail("metrics", f"must list metrics among {', '.join(allowed)} (headline first), is {list(metrics)}")
    breakdowns = tuple(str(b) for b in file.get("breakdowns", list, []))
    fields = data_spec.fields
    if fields is not None and any(b not in fields for b in breakdowns):
        raise file.fail("breakdowns", f"must name fields of data.fields ({', '.join(fields)})")
    spec = TaskSpec(
        name=name,
        path=path.resolve(),
        kind=kind,
        description=file.text("description") or f"user task ({path.name})",
        data=data_spec,
        shots=shots,
        metrics=metrics,
        template=_template(file, name, kind, raw),
        breakdowns=breakdowns,
        **(_rank(file) if kind == "rank" else _generate(file)),
    )
    return spec


def _data(file: _File) -> DataSpec:
    data = file.get("data", dict)
    if data is None:
        raise file.fail("data", "is missing (data.files: {split: file} or data.hub)")
    file.known(list(data), DATA_KEYS, "data.")
    files = file.get("data.files", dict, {}, data)
    hub = file.get("data.hub", dict, None, data)
    if bool(files) == (hub is not None):
        raise file.fail("data", "must give exactly one of files ({split: data file}) and hub")
    for split, name in files.items():
        if not isinstance(name, str) or not name.lower().endswith(DATA_SUFFIXES):
            raise file.fail(f"data.files.{split}", f"must name a {'/'.join(DATA_SUFFIXES)} file, is {name!r}")
    images = file.mapping("data.images", data)
    fields = file.mapping("data.fields", data) if "fields" in data else None
    reserved = sorted(set(fields or ()) & set(DERIVED_FIELDS))
    if reserved:
        raise file.fail(f"data.fields.{reserved[0]}", f"is a field the task sets itself ({', '.join(DERIVED_FIELDS)})")
    id_column = file.text("data.id", data)
    columns = [*images.values(), *(fields or {}).values(), *([id_column] if id_column else [])]
    columns += [
        file.data[key] for key in ("label", "choices_field", "references") if isinstance(file.data.get(key), str)
    ]
    copy = _hub(file, hub, columns, set(images.values())) if hub is not None else None
    splits = tuple(files) if copy is None else tuple(copy.splits)
    demo_split = file.text("data.demo_split", data)
    if demo_split is not None and demo_split not in splits:
        raise file.fail("data.demo_split", f"{demo_split!r} is not one of the declared splits ({', '.join(splits)})")
    files = {str(split): name for split, name in files.items()}
    return DataSpec(files, copy, demo_split, id_column, images, fields)


def _hub(file: _File, hub: dict[str, Any], columns: list[str], images: set[str]) -> HubCopy:
    """The hub dataset as data/hub_load.py opens it: every column the task reads is checked to exist."""
    file.known(list(hub), HUB_KEYS, "data.hub.")
    hub_id = file.text("data.hub.id", hub, required=True) or ""
    if "/" not in hub_id:
        raise file.fail("data.hub.id", f"must be a hub dataset id (owner/name), is {hub_id!r}")
    splits = {}
    for ours, theirs in file.get("data.hub.splits", dict, {}, hub).items():
        if not isinstance(theirs, str):
            raise file.fail(f"data.hub.splits.{ours}", f"must name the hub's split, is {theirs!r}")
        splits[str(ours)] = HubSplit(theirs)
    if not splits:
        raise file.fail("data.hub.splits", "must map at least one split to the hub's ({test: validation})")
    declared = {column: (column, "image" if column in images else "any") for column in columns}
    revision, config = file.text("data.hub.revision", hub), file.text("data.hub.config", hub)
    note = "a user task's data, not the paper's"
    return HubCopy(hub_id, splits, declared, revision, config, not_paper=note)


def _rank(file: _File) -> dict[str, Any]:
    choices, column = file.get("choices", list), file.text("choices_field")
    if (choices is None) == (column is None):
        raise file.fail(
            "choices", "give exactly one of choices (the options listed once) and choices_field (their column)"
        )
    if choices is not None and (len(choices) < 2 or not all(isinstance(c, (str, int)) for c in choices)):
        raise file.fail("choices", f"must list at least two options, is {choices!r}")
    option = file.text("option") or " {choice}"
    try:
        placeholders = {name for _, name, _, _ in string.Formatter().parse(option) if name is not None}
    except ValueError:
        placeholders = set()
    if placeholders != {"choice"}:
        raise file.fail("option", f"must hold {{choice}} and no other field (default ' {{choice}}'), is {option!r}")
    return {
        "choices": None if choices is None else tuple(str(c) for c in choices),
        "choices_column": column,
        "option": option,
        "label_column": file.text("label", required=True),
        "end_of_sequence": bool(file.get("end_of_sequence", bool, False)),
    }


def _generate(file: _File) -> dict[str, Any]:
    postprocess = file.text("postprocess") or "stop"
    if postprocess not in POSTPROCESS:
        raise file.fail("postprocess", f"must be one of {', '.join(POSTPROCESS)}, is {postprocess!r}")
    decoding = file.get("decoding", dict)
    if decoding is None or "max_new_tokens" not in decoding:
        raise file.fail("decoding", "must set max_new_tokens (and may set num_beams, stop)")
    return {"references_column": file.text("references", required=True), "postprocess": postprocess}


def _template(file: _File, name: str, kind: str, raw: bytes) -> PromptTemplate:
    """The file's layouts (and decoding) as a template; its hash covers the whole file and the file's folder,
    so a change to data mapping, options or metric, or a task file moved beside other data, is another run."""
    data: dict[str, Any] = {"task": name}
    for key in ("demo", "query"):
        if key in file.data:
            layout = file.get(key, list)
            if not layout:
                raise file.fail(key, "must be a non-empty list of {text: ...} / {image: NAME} parts")
            data[key] = layout
    if "query" not in data:
        raise file.fail("query", "is missing (the prompt: a list of {text: ...} / {image: NAME} parts)")
    if kind == "generate":
        data["decoding"] = {"num_beams": 1, **file.data["decoding"]}
    digest = hashlib.sha256(raw + b"\0" + str(file.path.resolve().parent).encode()).hexdigest()
    _check_parts(file, data)
    template = PromptTemplate(name, data, digest, str(file.path))
    template.validate(tuple(key for key in data if key != "task"))  # the decoding block's settings
    return template


def _check_parts(file: _File, data: dict[str, Any]) -> None:
    """Every part of a layout is one text (a string) or one image the data declares."""
    images = set(file.data["data"].get("images") or {})
    for layout in ("demo", "query"):
        for number, part in enumerate(data.get(layout, []), start=1):
            if not (isinstance(part, dict) and len(part) == 1 and next(iter(part)) in PART_KINDS):
                raise file.fail(f"{layout}[{number}]", f"must be one of {{text: ...}}, {{image: NAME}}, is {part!r}")
            kind, value = next(iter(part.items()))
            if not isinstance(value, str):
                raise file.fail(f"{layout}[{number}].{kind}", f"must be a string, is {value!r}")
            if kind in ("image", "images") and value not in images:
                raise file.fail(f"{layout}[{number}].{kind}", f"{value!r} is not an image of data.images")


# --- finding and registering ---------------------------------------------------------------------------------


def task_files(paths: Sequence[Path], origin: str) -> list[Path]:
    """The YAML files under `paths` (a file or a folder, searched recursively), in a stable order."""
    found: list[Path] = []
    for path in paths:
        path = Path(path).expanduser()
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            raise UserError(f"{origin} {path}: no such file or folder")
    return list(dict.fromkeys(found))


def read_task_files(paths: Sequence[Path], origin: str) -> list[TaskSpec]:
    """Every task file under `paths`, checked, with names that collide with nothing built in nor each other."""
    specs = [spec for path in task_files(paths, origin) if (spec := parse_task_file(path)) is not None]
    reserved = set(TASKS.builtin_names()) | _builtin_suites()
    seen: dict[str, Path] = {}
    for spec in specs:
        if spec.name in reserved:
            what = "task" if spec.name in TASKS.builtin_names() else "suite"
            raise UserError(f"{spec.path}: field 'task': {spec.name!r} is the name of a built-in {what}; rename it")
        if spec.name in seen and seen[spec.name] != spec.path:
            raise UserError(f"{spec.path}: field 'task': {spec.name!r} is also declared by {seen[spec.name]}")
        seen[spec.name] = spec.path
    return specs


def _builtin_suites() -> set[str]:
    folder = resources.files("kosmos_eval.data").joinpath("suites")
    return {Path(str(p)).stem for p in folder.iterdir() if str(p).endswith(".yaml")}


def _register(specs: Sequence[TaskSpec]) -> list[str]:
    """Register all of `specs` or none (a name another file holds already refuses the whole set)."""
    done: list[str] = []
    try:
        for spec in specs:
            if TASKS.user_source(spec.name) is None:
                done.append(spec.name)
            TASKS.add_user(spec.name, task_class(spec), str(spec.path))
    except UserError:
        for name in done:
            TASKS.remove_user(name)
        raise
    return [spec.name for spec in specs]


def include_task_paths(paths: list[Path]) -> list[str]:
    """Register the tasks declared under `paths` (what `--include-path` gives); returns their names. Nothing is
    registered when any file is bad."""
    names = _register(read_task_files(paths, "--include-path"))
    _included.update(names)
    return names


def environment_paths(value: str) -> list[Path]:
    return [Path(entry) for entry in value.split(os.pathsep) if entry.strip()]


def sync_environment() -> None:
    """Make the registry hold the tasks of $KOSMOS_EVAL_TASKS as it is now (the registry calls this before each
    lookup; nothing is read when the value has not changed since the last call)."""
    value = os.environ.get(TASKS_ENV, "")
    if value == _environment["value"]:
        return
    specs = read_task_files(environment_paths(value), f"${TASKS_ENV}:") if value.strip() else []
    for name in _environment["names"]:
        if name not in _included:
            TASKS.remove_user(name)
    names = _register(specs)  # on a refusal the old value stays, so the next lookup says it again
    _environment.update(value=value, names=names)


def remove_tasks(names: Sequence[str]) -> None:
    """Forget user tasks (tests; a long-lived process whose include paths changed)."""
    for name in names:
        _included.discard(name)
        TASKS.remove_user(name)


def is_user_task(name: str) -> bool:
    return TASKS.user_source(name) is not None
