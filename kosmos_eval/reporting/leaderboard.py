"""Leaderboards: every run's metrics as one tidy table, beside the paper's reported numbers.

Tidy = one row per result and metric: the shape pandas, spreadsheets and plotting tools want. Values are on
the paper's scale (metric x 100: accuracy in percent, CIDEr as the paper prints it), so a run's row reads
directly against the paper's. A row is one setting identity (kosmos_eval.core.identity: everything that can
change a number, except the seed): runs that differ in anything that can move a number are never one row, and
several seeds of one setting are averaged, with their standard deviation, as few-shot results are reported.
Several runs of one identity are one result (reporting/selection.py says which stands for them).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import pandas as pd

from kosmos_eval.reporting.markdown import markdown_text
from kosmos_eval.reporting.paper import paper_split
from kosmos_eval.reporting.runs import Run
from kosmos_eval.reporting.selection import latest_per_identity, model_labels

SCALE = 100.0  # summaries hold 0-1 values; tables use the paper's scale
COLUMNS = [
    "source",
    "model",
    "fingerprint",
    "task",
    "variant",
    "shots",
    "split",
    "sampler",
    "chat_template",
    "seeds",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "std",
    "n",
    "harness",
    "date",
    "prompt",
    "identity",
    "run_dir",
]
HIDDEN = ["headline"]  # kept in the table for `wide`, never written
SOURCE_ORDER = {"run": 0, "other setting": 1, "other data": 2, "sample": 3, "paper": 4}
DEFAULT_SAMPLER = "random"  # the paper's few-shot demos; another sampler is named in wide column labels


def run_rows(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run and metric, before any seed averaging. `identity` is the run's setting hash (the
    row key: equal for the seeds of one setting), `model` its label among these runs."""
    labels = model_labels(runs)
    rows = []
    for run in runs:
        summary = run.summary
        harness = summary.get("harness", {}) or {}
        version = (summary.get("versions", {}) or {}).get("kosmos-eval", "")
        commit = str(harness.get("commit") or "")[:10]
        for metric, value in summary.get("metrics", {}).items():
            rows.append(
                {
                    "source": source(run),
                    "model": labels[run.model_key],
                    "fingerprint": run.fingerprint,
                    "task": run.task,
                    "variant": run.variant,
                    "shots": run.shots,
                    "split": run.split,
                    "sampler": run.sampler,
                    "chat_template": run.chat_template,
                    "seed": run.seed,
                    "metric": metric,
                    "headline": metric == summary.get("headline"),
                    "value": _scaled(value.get("value")),
                    "ci_low": _scaled(value.get("ci_low")),
                    "ci_high": _scaled(value.get("ci_high")),
                    "n": value.get("n"),
                    "harness": f"{version}+{commit}" if commit else version,
                    "date": run.created,
                    "prompt": run.prompt_hash[:8],
                    "identity": run.setting_hash,
                    "run_dir": str(run.path),
                }
            )
    return pd.DataFrame(rows)


def source(run: Run) -> str:
    """Which rows a run stands among. A run on a bundled sample, on a hub copy that is not the paper's split, or
    at shots or decoding the paper does not report (--shots 3, --gen-kwargs) is its own source: never averaged
    with or replacing a run of the paper's setting, and it brings no paper rows."""
    if run.sample:
        return "sample"
    if run.not_paper_data:
        return "other data"
    return "run" if run.paper_setting else "other setting"


def _scaled(value: float | None) -> float | None:
    return None if value is None else round(float(value) * SCALE, 6)


def average_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per setting identity and metric: a single seed keeps its CI; several seeds give the mean, the
    sample standard deviation across seeds, and no CI (the spread across seeds is the honest one)."""
    if frame.empty:
        return frame
    out = []
    for _, group in frame.groupby(["identity", "metric"], sort=False, dropna=False):
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
            "sampler": "",
            "chat_template": "",
            "seeds": "",
            "metric": paper["metric"],
            "value": paper["value"],
            "ci_low": None,
            "ci_high": None,
            "std": None,
            "n": None,
            "harness": "",
            "date": "",
            "prompt": "",
            "identity": "",
            "run_dir": "table " + paper["table"].astype(str),
            "headline": True,
        }
    )


def leaderboard(runs: Sequence[Run], paper: pd.DataFrame | None = None, all_runs: bool = False) -> pd.DataFrame:
    """The tidy leaderboard: the runs (one per identity and seeds averaged, unless `all_runs`: every run, one
    row each) then the paper's reference rows for the tasks the runs on real data cover (all of them when there
    are no runs at all). Runs on a bundled sample have source "sample", runs on a hub copy that is not the
    paper's split "other data", runs at shots or decoding the paper does not report "other setting", and none
    of them brings paper rows: their numbers are not comparable. Which runs were
    left out: `latest_per_identity`, which callers can show."""
    if not all_runs:
        runs, _ = latest_per_identity(runs)
    frame = run_rows(runs)
    if not frame.empty:
        frame = frame.assign(seeds=frame["seed"].astype(str), std=None) if all_runs else average_seeds(frame)
    parts = [frame] if not frame.empty else []
    if paper is not None and not paper.empty:
        reference = paper_rows(paper)
        if not frame.empty:
            reference = reference[reference["task"].isin(set(frame.loc[frame["source"] == "run", "task"]))]
        parts.append(reference)
    if not parts:
        return pd.DataFrame(columns=[*COLUMNS, *HIDDEN])
    table = pd.concat(parts, ignore_index=True)
    for column in ("value", "ci_low", "ci_high", "std"):
        table[column] = pd.to_numeric(table[column]).astype("float64")
    table["n"] = pd.to_numeric(table["n"]).astype("Int64")
    # the user's runs first within each task/variant/shots, then the paper's models beside them
    table["_source"] = table["source"].map(SOURCE_ORDER)
    table = table.sort_values(by=["task", "variant", "shots", "_source", "model", "sampler"], kind="stable")
    return table[[*COLUMNS, *HIDDEN]].reset_index(drop=True)


TERMINAL_COLUMNS = [
    "source",
    "model",
    "task",
    "variant",
    "shots",
    "sampler",
    "chat_template",
    "seeds",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "std",
    "n",
]
OPTIONAL_TERMINAL = ("sampler", "chat_template")  # shown where some row has one
# shown where two rows would otherwise read the same (another split, prompt or data folder of one model)
WHY_DIFFERENT = ("split", "prompt", "identity")
TAG_NAMES = {"seeds": "seed", "run_dir": "run"}  # how a wide column label names the field that sets it apart


def public(table: pd.DataFrame) -> pd.DataFrame:
    """The table as written to CSV and markdown: without the columns kept only for `wide`."""
    return table.drop(columns=[c for c in HIDDEN if c in table.columns])


def terminal_view(table: pd.DataFrame) -> pd.DataFrame:
    """The columns a terminal has room for: the CSV's identifying columns only where they tell rows apart."""
    columns = [c for c in TERMINAL_COLUMNS if c in table.columns]
    columns = [c for c in columns if c not in OPTIONAL_TERMINAL or table[c].fillna("").astype(str).ne("").any()]
    shown_key = [c for c in columns if c not in ("value", "ci_low", "ci_high", "std", "n")]
    if not table.empty and table.duplicated(subset=shown_key).any():
        columns[columns.index("shots") + 1 : columns.index("shots") + 1] = list(WHY_DIFFERENT)
    return table[columns]


def column_label(task: str, variant: str, metric: str, shots: int, tags: Sequence[str] = ()) -> str:
    """A wide column: `task metric k-shot`, then the variant and any other tag (a non-default sampler)."""
    tail = [t for t in (variant, *tags) if t]
    return f"{task} {metric} {shots}-shot" + (f" [{'; '.join(tail)}]" if tail else "")


def _tags(rows: pd.DataFrame) -> list[list[str]]:
    """Per row, what its column label adds to task/metric/shots/variant: a non-default sampler always, and
    where one model has several settings behind one column (another split, prompt, data folder, or seeds
    kept apart by --all), the fields that tell them apart, so no cell silently stands for two results."""
    tags = [[f"sampler={s}"] if s and s != DEFAULT_SAMPLER else [] for s in rows["sampler"].fillna("")]
    base = [
        column_label(*key, tags=tag)
        for key, tag in zip(
            zip(rows["task"], rows["variant"], rows["metric"], rows["shots"], strict=True), tags, strict=True
        )
    ]
    frame = rows.assign(_base=base, _position=range(len(rows)))
    for _, group in frame.groupby(["source", "model", "_base"], sort=False):
        if len(group) < 2:
            continue
        shown: list[str] = []
        for name in ("split", "prompt", "identity", "seeds", "run_dir"):
            if group[name].nunique(dropna=False) > 1:
                shown.append(name)
                if not group.duplicated(subset=shown).any():
                    break
        for _, row in group.iterrows():
            tags[row["_position"]] += [f"{TAG_NAMES.get(name, name)}={row[name]}" for name in shown]
    return tags


def wide(
    table: pd.DataFrame, order: Sequence[tuple[str, str, str, int]] = (), headline_only: bool = True
) -> pd.DataFrame:
    """One row per model label, one column per task/metric/shots(/variant, /sampler): the paper's columns in
    its table order first (`order`: (task, variant, metric, shots) tuples), then any others the runs add,
    sorted. Labels tell model identities apart and `_tags` settings, so every cell is one result."""
    if table.empty:
        return pd.DataFrame()
    rows = table[table["headline"]] if headline_only else table
    rows = rows.reset_index(drop=True)
    keys = list(zip(rows["task"], rows["variant"], rows["metric"], rows["shots"], strict=True))
    labels = [column_label(*key, tags=tag) for key, tag in zip(keys, _tags(rows), strict=True)]
    rank = {key: i for i, key in enumerate(order)}
    placed = dict.fromkeys(zip(keys, labels, strict=True))
    columns = sorted(placed, key=lambda kl: (rank.get(kl[0], len(rank)), kl[0], kl[1]))
    pivot = rows.assign(column=labels).pivot_table(
        index=["source", "model"], columns="column", values="value", aggfunc="first", sort=False
    )
    pivot = pivot.reindex(columns=[label for _, label in columns]).reset_index()
    # the user's runs first, then the paper's models, each in first-seen order
    pivot["_order"] = pivot["source"].map(SOURCE_ORDER)
    return pivot.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would evaluate (`=HYPERLINK(...)`, `@SUM(...)`, `+cmd|...`) with a leading
    apostrophe, the mark spreadsheets read as "this is text"; numbers and other text are unchanged. Model
    names come from folders and servers the user did not name, so a CSV opened in a spreadsheet must not run
    them."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame) -> str:
    """The table as CSV text for a spreadsheet: every text cell and column name passed through
    `spreadsheet_safe`, values with four decimals (the CSV keeps more than the one the terminal shows)."""
    safe = frame.rename(columns=spreadsheet_safe)
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(spreadsheet_safe)
    return safe.to_csv(index=False, float_format="%.4f", lineterminator="\n")


def to_markdown(frame: pd.DataFrame, digits: int = 1) -> str:
    """A GitHub-flavoured markdown table (no extra dependency); empty cells for missing values."""
    if frame.empty:
        return "(no results)\n"
    header = [markdown_text(str(c)) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if value is None or (isinstance(value, float) and pd.isna(value)):
                cells.append("")
            elif isinstance(value, float):
                cells.append(f"{value:.{digits}f}")
            else:
                cells.append(markdown_text(str(value)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
