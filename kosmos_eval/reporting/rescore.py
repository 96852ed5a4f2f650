"""`kosmos-eval score RUN_DIR`: recompute a run's scores from its samples.jsonl, without a model.

For after a metric fix (a new harness version) or to read the same outputs with another scoring option.
Records keep the backend's raw outputs (generated text, per-candidate log-probabilities), so every example is
scored again with the task's current `score` against its gold data, then aggregated. Where that is not
possible (records written before raw outputs were kept, rankings too large to store, or the data folder is
gone) the per-sample scores are kept as recorded and only the corpus metrics are recomputed; the new summary
says which happened. Nothing is overwritten: the new summary (and re-scored samples, when per-sample scores
were recomputed) are written beside the old files, and leaderboards and comparisons take the newest summary.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kosmos_eval.core.files import write_json_atomic, write_lines_atomic
from kosmos_eval.data.locate import SAMPLE_NOTE, is_sample_summary, resolve_data_dir
from kosmos_eval.errors import UserError
from kosmos_eval.reporting.runs import Run, load_run
from kosmos_eval.runner.provenance import harness_commit, package_versions
from kosmos_eval.runner.records import KEPT_FIELDS, restore_outputs, run_notes, scores_summary
from kosmos_eval.tasks.base import Task
from kosmos_eval.tasks.capabilities import check_environment


def rescore(
    run_dir: Path, options: dict[str, str] | None = None, seed: int | None = None, data_dir: Path | None = None
) -> tuple[Path, Run]:
    """Re-score the run in `run_dir` with the current metric code; returns the new summary's path and the run
    as it now reads. `options` may change only the task's `scoring_options` (others would change the prompts
    the records were made with); `data_dir` replaces the data folder the run recorded."""
    from kosmos_eval.core.registry import TASKS

    run = load_run(run_dir)
    base = run.summary
    original = dict(base.get("config", {}).get("task_options") or {})
    merged = {**original, **(options or {})}
    task_cls = TASKS.get(run.task)
    task_cls(seed=run.seed, options=merged)  # unknown options are refused here, with the task's option list
    scoring = tuple(getattr(task_cls, "scoring_options", ()))
    changed = sorted(key for key in (options or {}) if original.get(key) != merged[key])
    prompt_changing = [key for key in changed if key not in scoring]
    if prompt_changing:
        raise UserError(
            f"--task-option {prompt_changing[0]} changes what the model was asked, not how it is scored; "
            f"run the task again instead (scoring options of {run.task}: {', '.join(scoring) or 'none'})"
        )
    seed = run.seed if seed is None else seed
    task = task_cls(seed=seed, options=merged)
    check_environment(task)
    records, how = rescore_records(task, run, data_dir)
    scores = task.aggregate(records)
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    summary: dict[str, Any] = {
        **base,
        **scores_summary(task, scores, records, _data_notes(base)),
        "versions": package_versions(),
        "harness": harness_commit(),
        "created": now.isoformat(timespec="seconds"),
        "config": {**base.get("config", {}), "task_options": merged},
        "rescored": {"from": run.summary_path.name, "task_options": merged, "seed": seed, "per_sample": how},
    }
    if how == "recomputed":
        samples = run.path / f"samples-rescored-{stamp}.jsonl"
        write_lines_atomic(samples, (json.dumps(r, default=str) + "\n" for r in records))
        summary["samples_file"] = samples.name
    path = run.path / f"summary-rescored-{stamp}.json"
    write_json_atomic(path, summary)
    return path, load_run(run.path)


def rescore_records(task: Task, run: Run, data_dir: Path | None) -> tuple[list[dict[str, Any]], str]:
    """The run's records with per-sample scores recomputed where possible, and how: "recomputed", or why the
    recorded per-sample scores were kept."""

    records = run.records
    if not all("outputs" in record for record in records):
        return records, "kept: the records have no raw outputs (written by an older harness, or rankings too large)"
    folder = data_dir or run.summary.get("data", {}).get("dir")
    # a sample run reads the sample of this installation (the recorded path may be another machine's)
    from_sample = data_dir is None and is_sample_summary(run.summary)
    try:
        resolved, _ = resolve_data_dir(task.name, None if from_sample else folder, sample=from_sample)
        examples = {e.id: e for e in task.load(run.split, resolved)}
    except Exception as exc:  # gold data gone or unreadable: corpus metrics can still be recomputed
        return records, f"kept: the gold data could not be read ({exc}); pass --data-dir"
    missing = [r["id"] for r in records if r["id"] not in examples]
    if missing:
        return records, f"kept: {len(missing)} record ids are not in the data (first {missing[0]!r}); pass --data-dir"
    # each record is replaced where it stands, so the old and the new records are never both held
    for index, record in enumerate(records):
        kept = {key: record[key] for key in KEPT_FIELDS if key in record}
        fresh = task.score(examples[record["id"]], restore_outputs(record["outputs"]))
        records[index] = {**kept, **fresh, "outputs": record["outputs"]}
    return records, "recomputed"


def _data_notes(summary: dict[str, Any]) -> list[str]:
    """The runner's notes a re-scored summary keeps (data, the sample's own answers, a setting outside the
    paper's); the sample's note is added to an older sample summary that lacks it."""
    kept = run_notes(summary)
    return [SAMPLE_NOTE, *kept] if is_sample_summary(summary) and SAMPLE_NOTE not in kept else kept
