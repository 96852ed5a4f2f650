"""Every backend's model args, as `run --help` lists them (keys and allowed values, short enough that a
narrow terminal wraps rather than truncates them) and as `kosmos-eval models` prints them in full."""

from __future__ import annotations

import shutil
import textwrap

import typer

from kosmos_eval.cli.app import app
from kosmos_eval.core.options import allowed_values


def _backends() -> list[tuple[str, object]]:
    from kosmos_eval.core.registry import BACKENDS

    return BACKENDS.items()


def model_args_epilog() -> str:
    """One paragraph per backend naming each model arg and, where the help lists them, its allowed values."""
    paragraphs = []
    for name, info in _backends():
        keys = [
            f"{key} ({' | '.join(values)})" if (values := allowed_values(text)) else key
            for key, text in info.model_args.items()
        ]
        paragraphs.append(f"--model {name} --model-args keys: {', '.join(keys) if keys else 'none'}.")
    paragraphs.append("Every key's meaning and default: kosmos-eval models")
    return "\n\n".join(paragraphs)


@app.command("models", short_help="Every backend and its --model-args in full.")
def models_command() -> None:
    """Print every backend (--model) with every model arg it takes (--model-args key=value,...) in full."""
    width = max(40, min(shutil.get_terminal_size().columns, 100))
    for number, (name, info) in enumerate(_backends()):
        if number:
            typer.echo("")
        typer.echo(textwrap.fill(f"--model {name}: {info.description}", width=width, subsequent_indent="  "))
        if not info.model_args:
            typer.echo("  (no model args)")
        for key, text in info.model_args.items():
            typer.echo(
                textwrap.fill(
                    text,
                    width=width,
                    initial_indent=f"  {key}=  ",
                    subsequent_indent="      ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
