"""`kosmos-eval report`: finished runs as one self-contained HTML page (metrics beside the paper's numbers,
k-shot curves, breakdowns, and a sample browser with thumbnails for reading errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kosmos_eval.cli.app import app, examples, fail, setup

# reporting/sample_browser.py's SAMPLE_BUDGET_MIB, written out: the reporting modules load only when the command
# runs, so that every other command starts without them (tests/test_report_safety.py keeps the two equal)
SAMPLE_BUDGET_MIB = 5.0

HELP = (
    "Write one self-contained HTML report of finished runs.\n\n"
    "The page holds: a metrics table (headline and other metrics with 95% CIs, x100 as in the paper, beside "
    "the paper's KOSMOS-1 number and the difference); k-shot curves for every model/task run at 2+ shot "
    "settings, with the paper's reported series; breakdown bar charts (e.g. VQA accuracy per answer type); and "
    "a sample browser per run (image thumbnails, prompt, prediction, gold, per-sample score) with 'errors only' "
    "and task filters. Nothing is loaded from the network: charts are inline SVG, thumbnails are embedded.\n\n"
    "Safe on runs from someone else: every value from a run is shown as text, never markup; files are read only "
    "inside the folders given and the data folders the runs name (a path leading elsewhere is skipped with a "
    "warning); the sample browser keeps to --max-samples rows a run and --max-samples-mib in all.\n\n"
    + examples(
        "kosmos-eval report runs/ -o report.html",
        "kosmos-eval report runs/vqav2_* runs/raven_* -o vqa.html \\",
        "    --max-samples 50 --title 'VQA sweep'",
    )
)


@app.command("report", help=HELP, short_help="One self-contained HTML report of finished runs.")
def report_command(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help="Run folders, or results roots searched recursively for finished runs (folders with summary.json).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the HTML file (one file, opens offline).")
    ] = Path("report.html"),
    max_samples: Annotated[
        int,
        typer.Option(
            help="Rows per run in the sample browser (the first N evaluated; the page says when it cut). "
            "Thumbnails are embedded, so large values make large files: --max-samples-mib bounds them."
        ),
    ] = 200,
    max_samples_mib: Annotated[
        float,
        typer.Option(
            help="Size budget of the sample browser in MiB, thumbnails included, shared by all runs; rows past "
            "it are left out and the page says how many."
        ),
    ] = SAMPLE_BUDGET_MIB,
    title: Annotated[str, typer.Option(help="Page title.")] = "kosmos-eval report",
    debug: Annotated[bool, typer.Option(help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Write one self-contained HTML report of finished runs (see HELP)."""
    setup(debug)
    try:
        from kosmos_eval.reporting.report import write_report

        path, count = write_report(run_dirs, output, title, max_samples, max_samples_mib)
    except Exception as exc:
        fail(exc)
        return
    typer.echo(f"wrote {path} ({count} run(s), {path.stat().st_size / 1024:.0f} KiB)")
