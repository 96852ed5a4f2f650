"""`kosmos-eval data verify TASK`: check that a task's data reads cleanly before a run depends on it;
`kosmos-eval data fetch TASK|SUITE`: download a task's hub copy ahead of a run, and check it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kosmos_eval.cli.app import IncludePath, examples, fail, parse_task_options, setup
from kosmos_eval.errors import UserError

data_app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Fetch and check task data.\n\n"
    + examples(
        "kosmos-eval data fetch vizwiz     # the hub copy, into the datasets cache",
        "kosmos-eval data fetch kosmos1    # every task of the suite that has one",
        "kosmos-eval data verify vqav2 --data-dir /data/vqav2 --split val",
    ),
)


@data_app.callback()
def data() -> None:
    """Check task data (see each command's --help)."""


@data_app.command("verify", short_help="Read every record and image a run would read.")
def verify_command(
    task: Annotated[str, typer.Argument(metavar="TASK", help="The task whose data to check (see `kosmos-eval list`).")],
    data_dir: Annotated[
        Path | None, typer.Option(help="The task's data folder, or a data root with one folder per task.")
    ] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Check the bundled sample instead.")] = False,
    split: Annotated[str | None, typer.Option(help="Split to check (default: the paper's).")] = None,
    task_option: Annotated[
        list[str] | None, typer.Option(metavar="KEY=VALUE", help="Task option, as for `run` (repeatable).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    include_path: IncludePath = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Read every record and open every image a run of TASK would read (the split, and the few-shot pool
    where the task has few-shot settings); print each problem as one line naming the file. Exit 0 when
    everything reads, 1 when something does not, 2 for bad arguments or a data file naming an image outside
    the data folder (refused before anything is opened, as `run` refuses it; docs/data.md)."""
    setup(debug, include_path)
    try:
        from kosmos_eval.core.registry import TASKS
        from kosmos_eval.data.locate import resolve_data_dir
        from kosmos_eval.data.verify import verify
        from kosmos_eval.tasks.capabilities import falls_back_to_sample

        instance = TASKS.get(task)(options=parse_task_options(task_option))
        chosen = split or instance.default_split
        instance.check_split(chosen)
        folder, origin = resolve_data_dir(instance.name, data_dir, sample, falls_back_to_sample(instance))
        result = verify(instance, folder, chosen, progress)
    except Exception as exc:
        fail(exc)
        return
    for problem in result.problems:
        typer.secho(f"problem: {problem}", err=True, fg=typer.colors.RED)
    for note in result.notes:
        typer.echo(f"note: {note}")
    splits = ", ".join(f"{name}: {count} examples" for name, count in result.splits.items()) or "no split read"
    verdict = "ok" if result.ok else f"{len(result.problems)} problem(s)"
    typer.echo(f"{instance.name} ({origin}): {splits}; {result.images} images opened; {verdict}")
    if not result.ok:
        raise typer.Exit(1)


@data_app.command("fetch", short_help="Download a task's (or suite's) hub copy.")
def fetch_command(
    target: Annotated[
        str, typer.Argument(metavar="TARGET", help="A task, or a suite (kosmos1, or a suite file) for all its tasks.")
    ],
    split: Annotated[
        str | None, typer.Option(help="Split to fetch (default: the paper's, plus the few-shot pool when served).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="A downloaded copy of the hub repo to check instead of the hub.")
    ] = None,
    task_option: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY=VALUE", help="Task option, as for `run` (hub_id=..., hub_revision=...)."),
    ] = None,
    include_path: IncludePath = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Download the hub copy of TARGET's data into the `datasets` cache, where an offline run then finds it,
    and check each split: rows against the paper's split, unique ids, examples built, labels, the first image.
    One line per task and split (and why a copy is not the paper's data, when it is not). Exit 0 when all is
    well, 1 when a check failed, 2 when a task could not be fetched (each named in one line)."""
    setup(debug, include_path)
    try:
        from kosmos_eval.core.registry import TASKS
        from kosmos_eval.runner.suite import builtin_suites, load_suite

        options = parse_task_options(task_option)
        if target in TASKS:
            names = [target]
        elif target in builtin_suites() or Path(target).is_file():
            names = list(dict.fromkeys(entry.task for entry in load_suite(target).entries))
        else:
            raise UserError(f"{target!r} is neither a task (see `kosmos-eval list`) nor a suite")
    except Exception as exc:
        fail(exc)
        return
    from kosmos_eval.data.hub_source import hub_source
    from kosmos_eval.runner.fetch import fetch_splits

    failed = refused = 0
    for name in names:
        if len(names) > 1 and hub_source(name) is None:
            typer.echo(f"{name}: reads local files only (no hub copy declared; docs/data.md)")
            continue
        try:
            results = fetch_splits(TASKS.get(name)(options=options), [split] if split else None, data_dir)
        except Exception as exc:  # one task's failure does not hide the others'
            if debug:
                raise
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            refused += 1
            continue
        for result in results:
            typer.echo(result.line())
            for problem in result.problems:
                typer.secho(f"problem: {name} {result.split}: {problem}", err=True, fg=typer.colors.RED)
            failed += bool(result.problems)
    if refused:
        raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)
