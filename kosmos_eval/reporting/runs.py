"""Finding finished runs on disk and reading them back: what `leaderboard`, `compare`, `score` and `report` share.

A run folder holds run.json, samples.jsonl and one or more summaries: summary.json from the run itself and
summary-rescored-<time>.json from each `kosmos-eval score`. The newest summary (by its `created` stamp, or the
run's timing.json for a summary without one) is the run's current result, so a re-scored run counts with its
new metrics everywhere without losing the old file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from kosmos_eval.core.files import open_plain, read_json
from kosmos_eval.core.identity import (
    fingerprint_id,
    identity_hash,
    model_identity,
    run_identity,
    setting_identity,
    task_identity,
)
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.reporting.confine import confined, inside, warn
from kosmos_eval.runner.results import SAMPLES, RunFolder, decode_record
from kosmos_eval.runner.schema import check_record, check_summary, first_problem

SUMMARY_GLOB = "summary*.json"
TIMING = "timing.json"  # when the run finished and how long it took (kept out of summary.json)
__all__ = ["Run", "find_runs", "fingerprint_id", "load_run", "model_name", "read_summary", "variant_of"]

# The fields readers compute with, checked in a summary of any format: format 1 has no published schema and
# format 2's leaves breakdowns open, yet `int(shots)`, `float(value)` and `.get` on them must not meet text or a
# list. A summary from someone else whose numbers are not numbers (n = "<script>...") is refused in one line
# rather than trusted, shown, or turned into a traceback.
_INTEGER = {"type": ["integer", "null"]}
_NUMBER = {"type": ["number", "null"]}
_OBJECT = {"type": ["object", "null"]}
_SETTING = {
    "type": ["object", "null"],
    "properties": {"shots": _INTEGER, "seed": _INTEGER, "model_args": _OBJECT, "task_options": _OBJECT},
}
READ_FIELDS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "shots": {"type": "integer", "minimum": 0},
        "seed": {"type": "integer"},
        "n": {"type": "integer", "minimum": 0},
        "metrics": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"value": _NUMBER, "ci_low": _NUMBER, "ci_high": _NUMBER, "n": _INTEGER},
            },
        },
        "breakdowns": {
            "type": ["object", "null"],
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"value": _NUMBER, "n": _INTEGER}},
            },
        },
        "notes": {"type": ["array", "null"]},
        "identity": _SETTING,
        "config": {**_SETTING, "properties": {**_SETTING["properties"], "example_ids": {"type": ["array", "null"]}}},
        "data": {"type": ["object", "null"], "properties": {"dir": {"type": ["string", "null"]}}},
        "versions": _OBJECT,
        "harness": _OBJECT,
        "decoding": _OBJECT,
        "fingerprint": _OBJECT,
        "samples_file": {"type": "string"},
    },
}


def model_name(summary: dict[str, Any]) -> str:
    """The name a run's model goes by in tables: the checkpoint id or folder name, else the backend's name."""
    if summary.get("model"):  # every summary since the name was recorded
        return str(summary["model"])
    from kosmos_eval.core.registry import BACKENDS

    config = summary.get("config") or {}
    backend = str(config.get("backend") or "unknown")
    args = config.get("model_args", {}) or {}
    return BACKENDS.get(backend).model_name(args) if backend in BACKENDS else str(args.get("model") or backend)


def variant_of(summary: dict[str, Any]) -> str:
    """Task options that differ from the task's defaults (recorded by the run; recomputed for older runs)."""
    if "variant" in summary:
        return str(summary["variant"])
    options = (summary.get("config") or {}).get("task_options") or {}
    if not options:
        return ""
    try:
        from kosmos_eval.core.registry import TASKS

        return TASKS.get(summary["task"])(options=options).variant
    except Exception:  # an option the current harness no longer knows: show it as given
        return ";".join(f"{k}={v}" for k, v in sorted(options.items()))


@dataclass
class Run:
    """One finished run folder with its newest summary."""

    path: Path
    summary: dict[str, Any]
    summary_path: Path
    older_summaries: list[Path] = field(default_factory=list)

    @property
    def task(self) -> str:
        return str(self.summary["task"])

    @property
    def shots(self) -> int:
        return int(self.summary.get("shots", 0))

    @property
    def seed(self) -> int:
        return int(self.summary.get("seed", 0))

    @property
    def split(self) -> str:
        return str(self.summary.get("split", ""))

    @property
    def model(self) -> str:
        return model_name(self.summary)

    @property
    def fingerprint(self) -> str:
        """A short id of the model's fingerprint (its weights hash where known), the same for every seed."""
        return fingerprint_id(self.model_identity.get("fingerprint"))

    @property
    def variant(self) -> str:
        return variant_of(self.summary)

    @cached_property
    def created(self) -> str:
        """When the run's current result was written (ISO 8601, UTC): what "newest" means everywhere."""
        return summary_time(self.summary, self.summary_path)

    @property
    def n(self) -> int:
        """Examples the summary covers."""
        return int(self.summary.get("n") or 0)

    @property
    def prompt_hash(self) -> str:
        return str(self.identity.get("prompt_hash") or "")

    @property
    def sampler(self) -> str:
        """The few-shot demo sampler ("" for zero-shot runs, which draw no demos)."""
        return str(self.identity.get("sampler") or "")

    @property
    def chat_template(self) -> str:
        """Empty where prompts were plain text, else "on" (with the template's short hash where recorded): what
        tells the leaderboard's reader why two rows of one checkpoint differ."""
        model = self.model_identity
        sha = (model.get("fingerprint") or {}).get("chat_template_sha256")
        if sha:
            return f"on:{str(sha)[:8]}"
        given = str((model.get("model_args") or {}).get("chat_template", "")).lower()
        return "on" if given in {"true", "1", "yes", "on"} else ""

    @cached_property
    def identity(self) -> dict[str, Any]:
        """Everything that can change this run's numbers (kosmos_eval.core.identity)."""
        identity = run_identity(self.summary, variant=self.variant, model_args=_identity_args(self.summary))
        if self.gen_kwargs:  # decoding laid over the template's: another setting (absent before --gen-kwargs)
            identity["gen_kwargs"] = self.gen_kwargs
        return identity

    @property
    def gen_kwargs(self) -> dict[str, Any]:
        """The --gen-kwargs the run was made with ({} for the template's decoding)."""
        recorded = self.summary.get("gen_kwargs") or (self.summary.get("identity") or {}).get("gen_kwargs")
        return dict(sorted(recorded.items())) if isinstance(recorded, dict) else {}

    @cached_property
    def setting(self) -> dict[str, Any]:
        """The identity without the seed: runs with equal settings are seeds of one result."""
        return setting_identity(self.identity)

    @cached_property
    def identity_hash(self) -> str:
        return identity_hash(self.identity)

    @cached_property
    def setting_hash(self) -> str:
        return identity_hash(self.setting)

    @property
    def model_identity(self) -> dict[str, Any]:
        return model_identity(self.setting)

    @cached_property
    def model_key(self) -> str:
        """A hash of the model side (backend, model args, fingerprint, decoding policy), equal across seeds."""
        return identity_hash(self.model_identity)

    @cached_property
    def task_key(self) -> str:
        """A hash of what the model was asked (the identity without the model and the data's folder), with the
        seed: `compare` pairs a baseline and a candidate run by it."""
        return identity_hash(task_identity(self.identity))

    @property
    def sample(self) -> bool:
        """Computed on a bundled synthetic sample: never set beside the paper's numbers or gated against real data."""
        return bool(self.identity["data"]["sample"])

    @property
    def not_paper_data(self) -> bool:
        """Read from a hub copy that is not the paper's split (another selection, another set, another row
        count): like a sample run, never set beside the paper's numbers."""
        data = self.summary.get("data")
        return isinstance(data, dict) and data.get("paper_split") is False

    @property
    def paper_setting(self) -> bool:
        """Shots and decoding the paper reports for the task (`summary["paper_setting"]`; runs made before the
        label read as the paper's unless they record --gen-kwargs): only then beside the paper's numbers."""
        return self.summary.get("paper_setting") is not False and not self.gen_kwargs

    @property
    def task_options(self) -> dict[str, str]:
        return dict((self.summary.get("config") or {}).get("task_options") or {})

    @property
    def label(self) -> str:
        """How messages name the run: task, shots, variant and folder."""
        variant = f" [{self.variant}]" if self.variant else ""
        sample = " on the bundled sample" if self.sample else ""
        other = "" if self.paper_setting else " (not a paper setting)"
        return f"{self.task} {self.shots}-shot{variant}{other}{sample} ({self.path})"

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """The per-example records the summary was computed from, in the order the run evaluated them."""
        rescored = self.summary.get("samples_file")
        if rescored:  # `kosmos-eval score` recomputed the per-sample scores into a file of its own
            # ...which it writes into the run folder and names relatively: a name that leads anywhere else (an
            # absolute path, `..`, a link out) is someone else's file, never read
            path = confined(self.path, rescored, [self.path])
            if path is None:
                warn(
                    f"{self.path}: the summary's field 'samples_file' names {rescored!r}, outside the run folder; "
                    f"not read (showing the folder's own {SAMPLES} instead)"
                )
            elif not path.exists():
                raise DataError(f"{self.summary_path}: names {rescored}, which is missing from {self.path}")
            else:
                return read_rescored_records(path)
        if not (self.path / SAMPLES).exists():
            raise DataError(f"{self.path}: no {SAMPLES}; is this a run folder?")
        records = RunFolder(self.path).load_records(repair=False)  # a reader never cuts a live run's file
        # the folder may hold more records than the summary covers (a run extended, then re-summarised with a
        # smaller --limit; a fixed-id slice sharing the folder of a full run): take what the summary took
        selected = (self.summary.get("config") or {}).get("example_ids")
        if selected:
            return [records[str(i)] for i in selected if str(i) in records]
        return list(records.values())[: int(self.summary.get("n", len(records)))]


def _identity_args(summary: dict[str, Any]) -> dict[str, Any] | None:
    """For a summary older than its recorded identity: the model args without the backend's speed-only ones."""
    if "identity" in summary:
        return None
    config = summary.get("config") or {}
    from kosmos_eval.core.registry import BACKENDS

    backend = str(config.get("backend") or "")
    args = config.get("model_args") or {}
    return BACKENDS.get(backend).identity_args(args) if backend in BACKENDS else None


def summary_time(summary: dict[str, Any], path: Path) -> str:
    """When a summary was written: its own `created` stamp (re-scored summaries, older runs); else the
    `finished` of the run's timing.json (summary.json holds the result only, so a resumed run rewrites it byte
    for byte) unless the summary is newer than that file; else the summary file's modification time."""
    if summary.get("created"):
        return str(summary["created"])
    timing_path = path.with_name(TIMING)
    try:
        written = path.stat().st_mtime
        # a timing.json that links out of the folder is someone else's file: not read
        here = inside(timing_path, [path.parent])
        if here and timing_path.exists() and timing_path.stat().st_mtime >= written:
            timing = json.loads(timing_path.read_text(encoding="utf-8"))
            if isinstance(timing, dict) and timing.get("finished"):
                return str(timing["finished"])
    except (OSError, ValueError):  # unreadable timing: the file's own time still orders runs
        pass
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    except OSError:
        return ""


def read_rescored_records(path: Path) -> list[dict[str, Any]]:
    """The records `kosmos-eval score` wrote (samples-rescored-TIME.jsonl), each checked like samples.jsonl's."""
    records = []
    with os.fdopen(open_plain(path, os.O_RDONLY), "rb") as handle:  # a line at a time: the file is never whole
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = decode_record(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise DataError(f"{path}:{number}: not a JSON record (damaged file?)") from None
            records.append(check_record(record, f"{path}:{number}"))
    return records


def read_summary(path: Path) -> dict[str, Any]:
    """A summary file, checked: the one place summaries are read, so a format check added here holds for
    every reader (leaderboard, compare, score, report)."""
    summary = read_json(path, "summary")  # empty, undecodable or cut short: one line naming it
    summary = check_summary(summary, path)  # its format's published schema (runner/schema.py)
    problem = first_problem(summary, READ_FIELDS)
    if problem is not None:
        field, message = problem
        raise DataError(f"{path}: field {field!r}: {message}; not a summary kosmos-eval can read")
    return summary


def load_run(folder: Path) -> Run:
    """The run in `folder`, current as of its newest summary."""
    paths = sorted(folder.glob(SUMMARY_GLOB))
    if not paths:
        raise DataError(f"{folder}: no summary.json; the run has not finished (rerun its command to resume it)")
    summaries = [(read_summary(path), path) for path in paths]
    # newest last; a re-scored summary made in the same second as the original still counts as newer
    summaries.sort(key=lambda pair: (summary_time(*pair), pair[1].name != "summary.json", pair[1].name))
    summary, path = summaries[-1]
    return Run(folder, summary, path, [p for _, p in summaries[:-1]])


def find_runs(paths: Sequence[Path]) -> list[Run]:
    """Every run under `paths`: each may be a run folder or a results root searched recursively."""
    runs: list[Run] = []
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise UserError(f"{path}: no such file or folder")
        if path.is_file():
            raise UserError(f"{path}: give a run folder or a results root, not a file")
        folders = sorted({p.parent for p in path.rglob(SUMMARY_GLOB) if (p.parent / SAMPLES).exists()})
        if (path / SAMPLES).exists() and path not in folders:
            folders.insert(0, path)
        for folder in folders:
            resolved = folder.resolve()
            if resolved not in seen:
                seen.add(resolved)
                runs.append(load_run(folder))
    return runs
