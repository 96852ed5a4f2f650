"""`kosmos-eval prepare ...`: turn downloaded datasets into the task formats the harness reads.

Kept apart from `run` because preparing data is done once, by hand, and may copy many files; a run only
ever reads the prepared folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kosmos_eval.cli.app import examples, fail, setup

prepare_app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help=(
        "Build task data folders from downloaded datasets.\n\n"
        + examples(
            "kosmos-eval prepare cub-descriptions --cub /data/CUB_200_2011 \\",
            "    --output /data/cub_descriptions",
        )
    ),
)


@prepare_app.callback()
def prepare() -> None:
    """Build task data folders from downloaded datasets (see each command's --help)."""
    # A callback keeps `prepare` a command group even while it has a single command.


@prepare_app.command("cub-descriptions", short_help="Build the CUB classification-with-descriptions set.")
def cub_descriptions(
    cub: Annotated[
        Path,
        typer.Option(
            help="The unpacked CUB_200_2011.tgz: the CUB_200_2011 folder (images.txt, classes.txt, "
            "image_class_labels.txt, train_test_split.txt, images/) or the folder that contains it."
        ),
    ],
    output: Annotated[
        Path, typer.Option(help="Folder to write descriptions.jsonl and images/<category>/ (copies) to.")
    ],
    pairs: Annotated[
        Path | None,
        typer.Option(
            help="YAML pairs file (general category, names, descriptions, cub_class per category). Default: the "
            "paper's three pairs with Table 11 descriptions (kosmos_eval/data/cub_pairs.yaml)."
        ),
    ] = None,
    per_category: Annotated[int, typer.Option(help="Images per category (the paper uses 20).")] = 20,
    split: Annotated[
        str, typer.Option(help="CUB images to draw from: test, train or all (train_test_split.txt, 1 = train).")
    ] = "test",
    extra_images: Annotated[
        Path | None,
        typer.Option(
            help="Your own images for categories CUB lacks (the paper's penguins): one folder per category, "
            "named as in the pairs file, e.g. DIR/'Gentoo penguin'/ (or gentoo_penguin/). Without it such pairs "
            "are skipped."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the per-category image draw (same seed, same set).")] = 1234,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a set already built in --output (its descriptions.jsonl and images/).")
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Build the "classification with descriptions" set of KOSMOS-1 Table 11 from CUB-200-2011.

    The paper's 120 images were never released: this draws a seeded sample per category (docs/data_cub.md).
    """
    setup(debug)
    try:
        from kosmos_eval.formats.cub_builder import build_described_set, default_pairs_file

        report = build_described_set(
            cub_root=cub,
            pairs_file=pairs or default_pairs_file(),
            out_dir=output,
            per_category=per_category,
            split=split,
            seed=seed,
            extra_images=extra_images,
            overwrite=overwrite,
        )
    except Exception as exc:
        fail(exc)
        return
    typer.echo(f"wrote {report.examples} examples to {report.descriptions_file}")
    labels = [f"{c.general_category}: {c.name}" for c in report.categories]
    width = max(len(label) for label in labels)
    for label, count in zip(labels, report.categories, strict=True):
        typer.echo(f"  {label:<{width}}  {count.written:>3} images  from {count.source}")
    for skipped in report.skipped:
        typer.echo(f"skipped {skipped.general_category} ({' / '.join(skipped.names)}): {skipped.reason}")
    for note in report.notes:
        typer.echo(f"note: {note}")
