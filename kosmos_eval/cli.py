"""The `kosmos-eval` command line.

Errors the user can act on are printed as one line and exit with status 2; anything unexpected exits with
status 1 and a hint to rerun with --debug, which shows the traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from kosmos_eval.config import DEFAULT_MODEL_ID, RunConfig, parse_batch_size, parse_model_args
from kosmos_eval.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=(
        "Reproduce the KOSMOS-1 paper's evaluation protocol on any multimodal checkpoint.\n\n"
        "Examples:\n\n"
        "  kosmos-eval list\n\n"
        "  kosmos-eval run raven --model chance          (the paper's random baseline, runs anywhere)\n\n"
        f"  kosmos-eval run raven --model hf --model-args pretrained={DEFAULT_MODEL_ID},dtype=bfloat16\n\n"
        "  kosmos-eval tiny-model kosmos2 /tmp/tiny      (a tiny random model for smoke tests)"
    ),
)

_debug = False


def _fail(exc: BaseException) -> None:
    if _debug:
        raise exc
    if isinstance(exc, UserError):
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(exc.exit_code)
    typer.secho(
        f"internal error: {exc.__class__.__name__}: {exc} (rerun with --debug for the traceback)",
        err=True,
        fg=typer.colors.RED,
    )
    raise SystemExit(1)


def _setup(debug: bool) -> None:
    global _debug
    _debug = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(message)s")
    if not debug:
        import warnings

        logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


def _parse_task_options(items: list[str] | None) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--task-option {item!r} is not key=value")
        key, value = item.split("=", 1)
        options[key.strip()] = value.strip()
    return options


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="Task to evaluate (see `kosmos-eval list`).")],
    shots: Annotated[int, typer.Option(help="Number of in-context demonstrations (the tasks' paper settings).")] = 0,
    model: Annotated[
        str, typer.Option(help="Backend: 'hf' (transformers checkpoint) or 'chance' (the paper's random baseline).")
    ] = "hf",
    model_args: Annotated[
        str | None,
        typer.Option(
            help=f"Backend options as k=v,k=v. hf: pretrained=HUB_ID_OR_FOLDER (default {DEFAULT_MODEL_ID}), "
            "revision=, dtype=float32|bfloat16|float16|auto, device=, trust_remote_code=, attn_implementation=."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="The task's data folder, or a data root with one folder per task. Default: "
            "$KOSMOS_EVAL_DATA/<task>, else the sample bundled with the package."
        ),
    ] = None,
    split: Annotated[str | None, typer.Option(help="Dataset split (default: the split the paper reports).")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N examples (stable order).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for candidate order, tie-breaks, demos, bootstrap CIs.")] = 1234,
    output: Annotated[
        Path, typer.Option(help="Results root; each run gets its own folder, which a rerun resumes.")
    ] = Path("runs"),
    batch_size: Annotated[
        str, typer.Option(help="Requests per batch, or 'auto' (start large, halve on out-of-memory).")
    ] = "auto",
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N or auto (default auto).")] = None,
    task_option: Annotated[
        list[str] | None, typer.Option(help="Task-specific option k=v (repeatable); see `kosmos-eval list`.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    debug: Annotated[bool, typer.Option(help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Evaluate a model on one task, write a run folder (samples.jsonl + summary.json), print the metrics.

    Rerunning the same command resumes an interrupted run: finished examples are skipped.
    """
    _setup(debug)
    try:
        if limit is not None and limit < 1:
            raise UserError(f"--limit must be at least 1, got {limit}")
        config = RunConfig(
            task=task,
            shots=shots,
            split=split,
            backend=model,
            model_args=parse_model_args(model_args),
            data_dir=str(data_dir) if data_dir else None,
            limit=limit,
            seed=seed,
            output_dir=str(output),
            batch_size=parse_batch_size(batch_size),
            device=device,
            task_options=_parse_task_options(task_option),
        )
        from kosmos_eval.runner.run import evaluate

        outcome = evaluate(config, progress=progress)
    except (Exception, KeyboardInterrupt) as exc:
        if isinstance(exc, KeyboardInterrupt):
            typer.secho("interrupted: finished examples are saved; rerun the same command to resume", err=True)
            raise SystemExit(130) from None
        _fail(exc)
        return
    summary = outcome.summary
    typer.echo(f"{summary['task']} | {model} | {shots}-shot | split {summary['split']} | n={summary['n']}")
    width = max(len(name) for name in outcome.metrics)
    for name, value in outcome.metrics.items():
        typer.echo(f"  {name:<{width}}  {value.format()}")
    typer.echo(f"run folder: {outcome.run_dir}" + (f" (resumed {outcome.resumed} done)" if outcome.resumed else ""))


@app.command("list")
def list_tasks(
    data_dir: Annotated[
        Path | None, typer.Option(help="A data root to look in (one folder per task), as for `run`.")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """List every registered task with its metrics, shot settings and whether its data is found."""
    _setup(debug)
    try:
        import kosmos_eval.tasks  # noqa: F401
        from kosmos_eval.core.registry import TASKS
        from kosmos_eval.data.locate import resolve_data_dir

        rows = []
        for name in TASKS.names():
            task = TASKS.get(name)()
            root = data_dir if data_dir and (data_dir / name).is_dir() else None
            folder, _ = resolve_data_dir(name, root)
            status = task.data_status(folder)
            rows.append(
                (
                    name,
                    task.family,
                    ", ".join(task.metrics),
                    ",".join(str(s) for s in task.shots),
                    ("found: " if status.found else "") + status.where,
                )
            )
    except Exception as exc:
        _fail(exc)
        return
    header = ("task", "family", "metrics", "shots", "data")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@app.command("tiny-model")
def tiny_model(
    architecture: Annotated[str, typer.Argument(help="kosmos2 or llava.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the model and processor to.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Write a tiny random model (2 layers, width 64) loadable with --model hf --model-args pretrained=OUT_DIR.

    For smoke-testing a pipeline without downloading weights; its scores mean nothing.
    """
    _setup(debug)
    try:
        from kosmos_eval.tiny import build_tiny_model

        path = build_tiny_model(architecture, out_dir, seed=seed)
    except Exception as exc:
        _fail(exc)
        return
    typer.echo(f"wrote a tiny random {architecture} model to {path}")
    typer.echo(f"use it with: kosmos-eval run raven --model hf --model-args pretrained={path}")


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
