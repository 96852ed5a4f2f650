"""`kosmos-eval run`: one task (one or more shot settings and seeds), a task list or a suite."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kosmos_eval.cli.app import IncludePath, app, fail, parse_task_options, setup
from kosmos_eval.cli.console import wrap_note
from kosmos_eval.cli.model_args import model_args_epilog
from kosmos_eval.cli.run_output import percent, print_outcome, print_suite_table
from kosmos_eval.config import RunConfig, parse_batch_size, parse_gen_kwargs, parse_model_args
from kosmos_eval.data.locate import SAMPLE_NOTE
from kosmos_eval.errors import UserError

if TYPE_CHECKING:
    from kosmos_eval.runner.suite import Suite


@app.command(epilog=model_args_epilog(), short_help="Evaluate a model on a task, a task list or a suite.")
def run(
    task: Annotated[
        str | None,
        typer.Argument(
            metavar="TASK",
            help="Task to evaluate (see `kosmos-eval list`), several as raven,vqav2 (run like a suite), or a "
            "built-in suite: kosmos1 (the whole paper).",
        ),
    ] = None,
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="lm-evaluation-harness's spelling of TASK (a,b for several).")
    ] = None,
    shots: Annotated[
        str,
        typer.Option(
            "--shots",
            "--num-fewshot",
            "--num_fewshot",
            help="In-context demonstrations per query, any number the task's demo pool holds; several as 0,2,4,8 "
            "(one run each). Shots the paper does not report (`kosmos-eval list`: paper shots) are labelled and "
            "never set beside the paper's numbers.",
        ),
    ] = "0",
    gen_kwargs: Annotated[
        str | None,
        typer.Option(
            "--gen-kwargs",
            "--gen_kwargs",
            help="Decoding laid over the task template's (generation tasks): max_new_tokens=N,num_beams=N,"
            "length_penalty=X (beam search only). The "
            "run is labelled as outside the paper's settings; a suite or task list applies them to the tasks "
            "that generate.",
        ),
    ] = None,
    sampler: Annotated[
        str,
        typer.Option(
            help="How demonstrations are drawn from the training split: random (the paper's; seeded per query), "
            "fixed (same demos for every query), rices (most similar images by the model's vision features), "
            "balanced (evenly over classes)."
        ),
    ] = "random",
    model: Annotated[
        str,
        typer.Option(
            help=(
                "Backend: 'hf' (transformers checkpoint), 'openai' (an OpenAI-compatible server such as vLLM; "
                "see docs/scaling.md) or 'chance' (the paper's random baseline)."
            )
        ),
    ] = "hf",
    model_args: Annotated[
        str | None,
        typer.Option(
            help="Backend options as key=value pairs, comma-separated (no spaces). Every backend's keys are listed "
            "below; each key's meaning and default: kosmos-eval models."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="The task's data folder, or a data root with one folder per task (docs/data.md). Default: "
            "$KOSMOS_EVAL_DATA/<task>; language tasks and Rendered SST-2 then read their Hugging Face copy."
        ),
    ] = None,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="Run on the task's bundled synthetic sample: offline, in seconds, in the official file format. "
            "A smoke test of the pipeline, never a benchmark: the run is marked as a sample run and is not "
            "shown beside the paper's numbers. `kosmos-eval run kosmos1 --sample` runs every task's sample.",
        ),
    ] = False,
    split: Annotated[str | None, typer.Option(help="Dataset split (default: the split the paper reports).")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N examples (stable order).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for candidate order, tie-breaks, demos, bootstrap CIs.")] = 1234,
    seeds: Annotated[
        str | None,
        typer.Option(
            help="Repeat with several seeds (e.g. 1,2,3: different demo draws) and report mean ± std across "
            "them; replaces --seed."
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option(help="Results root; each run gets its own folder, which a rerun resumes.")
    ] = Path("runs"),
    batch_size: Annotated[
        str, typer.Option(help="Requests per batch, or 'auto' (start large, halve on out-of-memory).")
    ] = "auto",
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N or auto (default auto).")] = None,
    task_option: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="Task-specific option (repeatable); `kosmos-eval list TASK` shows each option's values and default.",
        ),
    ] = None,
    suite: Annotated[
        Path | None,
        typer.Option(
            help="A suite file (YAML: runs of task, shots, seeds, split, limit or fixed ids, options) instead of "
            "TASK; the format is in docs/results.md (Suites). The model, data, output and batch options apply to "
            "every run."
        ),
    ] = None,
    skip_missing: Annotated[
        bool, typer.Option(help="Suites: skip tasks whose data is not found instead of refusing to start.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    include_path: IncludePath = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Evaluate a model on one task (or a suite), write a run folder per shot setting and seed (samples.jsonl +
    summary.json), print the metrics.

    Rerunning the same command resumes an interrupted run: finished examples are skipped.

    `kosmos-eval run kosmos1` runs the paper's whole suite (every task and shot setting of Tables 2-16);
    `kosmos-eval run --suite ci.yaml` runs a fixed slice, e.g. the one a CI job gates on with `compare`.
    """
    setup(debug, include_path)
    try:
        from kosmos_eval.runner.suite import builtin_suites

        if task is not None and tasks is not None:
            raise UserError(f"give TASK ({task}) or --tasks ({tasks}), not both")
        task = task if task is not None else tasks
        if task is None and suite is None:
            raise UserError("give a TASK (see `kosmos-eval list`), a built-in suite (kosmos1) or --suite FILE")
        if task is not None and suite is not None:
            raise UserError(f"give either TASK ({task}) or --suite ({suite}), not both")
        suite_source: str | Path | None = suite if suite is not None else (task if task in builtin_suites() else None)
        task_names = task if task is not None and "," in task else None  # a task list: run as a suite
        if sample and data_dir is not None:
            raise UserError(f"--sample and --data-dir ({data_dir}) ask for different data: give one of them")
        if limit is not None and limit < 1:
            raise UserError(f"--limit must be at least 1, got {limit}")
        from kosmos_eval.fewshot import SAMPLERS
        from kosmos_eval.runner.sweep import evaluate_sweep, parse_int_list

        if sampler not in SAMPLERS:
            raise UserError(f"Unknown --sampler {sampler!r} (choose from: {', '.join(SAMPLERS)})")
        shot_list = parse_int_list(shots, "--shots")
        seed_list = parse_int_list(seeds, "--seeds") if seeds else [seed]
        config = RunConfig(
            task=task or "",
            sampler=sampler,
            split=split,
            backend=model,
            model_args=parse_model_args(model_args),
            data_dir=str(data_dir) if data_dir else None,
            limit=limit,
            seed=seed,
            output_dir=str(output),
            batch_size=parse_batch_size(batch_size),
            device=device,
            task_options=parse_task_options(task_option),
            sample=sample,
            gen_kwargs=parse_gen_kwargs(gen_kwargs),
        )
        if suite_source is not None or task_names is not None:
            from kosmos_eval.runner.suite import load_suite, task_list

            if task_names is not None:  # the command's shots and seeds are the list's
                loaded, seeds_given = task_list(task_names, shot_list, seed_list), False
            else:
                loaded, seeds_given = load_suite(suite_source or ""), seeds is not None
            _run_suite(loaded, config, seeds_given, seed_list, skip_missing, progress, model)
            return
        from kosmos_eval.runner.distributed import current_world

        main_process = current_world().is_main  # under torchrun / accelerate only rank 0 reports
        outcomes, seed_summaries = evaluate_sweep(config, shot_list, seed_list, progress=progress and main_process)
    except (Exception, KeyboardInterrupt) as exc:
        fail(exc)
        return
    if not main_process:
        return
    for outcome in outcomes:
        print_outcome(outcome, model)
    for summary in seed_summaries:
        typer.echo(f"{task} | {summary.shots}-shot | seeds {','.join(map(str, summary.seeds))}: mean ± std")
        width = max((len(name) for name in summary.metrics), default=0)
        for name, stats in summary.metrics.items():
            typer.echo(f"  {name:<{width}}  {percent(stats['mean'])} ± {percent(stats['std'])}")
        typer.echo(f"seed summary: {summary.path}")


def _run_suite(
    suite: Suite,
    config: RunConfig,
    seeds_given: bool,
    seed_list: list[int],
    skip_missing: bool,
    progress: bool,
    model: str,
) -> None:
    """Plan and check every run of the suite, run them, print one table at the end."""
    from dataclasses import replace

    from kosmos_eval.runner.suite import missing_data, plan, run_suite

    planned = plan(suite, config)
    if seeds_given:  # --seeds on the command line overrides the suite's
        planned = [replace(item, seeds=tuple(seed_list)) for item in planned]
    missing = missing_data(planned)
    if missing and not skip_missing:
        shown = "\n  ".join("\n".join(wrap_note(line, indent="      ")) for line in missing)
        raise UserError(
            f"suite {suite.name}: data not found for {len(missing)} task(s) (pass --data-dir with one folder per "
            f"task, or --skip-missing):\n  {shown}"
        )
    skipped = {line.split(":", 1)[0] for line in missing}
    planned = [item for item in planned if item.config.task not in skipped]
    total = sum(len(item.shots) * len(item.seeds) for item in planned)
    typer.echo(f"suite {suite.name}: {total} runs" + (f" ({len(skipped)} tasks skipped: no data)" if skipped else ""))
    if config.sample:
        for line in wrap_note(f"suite {suite.name}: {SAMPLE_NOTE}"):
            typer.echo(line)
    ranking = sorted({item.config.task for item in planned if config.gen_kwargs and not item.config.gen_kwargs})
    if ranking:
        typer.echo(f"suite {suite.name}: --gen-kwargs left out for {', '.join(ranking)} (they rank, not generate)")
    outcomes, failures = run_suite(planned, progress=progress)
    print_suite_table(outcomes, model, config.output_dir)
    for failure in failures:
        shots = ",".join(map(str, failure.shots))
        typer.secho(f"failed: {failure.task} ({shots}-shot): {failure.message}", err=True, fg=typer.colors.RED)
    if failures:
        typer.echo(f"{len(failures)} of {len(planned)} suite entries failed; rerun the same command to retry them")
        raise SystemExit(1)
