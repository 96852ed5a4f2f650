"""Helper commands that are not evaluations: tiny random models for smoke tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kosmos_eval.cli.app import app, fail, setup


@app.command("tiny-model", short_help="Write a tiny random model for smoke tests.")
def tiny_model(
    architecture: Annotated[
        str,
        typer.Argument(
            metavar="FAMILY",
            help="A declared model family (kosmos2) or one of its model types (kosmos-2); an unknown name lists them.",
        ),
    ],
    out_dir: Annotated[Path, typer.Argument(metavar="OUT_DIR", help="Folder to write the model and processor to.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Write a tiny random model (2 layers, width 64) loadable with --model hf --model-args pretrained=OUT_DIR.

    One per declared model family (kosmos2, llava, ...; the README's supported-models table lists them), built
    offline with a deterministic tokenizer, so a rebuild writes the same files. For smoke-testing a pipeline
    without downloading weights; its scores mean nothing.
    """
    setup(debug)
    try:
        from kosmos_eval.tiny import build_tiny_model

        path = build_tiny_model(architecture, out_dir, seed=seed)
    except Exception as exc:
        fail(exc)
        return
    typer.echo(f"wrote a tiny random {architecture} model to {path}")
    from kosmos_eval.backends.hf.text_only import MODEL_TYPES, local_model_type

    # a text-only model is refused every task that shows images: its first run is a language task
    task = "copa" if local_model_type(str(path)) in MODEL_TYPES else "raven"
    typer.echo(f"use it with: kosmos-eval run {task} --sample --model hf --model-args pretrained={path}")
