"""`kosmos-eval score-predictions`: score outputs made elsewhere with exactly the metric code a run uses.

Teams that serve models elsewhere write predictions in a task's official results format; this command reads
the gold data (the dataset folder, or the official annotation files directly), scores every prediction with
the task's own `score_prediction` and `aggregate`, and prints the metrics (or one JSON object).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from kosmos_eval.cli.app import IncludePath, app, fail, setup
from kosmos_eval.errors import DataError, UserError


def score_predictions(
    task_name: str,
    predictions: Path,
    data_dir: Path | None = None,
    annotations: Path | None = None,
    questions: Path | None = None,
    split: str | None = None,
    allow_missing: bool = False,
    seed: int = 1234,
) -> dict[str, Any]:
    """Metrics of a predictions file against the task's gold data, as a JSON-ready dict."""
    from kosmos_eval.core.registry import TASKS
    from kosmos_eval.data.locate import resolve_data_dir
    from kosmos_eval.tasks.base import Task
    from kosmos_eval.tasks.capabilities import AnnotationFiles, ExternalPredictions

    task: Task = TASKS.get(task_name)(seed=seed)
    if not isinstance(task, ExternalPredictions):
        raise UserError(f"score-predictions scores generation tasks; {task_name!r} ranks candidates")
    split = split or task.default_split
    task.check_split(split)
    if predictions.is_dir():
        found = sorted(p.name for p in predictions.glob("*.json"))[:3]
        hint = f" (it holds {', '.join(found)})" if found else ""
        raise UserError(f"--predictions {predictions} is a folder{hint}; give the predictions file itself")
    if not predictions.exists():
        raise UserError(f"--predictions {predictions}: no such file")
    if (data_dir is None) == (annotations is None):
        raise UserError("give exactly one of --data-dir (the dataset folder) or --annotations (official file)")
    if annotations is not None:
        if not isinstance(task, AnnotationFiles):
            raise UserError(
                f"score-predictions {task.name}: give --data-dir with the dataset folder (no --annotations)"
            )
        examples = task.load_annotations(annotations, questions, split)
    else:
        folder, _ = resolve_data_dir(task.name, data_dir)
        examples = task.load(split, folder)
    predicted = task.read_predictions(predictions)
    gold_ids = {e.id for e in examples}
    unknown = [i for i in predicted if i not in gold_ids]
    if unknown:
        raise DataError(
            f"{predictions}: {len(unknown)} predictions have ids that are not in the {split} gold data "
            f"(first: {unknown[0]!r}); is --split right?"
        )
    missing = [e.id for e in examples if e.id not in predicted]
    if missing and not allow_missing:
        raise DataError(
            f"{predictions}: no prediction for {len(missing)} of {len(examples)} examples (first: {missing[0]!r}); "
            "pass --allow-missing to score only the predicted ones"
        )
    records = [{"id": e.id, **task.score_prediction(e, predicted[e.id])} for e in examples if e.id in predicted]
    scores = task.aggregate(records)
    return {
        "task": task.name,
        "split": split,
        "n": len(records),
        "missing": len(missing),
        "headline": task.metrics[0],
        "metrics": {name: value.to_dict() for name, value in scores.metrics.items()},
        "breakdowns": scores.breakdowns,
        "notes": scores.notes,
    }


@app.command("score-predictions", short_help="Score a predictions file made elsewhere.")
def score_predictions_command(
    task: Annotated[
        str, typer.Argument(metavar="TASK", help="Generation task: coco_caption, flickr30k, vqav2, vizwiz, websrc.")
    ],
    predictions: Annotated[
        Path,
        typer.Option(
            help="Predictions in the task's official results format: [{question_id, answer}] (vqav2), "
            "[{image, answer}] (vizwiz), [{image_id, caption}] (coco_caption, flickr30k), "
            "{question_id: answer} (websrc)."
        ),
    ],
    data_dir: Annotated[Path | None, typer.Option(help="The dataset folder, as for `kosmos-eval run`.")] = None,
    annotations: Annotated[
        Path | None,
        typer.Option(
            help="Official annotation file instead of --data-dir: v2_mscoco_<split>_annotations.json (vqav2), "
            "<split>.json (vizwiz), captions_<split>.json or dataset_<name>.json (captioning)."
        ),
    ] = None,
    questions: Annotated[
        Path | None, typer.Option(help="vqav2 with --annotations: v2_OpenEnded_mscoco_<split>_questions.json.")
    ] = None,
    split: Annotated[str | None, typer.Option(help="Split of the gold data (default: the task's).")] = None,
    allow_missing: Annotated[
        bool, typer.Option(help="Score only the examples that have a prediction instead of failing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    include_path: IncludePath = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Score a predictions file made elsewhere with the paper-faithful metric code a run uses."""
    setup(debug, include_path)
    try:
        result = score_predictions(task, predictions, data_dir, annotations, questions, split, allow_missing)
    except Exception as exc:
        fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"{result['task']} | split {result['split']} | n={result['n']}" + _missing_note(result))
    width = max((len(name) for name in result["metrics"]), default=0)
    for name, value in result["metrics"].items():
        typer.echo(f"  {name:<{width}}  {_format_value(value)}")
    for group, rows in result["breakdowns"].items():
        typer.echo(f"  by {group}: " + ", ".join(f"{k} {_format_value(v)}" for k, v in rows.items()))
    for note in result["notes"]:
        typer.echo(f"  note: {note}")


def _format_value(value: dict[str, Any]) -> str:
    """A metric dict (`MetricValue.to_dict`, or a breakdown's value and n) printed as `run` prints it:
    `MetricValue.format`, one decimal and the 95% CI where there is one."""
    from kosmos_eval.metrics.base import MetricValue

    return MetricValue(value["value"], value.get("ci_low"), value.get("ci_high"), value["n"]).format()


def _missing_note(result: dict[str, Any]) -> str:
    return f" ({result['missing']} without prediction, left out)" if result["missing"] else ""
