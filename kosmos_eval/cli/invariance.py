"""`kosmos-eval check-invariance`: are a model's scores the same at batch size 1 and at the run's batch size?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kosmos_eval.cli.app import IncludePath, app, fail, parse_task_options, setup
from kosmos_eval.config import DEFAULT_MODEL_ID, RunConfig, parse_batch_size, parse_model_args
from kosmos_eval.errors import UserError

if TYPE_CHECKING:
    from kosmos_eval.runner.invariance import InvarianceReport

SHOWN_CHANGES = 5  # examples named per line of the table; --json holds them all


@app.command("check-invariance", short_help="Check scores do not depend on batching.")
def check_invariance_command(
    task: Annotated[
        str, typer.Argument(metavar="TASK", help="Task whose slice is re-scored (see `kosmos-eval list`).")
    ],
    model: Annotated[
        str,
        typer.Option(
            help="Backend: 'hf' (transformers checkpoint), 'openai' (an OpenAI-compatible server) or 'chance'."
        ),
    ] = "hf",
    model_args: Annotated[
        str | None,
        typer.Option(
            help=f"Backend options as k=v,k=v, as for `run` (hf: pretrained=HUB_ID_OR_FOLDER, default "
            f"{DEFAULT_MODEL_ID}; dtype=, revision=, ...)."
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N or auto (default auto).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="The task's data folder, or a data root with one folder per task (as `run`).")
    ] = None,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="Check on the task's bundled synthetic sample (offline, as `run --sample`): enough to see whether "
            "batching changes a model's scores, never a benchmark.",
        ),
    ] = False,
    split: Annotated[str | None, typer.Option(help="Dataset split (default: the split the paper reports).")] = None,
    shots: Annotated[int, typer.Option(help="In-context demonstrations per query (one setting).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed for candidate order, tie-breaks and demos, as for `run`.")] = 1234,
    sampler: Annotated[str, typer.Option(help="Demo sampler: random, fixed, rices or balanced (as `run`).")] = "random",
    task_option: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="Task-specific option (repeatable); `kosmos-eval list TASK` shows each option's values and default.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Size of the slice: the first N examples (stable order).")] = 32,
    batch_size: Annotated[
        str,
        typer.Option(help="The batch size compared with 1, or 'auto' (the backend's default, as a run starts)."),
    ] = "auto",
    tolerance: Annotated[
        float,
        typer.Option(
            help="Largest |difference| of a summed log-likelihood (and of any float in the scored record) still "
            "counted as equal. The default suits float32; bfloat16/float16 models need about 5e-2."
        ),
    ] = 1e-3,  # runner.invariance.DEFAULT_TOLERANCE (not imported here: it would load the runner for --help)
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report (every change) to this JSON file.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    include_path: IncludePath = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Re-score a slice of TASK one request at a time and at the run's batch size, and report the largest
    difference in log-likelihood and every prediction or generated text that changed.

    Exit status 0: invariant (largest difference within --tolerance, no prediction changed); 1: not invariant;
    2: bad input. No run folder is written.
    """
    setup(debug, include_path)
    try:
        from kosmos_eval.fewshot import SAMPLERS
        from kosmos_eval.runner.invariance import check_invariance

        if sampler not in SAMPLERS:
            raise UserError(f"Unknown --sampler {sampler!r} (choose from: {', '.join(SAMPLERS)})")
        if limit < 1:
            raise UserError(f"--limit must be at least 1, got {limit}")
        if sample and data_dir is not None:
            raise UserError(f"--sample and --data-dir ({data_dir}) ask for different data: give one of them")
        if json_path is not None and not json_path.parent.is_dir():  # before the slice is scored, not after
            raise UserError(f"--json {json_path}: folder {json_path.parent} does not exist")
        config = RunConfig(
            task=task,
            shots=shots,
            sampler=sampler,
            split=split,
            backend=model,
            model_args=parse_model_args(model_args),
            data_dir=str(data_dir) if data_dir else None,
            limit=limit,
            seed=seed,
            batch_size=parse_batch_size(batch_size),
            device=device,
            task_options=parse_task_options(task_option),
            sample=sample,
        )
        report = check_invariance(config, None, config.batch_size, tolerance, progress)
        if json_path is not None:
            _write_json(json_path, report)
    except (Exception, KeyboardInterrupt) as exc:
        fail(exc)
        return
    for line in report_lines(report):
        typer.echo(line)
    if sample:
        typer.echo("data: the task's bundled synthetic sample (--sample), not the benchmark")
    if json_path is not None:
        typer.echo(f"report: {json_path}")
    if not report.invariant:
        raise SystemExit(1)


def _write_json(path: Path, report: InvarianceReport) -> None:
    from kosmos_eval.core.files import write_json_atomic

    write_json_atomic(path, report.to_dict())


def report_lines(report: InvarianceReport) -> list[str]:
    """The short table `check-invariance` prints: what was compared, the largest difference, what changed."""
    largest = "0"
    if report.largest is not None:
        where = report.largest
        largest = (
            f"{report.max_logprob_difference:.3g} (example {where.example_id}, request {where.request}, "
            f"continuation {where.continuation!r}: {where.at_one:.10g} vs {where.at_batch:.10g})"
        )
    argmax = [f"{c.example_id} #{c.request} {c.at_one!r} -> {c.at_batch!r}" for c in report.argmax_changes]
    records = [f"{c.example_id}: {', '.join(c.fields)}" for c in report.record_changes]
    texts = [f"{c.example_id} #{c.request}: {c.at_one!r} -> {c.at_batch!r}" for c in report.generation_changes]
    compared = f"{report.rank_requests} rank, {report.generate_requests} generate"
    if report.not_compared:
        compared += f" ({report.not_compared} later-stage outputs not compared: their prompts already differed)"
    rows = [
        ("requests compared", compared),
        ("log-likelihoods compared", str(report.continuations)),
        ("max |Δ log-likelihood|", largest),
        ("top continuation changed", _listed(argmax)),
        ("scored records changed", _listed(records)),
        ("generated texts changed", _listed(texts)),
    ]
    width = max(len(name) for name, _ in rows)
    verdict = (
        "invariant"
        if report.invariant
        else f"NOT invariant: {len(report.changed_examples)} of {report.examples} examples changed"
        + (f", max difference above {report.tolerance:g}" if report.max_logprob_difference > report.tolerance else "")
    )
    return [
        f"{report.task} | {report.backend} | split {report.split} | {report.shots}-shot | seed {report.seed} | "
        f"n={report.examples} | batch size 1 vs {report.batch_size} | tolerance {report.tolerance:g}",
        *(f"  {name:<{width}}  {value}" for name, value in rows),
        verdict,
    ]


def _listed(items: list[str]) -> str:
    if not items:
        return "0"
    shown = "; ".join(items[:SHOWN_CHANGES])
    more = f"; ... {len(items) - SHOWN_CHANGES} more (see --json)" if len(items) > SHOWN_CHANGES else ""
    return f"{len(items)} ({shown}{more})"
