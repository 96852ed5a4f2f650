"""Commands that read finished runs: `leaderboard`, `compare` (the CI gate) and `score` (re-scoring)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from kosmos_eval.cli.app import IncludePath, app, fail, parse_task_options, setup
from kosmos_eval.core.files import write_text_atomic
from kosmos_eval.errors import UserError

GATE_FAILED = 1
UNUSABLE_INPUT = 2


@app.command(short_help="Every run's metrics in one table, beside the paper's.")
def leaderboard(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Run folders or results roots (searched recursively). Default: runs/.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the table as CSV here (default: print only).")
    ] = None,
    wide: Annotated[
        bool,
        typer.Option(help="One row per model, one column per task/metric/shots, in the paper's table order."),
    ] = False,
    markdown: Annotated[bool, typer.Option(help="Print the table as markdown (for a README or PR).")] = False,
    all_runs: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Keep every run, one row each: also several runs of one identity (without --all the fullest, "
            "then newest, stands for them, and the others are named on stderr) and the seeds of a setting.",
        ),
    ] = False,
    paper: Annotated[bool, typer.Option(help="Add the paper's reported numbers as reference rows.")] = True,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Collect every run's summary into one table, beside the KOSMOS-1 paper's reported numbers.

    Values are on the paper's scale (metric x 100). The tidy CSV has one row per result and metric: runs that
    differ in anything that can change a number (model fingerprint, model args such as chat_template,
    sampler, prompt, split, data, ...) are separate rows, and models that share a name get a short tag
    (name@fingerprint, or name#hash). Several seeds of one setting are averaged (std column). Runs of one
    identity left out in favour of another are named on stderr, one line each.

    Examples:

      kosmos-eval leaderboard runs/ -o leaderboard.csv

      kosmos-eval leaderboard runs/ --wide --markdown
    """
    setup(debug)
    try:
        from kosmos_eval.reporting.leaderboard import leaderboard as build
        from kosmos_eval.reporting.leaderboard import public, terminal_view, to_csv, to_markdown
        from kosmos_eval.reporting.leaderboard import wide as pivot
        from kosmos_eval.reporting.paper import paper_column_order, paper_numbers
        from kosmos_eval.reporting.runs import find_runs
        from kosmos_eval.reporting.selection import latest_per_identity

        runs = find_runs(paths or [Path("runs")])
        if not runs and not paper:
            raise UserError(f"no finished runs under {', '.join(map(str, paths or ['runs']))}")
        if not all_runs:
            runs, left_out = latest_per_identity(runs)
            for item in left_out:
                typer.echo(item.message, err=True)
        table = build(runs, paper_numbers() if paper else None, all_runs=all_runs)
        shown = pivot(table, paper_column_order()) if wide else public(table)
    except Exception as exc:
        fail(exc)
        return
    if output is not None:
        try:
            write_text_atomic(output, to_csv(shown))
        except Exception as exc:
            fail(exc)
            return
    if markdown:
        typer.echo(to_markdown(shown), nl=False)
    elif output is None:
        compact = shown if wide else terminal_view(shown)
        compact = compact.astype(object).where(compact.notna(), "")
        typer.echo(_fitted_table(compact))
    if output is not None:
        typer.echo(f"{len(runs)} runs, {len(shown)} rows -> {output}", err=True)


def _cell_formatters(frame: object) -> dict[str, object]:
    """Blank for missing values, one decimal for floats (the paper's precision), integers as they are."""

    def cell(value: object) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    return {column: cell for column in frame.columns}  # type: ignore[attr-defined]


def _fitted_table(frame: object) -> str:
    """The table as text at most the console's width (100 columns): long cells and labels cut with an ellipsis."""
    from kosmos_eval.cli.console import GAP, column_widths, console_width, truncate

    cell = _cell_formatters(frame)[frame.columns[0]] if len(frame.columns) else str  # type: ignore[attr-defined]
    rows = [[str(c) for c in frame.columns]]  # type: ignore[attr-defined]
    rows += [[cell(v) for v in values] for values in frame.itertuples(index=False)]  # type: ignore[attr-defined]
    widths = column_widths(rows, console_width())
    numeric = [
        all(r[i] == "" or r[i].lstrip("-").replace(".", "", 1).isdigit() for r in rows[1:]) for i in range(len(widths))
    ]
    lines = []
    for row in rows:
        parts = [
            truncate(text, w).rjust(w) if numeric[i] else truncate(text, w).ljust(w)
            for i, (text, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(truncate(GAP.join(parts).rstrip(), console_width()))
    if any(line.endswith("…") and len(line) == console_width() for line in lines[:1]):
        typer.echo("columns past the console's width are cut: -o FILE or --markdown has them all", err=True)
    return "\n".join(lines)


@app.command(short_help="The CI gate: paired-bootstrap deltas against a baseline.")
def compare(
    baseline: Annotated[
        Path, typer.Argument(metavar="BASELINE", help="Baseline run folder, or a results root of several runs.")
    ],
    candidate: Annotated[
        Path,
        typer.Argument(metavar="CANDIDATE", help="Candidate run folder or results root, paired with the baseline."),
    ],
    max_drop: Annotated[
        list[str] | None,
        typer.Option(
            metavar="[METRIC=]POINTS",
            help="Allowed drop in points (metric x 100) before the gate fails: POINTS for every metric, or "
            "METRIC=POINTS / TASK/METRIC=POINTS (repeatable; the most specific wins). Default 0.",
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option(help="A drop counts only when the one-sided paired-bootstrap p-value is below this.")
    ] = 0.05,
    junit: Annotated[Path | None, typer.Option(help="Also write JUnit XML (one test case per task/metric).")] = None,
    summary: Annotated[
        Path | None,
        typer.Option(help="Append the markdown table to this file (default: $GITHUB_STEP_SUMMARY when set)."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Compare runs whose prompt, split, shots, task options or sampler differ.")
    ] = False,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resampling.")] = 1234,
    include_path: IncludePath = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """The CI gate: per task and metric, the delta with a paired bootstrap 95% CI over the shared examples.

    Exit status: 0 when no metric drops by more than allowed with significance, 1 when one does, 2 when the
    input is unusable (no shared runs or examples, incomparable runs).

    Example (a CI step gating a new checkpoint on a stored baseline):

      kosmos-eval compare baseline/ runs/ --max-drop 1.0 --junit compare.xml
    """
    setup(debug, include_path)
    try:
        from kosmos_eval.reporting.compare import compare_runs, comparison_markdown, parse_max_drop
        from kosmos_eval.reporting.junit import write_junit
        from kosmos_eval.reporting.runs import find_runs

        if resamples < 100:
            raise UserError(f"--resamples must be at least 100, got {resamples}")
        base_runs, cand_runs = find_runs([baseline]), find_runs([candidate])
        for path, runs in ((baseline, base_runs), (candidate, cand_runs)):
            if not runs:
                raise UserError(f"{path}: no finished runs (no summary.json below it)")
        result = compare_runs(
            base_runs, cand_runs, parse_max_drop(max_drop or []), alpha, force=force, seed=seed, resamples=resamples
        )
        text = comparison_markdown(result, alpha)
        if junit is not None:
            write_junit(result, junit)
        target = summary or (Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None)
        if target is not None:
            with target.open("a") as handle:
                handle.write(text + "\n")
    except UserError as exc:
        if debug:
            raise
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(UNUSABLE_INPUT) from None
    except Exception as exc:
        fail(exc)
        return
    typer.echo(text, nl=False)
    raise SystemExit(GATE_FAILED if result.failed else 0)


@app.command(short_help="Re-score a finished run with the current metric code.")
def score(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="A run folder (holds samples.jsonl and summary.json).")
    ],
    task_option: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE", help="A scoring option k=v to change (e.g. raw_answers=true for vqav2); repeatable."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the bootstrap CIs (default: the run's).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="The task's data folder, where it moved since the run.")] = None,
    include_path: IncludePath = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Re-score a finished run from its samples.jsonl with the current metric code, without a model.

    Every example is scored again from the backend's recorded outputs against the gold data; the new summary
    is written beside the old one (summary-rescored-TIME.json), which is kept. Leaderboards and comparisons
    use the newest summary.
    """
    setup(debug, include_path)
    try:
        from kosmos_eval.reporting.rescore import rescore

        path, run = rescore(run_dir, parse_task_options(task_option), seed, data_dir)
    except Exception as exc:
        fail(exc)
        return
    old = {}
    if run.older_summaries:
        from kosmos_eval.reporting.runs import read_summary

        old = read_summary(run.older_summaries[-1]).get("metrics", {})
    typer.echo(f"{run.task} | {run.shots}-shot | split {run.split} | n={run.summary['n']}")
    for name, value in run.summary["metrics"].items():
        before = old.get(name, {}).get("value")
        change = f"   (was {before * 100:.2f})" if before is not None else ""
        typer.echo(f"  {name:<24} {value['value'] * 100:.2f}{change}")
    typer.echo(f"per-sample scores: {run.summary['rescored']['per_sample']}")
    typer.echo(f"new summary: {path}")
