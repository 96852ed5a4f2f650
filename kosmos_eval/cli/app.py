"""The typer application and what every command shares: one-line errors, logging set-up, option parsing.

Errors the user can act on are printed as one line and exit with status 2; anything unexpected exits with
status 1 and a hint to rerun with --debug, which shows the traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from kosmos_eval.config import DEFAULT_MODEL_ID
from kosmos_eval.core.progress import NOTICE, ConsoleFormatter
from kosmos_eval.errors import UserError


def examples(*commands: str) -> str:
    """An "Examples:" block printed as written: click rewraps help paragraphs to the terminal, which would
    break a command line in the middle; a paragraph opened by \\b is left alone. Each line must fit 80
    columns (tests/test_console_width.py holds every --help to that)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {command}" for command in commands)


# rich_markup_mode=None: click's plain help, which wraps every option's name and help to the terminal; the rich
# boxes cut option names and values with an ellipsis at 80 columns.
app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help=(
        "Reproduce the KOSMOS-1 paper's evaluation protocol on any multimodal checkpoint.\n\n"
        + examples(
            "kosmos-eval list",
            "kosmos-eval run raven --model chance    # the random baseline, offline",
            "kosmos-eval run raven --model hf \\",
            f"    --model-args pretrained={DEFAULT_MODEL_ID},dtype=bfloat16",
            "kosmos-eval run coco_caption --shots 0,2,4,8 --seeds 1,2,3 \\",
            "    --data-dir /data/coco",
            "kosmos-eval score-predictions vqav2 --predictions preds.json \\",
            "    --data-dir /data/vqav2 --split val",
            "kosmos-eval tiny-model kosmos2 /tmp/tiny    # a tiny random model",
        )
    ),
)

_state = {"debug": False}


def _print_version(value: bool) -> None:
    """`kosmos-eval --version`: the package version and, from a git checkout, the harness commit."""
    if not value:
        return
    from kosmos_eval import __version__

    line = f"kosmos-eval {__version__}"
    try:
        from kosmos_eval.runner.provenance import harness_commit

        harness = harness_commit()
    except Exception:  # a version line must never fail
        harness = {"commit": None}
    if harness.get("commit"):
        line += f" (commit {str(harness['commit'])[:12]}{', local edits' if harness.get('dirty') else ''})"
    typer.echo(line)
    raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version (and git commit) and exit."
        ),
    ] = False,
) -> None:
    """Reproduce the KOSMOS-1 paper's evaluation protocol on any multimodal checkpoint."""


def fail(exc: BaseException) -> None:
    """Report `exc` the way the CLI promises (one line, exit 2 for user errors, 1 otherwise) and exit."""
    if _state["debug"]:
        raise exc
    if isinstance(exc, KeyboardInterrupt):
        typer.secho("interrupted: finished examples are saved; rerun the same command to resume", err=True)
        raise SystemExit(130)
    if isinstance(exc, UserError):
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(exc.exit_code)
    typer.secho(
        f"internal error: {exc.__class__.__name__}: {exc} (rerun with --debug for the traceback)",
        err=True,
        fg=typer.colors.RED,
    )
    raise SystemExit(1)


IncludePath = Annotated[
    list[Path] | None,
    typer.Option(
        "--include-path",
        metavar="FOLDER",
        help="A folder (or YAML file) of your own tasks, searched recursively (docs/tasks/custom.md); repeatable, "
        "added to $KOSMOS_EVAL_TASKS.",
    ),
]


def setup(debug: bool, include_path: list[Path] | None = None) -> None:
    """Logging as --debug asks, and the user's task folders (--include-path) registered: a bad task file is one
    error line, like every other mistake."""
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else NOTICE)  # progress lines shown, INFO not
    for handler in logging.getLogger().handlers:
        handler.setFormatter(ConsoleFormatter())
    if not debug:
        import warnings

        logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    if include_path:
        try:
            from kosmos_eval.tasks.user_tasks import include_task_paths

            include_task_paths(include_path)
        except Exception as exc:
            fail(exc)


def parse_task_options(items: list[str] | None) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--task-option {item!r} is not key=value")
        key, value = item.split("=", 1)
        options[key.strip()] = value.strip()
    return options
