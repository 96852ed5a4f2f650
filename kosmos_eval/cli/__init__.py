"""The `kosmos-eval` command line: one module per group of commands, all registered on one typer app."""

from __future__ import annotations

import sys

import typer

from kosmos_eval.cli import invariance, report, results, run, score, tools  # noqa: F401  (register their commands)
from kosmos_eval.cli.app import app
from kosmos_eval.cli.data import data_app
from kosmos_eval.cli.prepare import prepare_app

app.add_typer(prepare_app, name="prepare")
app.add_typer(data_app, name="data")

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line. A mistyped option value (`--seed abc`) is one error line naming the option and
    the command's --help, like every other error, instead of click's framed usage box."""
    try:
        status = app(standalone_mode=False, prog_name="kosmos-eval")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:
        if not _is_click_error(exc):
            raise
        _report_click_error(exc)
    sys.exit(status if isinstance(status, int) else 0)


def _is_click_error(exc: Exception) -> bool:
    """A usage or parameter error from click (typer's own copy of it in typer >= 0.22, click before):
    recognised by kind name, since the two are different classes."""
    return any(kind.__name__ == "ClickException" for kind in type(exc).__mro__)


def _report_click_error(exc: Exception) -> None:
    """One error line naming the command and its --help (exit 2); giving no arguments shows the help."""
    kinds = {kind.__name__ for kind in type(exc).__mro__}
    status = getattr(exc, "exit_code", 2)
    if "NoArgsIsHelpError" in kinds:
        exc.show()  # type: ignore[attr-defined]  (the help the user asked for by giving no arguments)
        sys.exit(status)
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    context = getattr(exc, "ctx", None)
    if "UsageError" in kinds and context is not None:
        where = context.command_path
        message = f"{where}: {message} (see {where} --help)"
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    sys.exit(status)
