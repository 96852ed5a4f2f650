"""The `kosmos-eval` command line: one module per group of commands, all registered on one typer app."""

from __future__ import annotations

import sys

from kosmos_eval.cli import invariance, report, results, run, score, tools  # noqa: F401  (register their commands)
from kosmos_eval.cli.app import app
from kosmos_eval.cli.data import data_app
from kosmos_eval.cli.prepare import prepare_app

app.add_typer(prepare_app, name="prepare")
app.add_typer(data_app, name="data")

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
