"""Finding finished runs on disk and reading them back: what `leaderboard`, `compare`, `score` and `report` share.

A run folder holds run.json, samples.jsonl and one or more summaries: summary.json from the run itself and
summary-rescored-<time>.json from each `kosmos-eval score`. The newest summary (by its `created` stamp) is the
run's current result, so a re-scored run counts with its new metrics everywhere without losing the old file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kosmos_eval.core.files import read_json
from kosmos_eval.data.locate import is_sample_summary
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.runner.results import SAMPLES, RunFolder

SUMMARY_GLOB = "summary*.json"


def model_name(summary: dict[str, Any]) -> str:
    """The name a run's model goes by in tables: the checkpoint id or folder name, else the backend's name."""
    if summary.get("model"):  # every summary since the name was recorded
        return str(summary["model"])
    import kosmos_eval.backends  # noqa: F401  (registers the backends)
    from kosmos_eval.core.registry import BACKENDS

    config = summary.get("config", {})
    backend = str(config.get("backend") or "unknown")
    args = config.get("model_args", {}) or {}
    return BACKENDS.get(backend).model_name(args) if backend in BACKENDS else str(args.get("model") or backend)


def fingerprint_id(fingerprint: dict[str, Any] | None) -> str:
    """A short stable id of a model fingerprint: its weights hash where known, else a hash of the whole."""
    if not fingerprint:
        return ""
    sha = fingerprint.get("weights_sha256")
    if sha:
        return str(sha)[:12]
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:12]


def variant_of(summary: dict[str, Any]) -> str:
    """Task options that differ from the task's defaults (recorded by the run; recomputed for older runs)."""
    if "variant" in summary:
        return str(summary["variant"])
    options = summary.get("config", {}).get("task_options") or {}
    if not options:
        return ""
    try:
        import kosmos_eval.tasks  # noqa: F401
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
        return fingerprint_id(self.summary.get("fingerprint"))

    @property
    def variant(self) -> str:
        return variant_of(self.summary)

    @property
    def created(self) -> str:
        return str(self.summary.get("created", ""))

    @property
    def prompt_hash(self) -> str:
        return str(self.summary.get("identity", {}).get("prompt_hash", ""))

    @property
    def sample(self) -> bool:
        """Computed on a bundled synthetic sample: never set beside the paper's numbers or gated against real data."""
        return is_sample_summary(self.summary)

    @property
    def task_options(self) -> dict[str, str]:
        return dict(self.summary.get("config", {}).get("task_options") or {})

    @property
    def label(self) -> str:
        """How messages name the run: task, shots, variant and folder."""
        variant = f" [{self.variant}]" if self.variant else ""
        sample = " on the bundled sample" if self.sample else ""
        return f"{self.task} {self.shots}-shot{variant}{sample} ({self.path})"

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """The per-example records the summary was computed from, in the order the run evaluated them."""
        rescored = self.summary.get("samples_file")
        if rescored:  # `kosmos-eval score` recomputed the per-sample scores into a file of its own
            path = self.path / rescored
            if not path.exists():
                raise DataError(f"{self.summary_path}: names {rescored}, which is missing from {self.path}")
            return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not (self.path / SAMPLES).exists():
            raise DataError(f"{self.path}: no {SAMPLES}; is this a run folder?")
        records = RunFolder(self.path).load_records(repair=False)  # a reader never cuts a live run's file
        # the folder may hold more records than the summary covers (a run extended, then re-summarised with a
        # smaller --limit; a fixed-id slice sharing the folder of a full run): take what the summary took
        selected = self.summary.get("config", {}).get("example_ids")
        if selected:
            return [records[str(i)] for i in selected if str(i) in records]
        return list(records.values())[: int(self.summary.get("n", len(records)))]


def read_summary(path: Path) -> dict[str, Any]:
    summary = read_json(path, "summary")  # empty, undecodable or cut short: one line naming it
    if not isinstance(summary, dict) or "task" not in summary or "metrics" not in summary:
        raise DataError(f"{path}: not a kosmos-eval summary (no 'task' and 'metrics' fields)")
    return summary


def load_run(folder: Path) -> Run:
    """The run in `folder`, current as of its newest summary."""
    paths = sorted(folder.glob(SUMMARY_GLOB))
    if not paths:
        raise DataError(f"{folder}: no summary.json; the run has not finished (rerun its command to resume it)")
    summaries = [(read_summary(path), path) for path in paths]
    # newest last; a re-scored summary made in the same second as the original still counts as newer
    summaries.sort(key=lambda pair: (str(pair[0].get("created", "")), pair[1].name != "summary.json", pair[1].name))
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
