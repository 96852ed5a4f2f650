"""`kosmos-eval data verify TASK`: check that a task's data reads cleanly before a run depends on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kosmos_eval.cli.app import fail, parse_task_options, setup

data_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=("Check task data.\n\nExample:\n\n  kosmos-eval data verify vqav2 --data-dir /data/vqav2 --split val"),
)


@data_app.callback()
def data() -> None:
    """Check task data (see each command's --help)."""


@data_app.command("verify")
def verify_command(
    task: Annotated[str, typer.Argument(help="The task whose data to check (see `kosmos-eval list`).")],
    data_dir: Annotated[
        Path | None, typer.Option(help="The task's data folder, or a data root with one folder per task.")
    ] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Check the bundled sample instead.")] = False,
    split: Annotated[str | None, typer.Option(help="Split to check (default: the paper's).")] = None,
    task_option: Annotated[list[str] | None, typer.Option(help="Task option k=v, as for `run`.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Read every record and open every image a run of TASK would read (the split, and the few-shot pool
    where the task has few-shot settings); print each problem as one line naming the file. Exit 0 when
    everything reads, 1 when something does not, 2 for bad arguments or a data file naming an image outside
    the data folder (refused before anything is opened, as `run` refuses it; docs/data.md)."""
    setup(debug)
    try:
        import kosmos_eval.tasks  # noqa: F401
        from kosmos_eval.core.registry import TASKS
        from kosmos_eval.data.locate import resolve_data_dir
        from kosmos_eval.data.verify import verify

        instance = TASKS.get(task)(options=parse_task_options(task_option))
        chosen = split or instance.default_split
        instance.check_split(chosen)
        folder, origin = resolve_data_dir(instance.name, data_dir, sample, instance.sample_fallback)
        result = verify(instance, folder, chosen, progress)
    except Exception as exc:
        fail(exc)
        return
    for problem in result.problems:
        typer.secho(f"problem: {problem}", err=True, fg=typer.colors.RED)
    splits = ", ".join(f"{name}: {count} examples" for name, count in result.splits.items()) or "no split read"
    verdict = "ok" if result.ok else f"{len(result.problems)} problem(s)"
    typer.echo(f"{instance.name} ({origin}): {splits}; {result.images} images opened; {verdict}")
    if not result.ok:
        raise typer.Exit(1)
