"""`kosmos-eval list`: every task with its metrics, shot settings, options and where its data is found (or what
to do); `kosmos-eval list TASK`: one task in full, each option with its values, default and meaning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kosmos_eval.cli.app import IncludePath, app, fail, setup
from kosmos_eval.cli.console import wrap_note, wrapped_table

if TYPE_CHECKING:
    from kosmos_eval.tasks.base import Task


@app.command("list", short_help="Every task, or one task's options and defaults.")
def list_tasks(
    task_name: Annotated[
        str | None,
        typer.Argument(metavar="TASK", help="One task to show in full: splits, data, every option and its default."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="A data root to look in (one folder per task), as for `run`.")
    ] = None,
    sample: Annotated[
        bool,
        typer.Option("--sample", help="Show the bundled samples (what `run TASK --sample` reads) instead."),
    ] = False,
    include_path: IncludePath = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """List every registered task with its headline metric, shot settings, options and whether its data is found.

    "found" means a run will find it: a local folder, or for the hub-backed tasks a copy in the `datasets`
    cache or a reachable hub. Every task also ships a small synthetic sample (`--sample`). With TASK, that
    task in full: its splits, data, and every --task-option with its values, default and meaning."""
    setup(debug, include_path)
    if task_name is not None:
        _show_task(task_name, data_dir)
        return
    try:
        from kosmos_eval.core.registry import TASKS
        from kosmos_eval.tasks.user_tasks import is_user_task

        rows = []
        for name in TASKS.names():
            task = TASKS.get(name)()
            data = _sample_status(task) if sample else _data_status(task, data_dir)
            shots = ",".join(str(s) for s in task.shots)
            # the headline metric and how many more (`list TASK` names them all): a metric name stays whole
            metrics = task.metrics[0] + (f" (+{len(task.metrics) - 1})" if len(task.metrics) > 1 else "")
            settings = "none: a user task" if is_user_task(name) else _paper_settings(name)
            rows.append((name, metrics, shots, settings, data))  # family and the rest: `list TASK`
    except Exception as exc:
        fail(exc)
        return
    header = ("task", "headline metric", "paper shots", "paper settings", "data")
    rows, notes = _short_data_cells(rows)
    for line in wrapped_table([header, *rows], fixed=(0, len(header) - 1)):
        typer.echo(line)
    if notes:
        typer.echo("")
        for number, text in enumerate(notes, 1):
            for line in wrap_note(f"[{number}] {text}"):
                typer.echo(line)
    _print_options()
    from kosmos_eval.runner.suite import builtin_suites

    typer.echo("")
    lines = [
        f"suites: {', '.join(sorted(builtin_suites()))} (kosmos-eval run kosmos1: every task and shot setting "
        "of the paper); your own with --suite FILE, see docs/results.md"
    ]
    if not sample:
        lines.append("every task runs offline on its bundled synthetic sample: kosmos-eval run TASK --sample")
        lines.append(
            "data is looked for in this order: --data-dir, $KOSMOS_EVAL_DATA/<task>/, then the task's hub copy "
            "(docs/data.md); kosmos-eval data fetch TASK downloads a hub copy ahead of a run"
        )
    for text in lines:
        for line in wrap_note(text):
            typer.echo(line)


# A data cell longer than this moves below the table as a numbered note, once per distinct text.
DATA_CELL = 20


def _short_data_cells(rows: list[tuple[str, ...]]) -> tuple[list[tuple[str, ...]], list[str]]:
    """Rows whose long data cell is replaced by its status and a note number (`missing, see [2]`), and the
    notes in full."""
    notes: list[str] = []
    short = []
    for *cells, data in rows:
        if len(data) > DATA_CELL:
            if data not in notes:
                notes.append(data)
            status = data.split(":", 1)[0] if data.startswith(("found:", "missing:", "sample:")) else "see"
            data = f"{status}, see [{notes.index(data) + 1}]" if status != "see" else f"see [{notes.index(data) + 1}]"
        short.append((*cells, data))
    return short, notes


def _paper_settings(task: str) -> str:
    """The task options of the settings the paper reports ("default" = no option), the default first."""
    from kosmos_eval.reporting.paper import paper_numbers

    paper = paper_numbers()
    variants = sorted(dict.fromkeys(paper.loc[paper["task"] == task, "variant"]), key=bool)  # the default first
    return ", ".join(variant or "default" for variant in variants) or "-"


def _data_status(task: Task, data_dir: Path | None) -> str:
    from kosmos_eval.data.locate import resolve_data_dir
    from kosmos_eval.tasks.capabilities import data_status, falls_back_to_sample

    root = data_dir if data_dir and (data_dir / task.name).is_dir() else None
    # given a data root, a task without its folder there is looked for as a suite on that root would (its hub copy)
    fallback = falls_back_to_sample(task) and data_dir is None
    folder, _ = resolve_data_dir(task.name, root, fallback_to_sample=fallback)
    status = data_status(task, folder)
    return ("found: " if status.found else "") + status.where


def _sample_status(task: Task) -> str:
    """What the bundled sample holds: examples of the default split, the demo pool, size on disk."""
    from kosmos_eval.data.locate import bundled_sample

    folder = bundled_sample(task.name)
    if folder is None:
        return "no bundled sample in this installation"
    parts = [f"{len(task.load(task.default_split, folder))} {task.default_split}"]
    if task.demo_split and task.demo_split != task.default_split and max(task.shots) > 0:
        parts.append(f"{len(task.load_demos(folder))} {task.demo_split} (demos)")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return f"sample: {' + '.join(parts)} examples, {size / 1024:.1f} KB ({folder})"


def _print_options() -> None:
    """Each task's --task-option keys with their values and defaults (`list TASK` adds what each one means)."""
    from kosmos_eval.core.registry import TASKS
    from kosmos_eval.tasks.option_info import option_infos

    typer.echo("")
    typer.echo("task options (--task-option KEY=VALUE; kosmos-eval list TASK explains each):")
    for name in TASKS.names():
        infos = option_infos(TASKS.get(name)())
        if infos:
            for line in wrap_note(f"  {name}: " + "; ".join(info.short() for info in infos), indent="      "):
                typer.echo(line)


def _show_task(name: str, data_dir: Path | None) -> None:
    """One task in full: what it is, its splits and shots, where its data is, and every option."""
    try:
        from kosmos_eval.core.registry import TASKS
        from kosmos_eval.tasks.option_info import option_infos

        task = TASKS.get(name)()
        infos = option_infos(task)
        facts = [
            ("task", f"{name}: {task.description}"),
            ("family", task.family),
            ("metrics", ", ".join(task.metrics) + " (the first is the headline)"),
            ("splits", ", ".join(task.splits) + f" (default {task.default_split}, the paper's)"),
            ("paper shots", ", ".join(str(s) for s in task.shots)),
            ("paper settings", _paper_settings(name)),
            ("demos from", task.demo_split or "none (zero-shot only)"),
            ("data", _data_status(task, data_dir)),
            ("sample", _sample_status(task).removeprefix("sample: ")),
        ]
    except Exception as exc:
        fail(exc)
        return
    width = max(len(label) for label, _ in facts)
    for label, text in facts:
        for line in wrap_note(f"{label + ':':<{width + 1}} {text}", indent=" " * (width + 2)):
            typer.echo(line)
    typer.echo("")
    if not infos:
        typer.echo("options: none")
        return
    typer.echo("options (--task-option KEY=VALUE, repeatable):")
    for info in infos:
        typer.echo(f"  {info.short()}")
        for line in wrap_note(f"      {info.help}", indent="      "):
            typer.echo(line)
