"""Checking summaries and records against their published schemas, so a reader never misreads a file.

summary.json and every samples.jsonl record carry a format version (`format_version`, `record_format`); the
schema of each version is published as JSON Schema in kosmos_eval/runner/schemas/ (docs/formats.md). Every
command that reads a run (`score`, `leaderboard`, `compare`, `report`, and `run` itself when it resumes)
checks what it reads here, and a file that does not match is one line naming the file, the field, what was
expected and what was found, instead of a KeyError or, worse, a number computed from the wrong field.

Files written before the formats were versioned (no version field) are read as format 1 with the checks the
readers always made (a summary has `task` and `metrics`, a record has an `id`). A version newer than this
harness knows is refused with the advice to upgrade, never guessed at.

The checker interprets the subset of JSON Schema the published schemas use (type, const, required,
properties, additionalProperties, items, minimum); tests/test_schema.py checks that the reference
implementation (the jsonschema package) agrees on valid and broken files, so the published files are what is
enforced. It is written here rather than imported because it runs on every record of every file read.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from kosmos_eval.errors import DataError

RECORD_FORMAT = 2  # 1: records written before the format was versioned (no `record_format` field)
SUMMARY_FORMAT = 2  # 1: summaries written before `format_version` existed
SCHEMAS = Path(__file__).with_name("schemas")
JSON_TYPES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@cache
def schema(kind: str, version: int) -> dict[str, Any]:
    """The published schema of `kind` ("summary" or "record") at `version`."""
    return json.loads((SCHEMAS / f"{kind}-{version}.schema.json").read_text(encoding="utf-8"))


def schema_path(kind: str, version: int) -> Path:
    return SCHEMAS / f"{kind}-{version}.schema.json"


def check_summary(data: Any, where: str | Path) -> dict[str, Any]:
    """`data` (a summary read from `where`) if it matches its format; else one DataError line."""
    return _check(data, where, "summary", "format_version", SUMMARY_FORMAT, legacy=("task", "metrics"))


def check_record(data: Any, where: str) -> dict[str, Any]:
    """`data` (a samples.jsonl line; `where` is FILE:LINE) if it matches its format; else one DataError line."""
    return _check(data, where, "record", "record_format", RECORD_FORMAT, legacy=("id",))


def _check(
    data: Any, where: str | Path, kind: str, version_field: str, newest: int, legacy: tuple[str, ...]
) -> dict[str, Any]:
    what = "summary" if kind == "summary" else "sample record"
    if not isinstance(data, dict):
        raise DataError(f"{where}: not a kosmos-eval {what} (a JSON object was expected, found {_found(data)})")
    version = data.get(version_field)
    if version is None:  # format 1: written before formats were versioned
        missing = [name for name in legacy if name not in data]
        if missing:
            raise DataError(f"{where}: not a kosmos-eval {what} (no {' and no '.join(map(repr, missing))} field)")
        if kind == "record" and not isinstance(data["id"], (str, int)):
            raise DataError(f"{where}: field 'id': expected a string or an integer, found {_found(data['id'])}")
        return data
    if isinstance(version, bool) or not isinstance(version, int) or version < 2:
        raise DataError(f"{where}: field {version_field!r}: expected a format version, found {_found(version)}")
    if version > newest:
        raise DataError(
            f"{where}: a {what} of format {version}, written by a newer kosmos-eval (this one reads formats 1 to "
            f"{newest}); upgrade kosmos-eval to read it"
        )
    problem = first_problem(data, schema(kind, version))
    if problem is not None:
        field, message = problem
        published = schema_path(kind, version).name
        raise DataError(f"{where}: field {field!r}: {message} (not a {what} of format {version}: {published})")
    return data


def first_problem(value: Any, rules: dict[str, Any], field: str = "") -> tuple[str, str] | None:
    """The first place where `value` breaks `rules` (a JSON Schema of the supported subset), as (field, what is
    wrong), or None when it matches."""
    label = field or "(the whole file)"
    if "const" in rules and (value != rules["const"] or isinstance(value, bool) != isinstance(rules["const"], bool)):
        return label, f"expected {json.dumps(rules['const'])}, found {_found(value)}"
    types = rules.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, kind) for kind in allowed):
            return label, f"expected {' or '.join(JSON_TYPES[kind] for kind in allowed)}, found {_found(value)}"
    if "minimum" in rules and _is(value, "number") and value < rules["minimum"]:
        return label, f"expected at least {rules['minimum']}, found {_found(value)}"
    if isinstance(value, dict):
        for name in rules.get("required", ()):
            if name not in value:
                return _join(field, name), "missing"
        properties = rules.get("properties", {})
        extra = rules.get("additionalProperties", True)
        for name, item in value.items():
            sub = properties.get(name, extra)
            if sub is False:
                return _join(field, name), "not a field of this format"
            if isinstance(sub, dict):
                problem = first_problem(item, sub, _join(field, name))
                if problem is not None:
                    return problem
    if isinstance(value, list) and isinstance(rules.get("items"), dict):
        for index, item in enumerate(value):
            problem = first_problem(item, rules["items"], f"{field}[{index}]")
            if problem is not None:
                return problem
    return None


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
    }[kind]


def _join(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name


def _found(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
