"""What `run` prints once runs finish: one block per run, or one table for a suite or task list.

Every value is on the paper's scale (metric x 100) with its 95% interval where the metric has one, and every
line fits the console (cli/console.py: 100 columns, fewer where $COLUMNS says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from kosmos_eval.cli.console import console_width, wrap_note, wrapped_table
from kosmos_eval.data.locate import is_sample_summary

if TYPE_CHECKING:
    from kosmos_eval.metrics.base import MetricValue
    from kosmos_eval.runner.run import RunOutcome


def percent(value: float) -> str:
    """Every metric is printed on the paper's scale: accuracy, VQA accuracy, CIDEr, BLEU... x 100."""
    return f"{value * 100:.1f}"


def interval(value: MetricValue | None) -> str:
    """`9.1-63.6`, the 95% bootstrap interval on the paper's scale ("" where the metric has none)."""
    if value is None or value.ci_low is None or value.ci_high is None:
        return ""
    return f"{percent(value.ci_low)}-{percent(value.ci_high)}"


def model_label(summary: dict, backend: str) -> str:
    """How a header names the model: the checkpoint (a local folder by its name) with its backend, e.g.
    `kosmos-2-patch14-224 (hf)`, rather than the backend alone; the backend where it is the model (chance)."""
    name = summary.get("model")
    return f"{name} ({backend})" if name and name != backend else backend


def print_outcome(outcome: RunOutcome, model: str) -> None:
    """One run: a header naming task, model, shots, seed, split and n; each metric with its interval; the
    summary's notes (wrapped); exported files; the run folder."""
    summary = outcome.summary
    data = " (bundled sample, not a benchmark)" if is_sample_summary(summary) else ""
    part = f" (slice: the folder holds {outcome.folder_records} records)" if outcome.is_slice else ""
    header = (
        f"{summary['task']} | {model_label(summary, model)} | {summary['shots']}-shot | seed {summary['seed']} | "
        f"split {summary['split']}{data} | n={summary['n']}{part}"
    )
    for line in wrap_note(header):
        typer.echo(line)
    width = max((len(name) for name in outcome.metrics), default=0)
    for name, value in outcome.metrics.items():
        typer.echo(f"  {name:<{width}}  {value.format()}")
    for note in summary.get("notes", []):
        for line in wrap_note(f"  note: {note}", indent="        "):
            typer.echo(line)
    for what, path in summary.get("exports", {}).items():
        for line in wrap_note(f"  {what}: {path}", indent="    "):
            typer.echo(line)
    typer.echo(f"run folder: {outcome.run_dir}" + (f" (resumed {outcome.resumed} done)" if outcome.resumed else ""))
    if outcome.is_slice:
        text = (
            f"  slice: these metrics cover the {summary['n']} examples asked for; the folder's summary.json covers "
            f"all {outcome.folder_records} of its records and was left as it is"
        )
        for line in wrap_note(text):
            typer.echo(line)


def _paper_cell(summary: dict, metric: str, mixed: bool) -> str:
    """The paper's number for the run's setting, or why there is none to set beside it. `mixed`: the table
    also holds runs on real data, beside which a run on a bundled sample must say what it is."""
    from kosmos_eval.reporting.paper import paper_split, reference

    task, shots, variant = summary["task"], summary["shots"], summary.get("variant", "")
    if summary.get("paper_setting") is False:  # shots or decoding the paper does not report: not comparable
        return "(other setting)"
    if is_sample_summary(summary):  # a sample run is a smoke test: never beside the paper's numbers
        return "(bundled sample)" if mixed else ""
    paper = reference(task, metric, shots, variant, split=summary["split"])
    if paper is not None:
        return f"{paper:.1f}"
    if reference(task, metric, shots, variant) is not None:
        return f"({paper_split(task)} only)"  # the paper's number is for another split
    return ""


def print_suite_table(outcomes: list[RunOutcome], model: str, output_dir: str) -> None:
    """One row per run: the metric the paper reports for the setting (else the task's headline) with its 95%
    interval and the paper's number. The run folder's name is a column where the table still fits the console;
    a line below says where the folders are. A seed shared by every row is said once, above; empty
    variant and paper columns are left out."""
    from kosmos_eval.reporting.paper import reference

    header = ("task", "variant", "shot", "seed", "metric", "value", "95% CI", "paper", "n", "run folder")
    rows = []
    # a suite on a data root runs Raven on its sample where the root has no raven/ folder: such a row says so
    mixed = len({is_sample_summary(outcome.summary) for outcome in outcomes}) > 1
    for outcome in outcomes:
        summary = outcome.summary
        task, shots, variant = summary["task"], summary["shots"], summary.get("variant", "")
        # the metric the paper reports for this setting (RelativeSize: the paper-order accuracy), else the headline
        metric = next(
            (name for name in outcome.metrics if reference(task, name, shots, variant) is not None),
            summary["headline"],
        )
        value = outcome.metrics.get(metric)
        n = f"{summary['n']} (slice of {outcome.folder_records})" if outcome.is_slice else str(summary["n"])
        shown = (percent(value.value) if value else "n/a", interval(value), _paper_cell(summary, metric, mixed))
        rows.append((task, variant, str(shots), str(summary["seed"]), metric, *shown, n, outcome.run_dir.name))
    names = list(dict.fromkeys(model_label(outcome.summary, model) for outcome in outcomes))
    seeds = {row[3] for row in rows}
    typer.echo(f"model: {', '.join(names) or model}" + (f" | seed {next(iter(seeds))}" if len(seeds) == 1 else ""))
    # a column that says the same for every row says it once (the seed, above) or not at all (no paper numbers)
    dropped = {3} if len(seeds) == 1 else set()
    dropped |= {i for i in (1, 7) if not any(row[i] for row in rows)}
    table = [tuple(cell for i, cell in enumerate(row) if i not in dropped) for row in [header, *rows]]
    natural = sum(max(len(row[i]) for row in table) for i in range(len(table[0]))) + 2 * (len(table[0]) - 1)
    with_folders = natural <= console_width()
    if not with_folders:
        table = [row[:-1] for row in table]
    for line in wrapped_table(table, fixed=tuple(range(len(table[0])))):
        typer.echo(line)
    where = f"run folders: under {output_dir}/" + (
        "" if with_folders else ", one per row (<task>_<model>_<shots>shot_<hash>)"
    )
    for line in wrap_note(where):
        typer.echo(line)
