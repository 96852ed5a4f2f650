"""Leaderboards: every run's metrics as one tidy table, beside the paper's reported numbers.

Tidy = one row per (model, task, variant, shots, metric): the shape pandas, spreadsheets and plotting tools
want. Values are on the paper's scale (metric x 100: accuracy in percent, CIDEr as the paper prints it), so a
run's row reads directly against the paper's. Where a model/task/variant/shots/seed was run more than once,
the latest run wins unless every run is asked for; several seeds of one setting are averaged, with their
standard deviation, as few-shot results are reported.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import pandas as pd

from kosmos_eval.reporting.paper import paper_split
from kosmos_eval.reporting.runs import Run

SCALE = 100.0  # summaries hold 0-1 values; tables use the paper's scale
COLUMNS = [
    "source",
    "model",
    "fingerprint",
    "task",
    "variant",
    "shots",
    "split",
    "seeds",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "std",
    "n",
    "harness",
    "date",
    "run_dir",
]
# a run on a bundled sample is its own source ("sample"), so it never replaces or averages with a real run
RUN_KEY = ["source", "model", "task", "variant", "shots", "split", "seed"]
SOURCE_ORDER = {"run": 0, "sample": 1, "paper": 2}


def run_rows(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run and metric, before any latest-wins or seed averaging."""
    rows = []
    for run in runs:
        summary = run.summary
        harness = summary.get("harness", {}) or {}
        version = (summary.get("versions", {}) or {}).get("kosmos-eval", "")
        commit = str(harness.get("commit") or "")[:10]
        for metric, value in summary.get("metrics", {}).items():
            rows.append(
                {
                    "source": "sample" if run.sample else "run",
                    "model": run.model,
                    "fingerprint": run.fingerprint,
                    "task": run.task,
                    "variant": run.variant,
                    "shots": run.shots,
                    "split": run.split,
                    "seed": run.seed,
                    "metric": metric,
                    "headline": metric == summary.get("headline"),
                    "value": _scaled(value.get("value")),
                    "ci_low": _scaled(value.get("ci_low")),
                    "ci_high": _scaled(value.get("ci_high")),
                    "n": value.get("n"),
                    "harness": f"{version}+{commit}" if commit else version,
                    "date": run.created,
                    "run_dir": str(run.path),
                }
            )
    return pd.DataFrame(rows)


def _scaled(value: float | None) -> float | None:
    return None if value is None else round(float(value) * SCALE, 6)


def latest_only(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep, for every model/task/variant/shots/split/seed, the rows of its most recent run."""
    if frame.empty:
        return frame
    newest = frame.groupby(RUN_KEY, dropna=False)["date"].transform("max")
    return frame[frame["date"] == newest]


def average_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per model/task/variant/shots/split/metric: a single seed keeps its CI; several seeds give the
    mean, the sample standard deviation across seeds, and no CI (the spread across seeds is the honest one)."""
    if frame.empty:
        return frame
    out = []
    keys = ["source", "model", "task", "variant", "shots", "split", "metric"]
    for _, group in frame.groupby(keys, sort=False, dropna=False):
        first = group.iloc[0].to_dict()
        seeds = sorted(group["seed"].unique().tolist())
        if len(group) == 1:
            first["seeds"] = str(seeds[0])
            first["std"] = None
        else:
            values = [v for v in group["value"].tolist() if v is not None]
            first.update(
                seeds=",".join(map(str, seeds)),
                value=statistics.fmean(values) if values else None,
                std=statistics.stdev(values) if len(values) > 1 else 0.0,
                ci_low=None,
                ci_high=None,
                n=int(group["n"].max()),  # examples per run: the seeds repeat the same examples
                fingerprint=",".join(sorted(set(group["fingerprint"]))),
                date=group["date"].max(),
                run_dir=";".join(group["run_dir"]),
            )
        out.append(first)
    return pd.DataFrame(out)


def paper_rows(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's numbers in the leaderboard's columns (source "paper", model named as in the paper)."""
    return pd.DataFrame(
        {
            "source": "paper",
            "model": paper["model"],
            "fingerprint": "",
            "task": paper["task"],
            "variant": paper["variant"],
            "shots": paper["shots"],
            "split": [paper_split(task) for task in paper["task"]],
            "seeds": "",
            "metric": paper["metric"],
            "value": paper["value"],
            "ci_low": None,
            "ci_high": None,
            "std": None,
            "n": None,
            "harness": "",
            "date": "",
            "run_dir": "table " + paper["table"].astype(str),
            "headline": True,
        }
    )


def leaderboard(runs: Sequence[Run], paper: pd.DataFrame | None = None, all_runs: bool = False) -> pd.DataFrame:
    """The tidy leaderboard: the runs (latest per setting unless `all_runs`, seeds averaged) then the paper's
    reference rows for the tasks the runs on real data cover (all of them when there are no runs at all). Runs
    on a bundled sample have source "sample" and bring no paper rows: their numbers are not comparable."""
    frame = run_rows(runs)
    if not frame.empty:
        if all_runs:
            frame = frame.assign(seeds=frame["seed"].astype(str), std=None)
        else:
            frame = average_seeds(latest_only(frame))
    parts = [frame] if not frame.empty else []
    if paper is not None and not paper.empty:
        reference = paper_rows(paper)
        if not frame.empty:
            reference = reference[reference["task"].isin(set(frame.loc[frame["source"] == "run", "task"]))]
        parts.append(reference)
    if not parts:
        return pd.DataFrame(columns=[*COLUMNS, "headline"])
    table = pd.concat(parts, ignore_index=True)
    for column in ("value", "ci_low", "ci_high", "std"):
        table[column] = pd.to_numeric(table[column]).astype("float64")
    table["n"] = pd.to_numeric(table["n"]).astype("Int64")
    # the user's runs first within each task/variant/shots, then the paper's models beside them
    table["_source"] = table["source"].map(SOURCE_ORDER)
    table = table.sort_values(by=["task", "variant", "shots", "_source", "model"], kind="stable")
    return table[[*COLUMNS, "headline"]].reset_index(drop=True)


TERMINAL_COLUMNS = [
    "source",
    "model",
    "task",
    "variant",
    "shots",
    "seeds",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "std",
    "n",
]


def column_label(task: str, variant: str, metric: str, shots: int) -> str:
    tail = f" [{variant}]" if variant else ""
    return f"{task} {metric} {shots}-shot{tail}"


def wide(
    table: pd.DataFrame, order: Sequence[tuple[str, str, str, int]] = (), headline_only: bool = True
) -> pd.DataFrame:
    """One row per model, one column per task/metric/shots(/variant): the paper's columns in its table order
    first (`order`: (task, variant, metric, shots) tuples), then any others the runs add, sorted."""
    if table.empty:
        return pd.DataFrame()
    rows = table[table["headline"]] if headline_only else table
    keys = list(dict.fromkeys(zip(rows["task"], rows["variant"], rows["metric"], rows["shots"], strict=True)))
    rank = {key: i for i, key in enumerate(order)}
    keys.sort(key=lambda key: (rank.get(key, len(rank)), key))
    labelled = rows.assign(
        column=[
            column_label(*key) for key in zip(rows["task"], rows["variant"], rows["metric"], rows["shots"], strict=True)
        ]
    )
    pivot = labelled.pivot_table(
        index=["source", "model"], columns="column", values="value", aggfunc="first", sort=False
    )
    pivot = pivot.reindex(columns=[column_label(*key) for key in keys])
    pivot = pivot.reset_index()
    # the user's runs first, then the paper's models, each in first-seen order
    pivot["_order"] = pivot["source"].map(SOURCE_ORDER)
    return pivot.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def to_markdown(frame: pd.DataFrame, digits: int = 1) -> str:
    """A GitHub-flavoured markdown table (no extra dependency); empty cells for missing values."""
    if frame.empty:
        return "(no results)\n"
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if value is None or (isinstance(value, float) and pd.isna(value)):
                cells.append("")
            elif isinstance(value, float):
                cells.append(f"{value:.{digits}f}")
            else:
                cells.append(str(value).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
