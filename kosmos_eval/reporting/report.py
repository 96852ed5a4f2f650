"""`kosmos-eval report`: finished runs as one self-contained HTML page for reading results and their errors.

One file, no network: charts are inline SVG (kosmos_eval.reporting.svg), image thumbnails are small JPEGs
embedded as data URLs, and the two filters (errors only, task) are a few lines of inline script. So a report can
be mailed, attached to a CI job or opened years later without the data or the harness. Every number is on the
paper's scale (metric value x 100, one decimal) and stands beside the paper's KOSMOS-1 number where it reports
one, so a reader sees at once how far a run is from the paper.
"""

from __future__ import annotations

import base64
import io
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from kosmos_eval.reporting.runs import Run, find_runs
from kosmos_eval.reporting.svg import Point, Series, bar_chart, line_chart

SCALE = 100.0
THUMBNAIL_PX = 96
THUMBNAILS_PER_SAMPLE = 9  # a Raven example with 8 given images and a candidate; more are listed by key
BARS_PER_CHART = 40  # VQAv2 has 65 question types: the most frequent keep the chart readable
GOLD_FIELDS = ("references", "answers", "answer", "gold")
PAPER_COLUMNS = ["table", "model", "task", "variant", "shots", "metric", "value", "note"]


def fmt(value: float | None) -> str:
    """A 0-1 metric value on the paper's scale with one decimal; an em dash where there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value) * SCALE:.1f}"


def fmt_paper(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def fmt_delta(ours: float | None, paper: float | None) -> str:
    return "" if ours is None or paper is None or math.isnan(ours) else f"{ours * SCALE - paper:+.1f}"


def paper_numbers() -> tuple[pd.DataFrame, str]:
    """The paper's reported numbers (variant "" for the default setting) and the model name of KOSMOS-1; an
    empty table when the harness ships without them, so a report still renders."""
    try:
        from kosmos_eval.reporting.paper import PAPER_MODEL
        from kosmos_eval.reporting.paper import paper_numbers as load
    except ImportError:
        return pd.DataFrame(columns=PAPER_COLUMNS), "KOSMOS-1"
    frame = load().copy()
    frame["variant"] = frame["variant"].fillna("").astype(str)
    frame["shots"] = frame["shots"].astype(int)
    return frame, PAPER_MODEL


def paper_value(paper: pd.DataFrame, model: str, task: str, metric: str, shots: int, variant: str) -> float | None:
    """The paper's number for exactly this model, task, metric, shots and variant (first table that has it)."""
    match = (paper["model"] == model) & (paper["task"] == task) & (paper["metric"] == metric)
    rows = paper[match & (paper["shots"] == shots) & (paper["variant"] == variant)]
    return None if rows.empty else float(rows.iloc[0]["value"])


def sample_scores(run: Run) -> dict[str, float | None]:
    """Each record's score on the headline metric: its per-example row where the metric is a mean of rows
    (VQA accuracy 0.3, F1, CIDEr per image), else the record's "correct" flag (ROC AUC has no per-example value)."""
    import kosmos_eval.tasks  # noqa: F401  (registers tasks)
    from kosmos_eval.core.registry import TASKS

    records = run.records
    try:
        task = TASKS.get(run.task)(seed=run.seed, options=run.task_options)
        metric = task.example_metrics(records).get(str(run.summary.get("headline")))
    except Exception:  # a task the current harness no longer knows, or a scorer that is not installed
        metric = None
    scores: dict[str, float | None] = {}
    for record in records:
        key = str(record["id"])
        if metric is not None and metric.is_mean and key in metric.rows:
            scores[key] = float(metric.rows[key])
        elif isinstance(record.get("correct"), bool):
            scores[key] = 1.0 if record["correct"] else 0.0
        else:
            scores[key] = None
    return scores


def is_error(record: dict[str, Any], score: float | None) -> bool:
    """Below full marks on the headline; the "correct" flag only where the headline has no per-sample value
    (HellaSwag's headline accuracy_norm can be right where the plain `correct` is not)."""
    return score < 1.0 if score is not None else record.get("correct") is False


def _text(value: Any) -> str:
    """A field value as short text: lists with repeats (VQA's ten answers) as 'answer ×count'."""
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            counts = Counter(value)
            return " | ".join(f"{v} ×{c}" if c > 1 else v for v, c in counts.items())
        return ", ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _with_option(record: dict[str, Any], value: Any) -> str:
    """An index into the record's candidates, with the candidate's text (options, names) or image (Raven's
    candidates carry their index and image key) where the record lists them."""
    if not isinstance(value, int) or isinstance(value, bool):
        return _text(value)
    for field in ("options", "names"):
        options = record.get(field)
        if isinstance(options, list) and 0 <= value < len(options):
            return f"{value}: {str(options[value]).strip()}"
    for candidate in record.get("candidates") or []:
        if isinstance(candidate, dict) and candidate.get("index") == value and candidate.get("image"):
            return f"{value}: {candidate['image']}"
    return _text(value)


def gold_text(record: dict[str, Any]) -> str:
    """What the prediction was scored against, found generically: the first of references, answers, answer,
    gold, then the label (as its option text or label_name where the record has them)."""
    for field in GOLD_FIELDS:
        if record.get(field) not in (None, "", []):
            return _with_option(record, record[field])
    return _named(record, "label", "label_name") if "label" in record else ""


def _named(record: dict[str, Any], field: str, name_field: str) -> str:
    """An index field with its name: from the record's options, or its `<field>_name` (label_name)."""
    text = _with_option(record, record[field])
    if record.get(name_field) is not None and ":" not in text:
        text = f"{text}: {record[name_field]}"
    return text


def prediction_text(record: dict[str, Any]) -> str:
    """The prediction; tasks scored in several settings (CUB with/without descriptions) nest one per setting."""
    if "prediction" in record:
        return _named(record, "prediction", "prediction_name")
    nested = [
        f"{name}: {_text(value.get('prediction_name', value.get('prediction')))}"
        for name, value in record.items()
        if isinstance(value, dict) and "prediction" in value
    ]
    return "\n".join(nested)


class Thumbnails:
    """Small JPEG data URLs of record images, made once per file (demonstrations repeat across samples)."""

    def __init__(self, size: int = THUMBNAIL_PX) -> None:
        self.size = size
        self.cache: dict[Path, str | None] = {}

    def data_url(self, path: Path) -> str | None:
        if path not in self.cache:
            self.cache[path] = self._make(path)
        return self.cache[path]

    def _make(self, path: Path) -> str | None:
        from PIL import Image

        if not path.is_file():
            return None
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                image.thumbnail((self.size, self.size))
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=80)
        except OSError:  # not an image Pillow can read: show the key instead
            return None
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def html(self, key: str, data_dir: str | None) -> str:
        url = self.data_url(Path(data_dir) / key) if data_dir else None
        if url is None:
            return f'<span class="missing-image" title="not found under the run\'s data folder">{escape(key)}</span>'
        return f'<img class="thumb" src="{url}" alt="{escape(key)}" title="{escape(key)}">'


def build_report(runs: Sequence[Run], title: str = "kosmos-eval report", max_samples: int = 200) -> str:
    """The whole page as one HTML string."""
    paper, paper_model = paper_numbers()
    runs = sorted(runs, key=lambda r: (r.task, r.model, r.variant, r.shots, r.seed, str(r.path)))
    tasks = sorted({run.task for run in runs})
    body = [
        _header(runs, title, tasks),
        _metrics_table(runs, paper, paper_model),
        _curves(runs, paper),
        _breakdowns(runs),
        _samples(runs, max_samples),
    ]
    return PAGE.format(title=escape(title), style=STYLE, script=SCRIPT, body="\n".join(body))


def write_report(
    paths: Sequence[Path], output: Path, title: str = "kosmos-eval report", max_samples: int = 200
) -> tuple[Path, int]:
    """Find every run under `paths`, write the report to `output`; returns the path and the number of runs."""
    from kosmos_eval.errors import UserError

    if max_samples < 0:
        raise UserError(f"--max-samples must be 0 or more, got {max_samples}")
    runs = find_runs(paths)
    if not runs:
        raise UserError(f"no finished runs (folders with summary.json) under {', '.join(map(str, paths))}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(build_report(runs, title, max_samples), encoding="utf-8")
    return output, len(runs)


def _anchor(index: int) -> str:
    return f"run-{index}"


def _header(runs: Sequence[Run], title: str, tasks: list[str]) -> str:
    harnesses = set()
    for run in runs:
        version = (run.summary.get("versions") or {}).get("kosmos-eval", "?")
        harness = run.summary.get("harness") or {}
        commit = str(harness.get("commit") or "unknown commit")[:10]
        harnesses.add(f"kosmos-eval {version} ({commit}{', local edits' if harness.get('dirty') else ''})")
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    options = "".join(f'<option value="{escape(t)}">{escape(t)}</option>' for t in tasks)
    items = []
    for index, run in enumerate(runs):
        notes = "".join(f"<li>{escape(str(note))}</li>" for note in run.summary.get("notes") or [])
        origin = (run.summary.get("data") or {}).get("origin") or ""
        items.append(
            f'<li data-task="{escape(run.task)}"><a href="#{_anchor(index)}">{escape(run.label)}</a> — '
            f"created {escape(run.created)}; data: {escape(str(origin))}"
            + (f'<ul class="notes">{notes}</ul>' if notes else "")
            + "</li>"
        )
    return (
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="meta">Report made {escape(created)} from {len(runs)} run(s) by '
        f"{escape('; '.join(sorted(harnesses)))}. Values are metric × 100 (the paper's scale).</p>"
        '<div class="controls"><label><input type="checkbox" id="errors-only"> errors only</label> '
        f'<label>task <select id="task-filter"><option value="">all tasks</option>{options}</select></label></div>'
        f'<details open><summary>Runs and their notes</summary><ul class="runs">{"".join(items)}</ul></details>'
        "</header>"
    )


def _metrics_table(runs: Sequence[Run], paper: pd.DataFrame, paper_model: str) -> str:
    rows = []
    for index, run in enumerate(runs):
        metrics = run.summary.get("metrics") or {}
        headline = str(run.summary.get("headline") or next(iter(metrics), ""))
        main = metrics.get(headline, {})
        theirs = paper_value(paper, paper_model, run.task, headline, run.shots, run.variant)
        others = []
        for name, value in metrics.items():
            if name == headline:
                continue
            reference = paper_value(paper, paper_model, run.task, name, run.shots, run.variant)
            against = (
                f" · paper {fmt_paper(reference)} ({fmt_delta(value.get('value'), reference)})"
                if reference is not None
                else ""
            )
            others.append(f"<div>{escape(name)} {fmt(value.get('value'))} {_ci(value)}{against}</div>")
        task_link = f'<a href="#{_anchor(index)}">{escape(run.task)}</a>'
        cells = [escape(run.model), task_link, escape(run.variant), run.shots, run.seed, escape(run.split)]
        cells.append(run.summary.get("n", ""))
        rows.append(
            f'<tr class="metrics-row" data-task="{escape(run.task)}">'
            + "".join(f"<td>{cell}</td>" for cell in cells)
            + f'<td class="headline-metric">{escape(headline)}</td>'
            f'<td class="headline-value num">{fmt(main.get("value"))}</td>'
            f'<td class="ci num">{_ci(main)}</td>'
            f'<td class="paper num">{fmt_paper(theirs)}</td>'
            f'<td class="delta num">{fmt_delta(main.get("value"), theirs)}</td>'
            f'<td class="other-metrics">{"".join(others)}</td></tr>'
        )
    head = "".join(
        f"<th>{escape(name)}</th>"
        for name in ("model", "task", "variant", "shots", "seed", "split", "n", "headline", "value", "95% CI")
    )
    return (
        '<section id="metrics"><h2>Metrics</h2><table class="metrics"><thead><tr>'
        f"{head}<th>paper {escape(paper_model)}</th><th>Δ vs paper</th><th>other metrics</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _ci(value: dict[str, Any]) -> str:
    low, high = value.get("ci_low"), value.get("ci_high")
    return "" if low is None or high is None else f"[{fmt(low)}, {fmt(high)}]"


def _curves(runs: Sequence[Run], paper: pd.DataFrame) -> str:
    """Headline metric vs shots per (model, task, variant) run at 2+ shot settings, with the paper's series."""
    groups: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    for run in runs:
        groups[(run.model, run.task, run.variant)].append(run)
    charts = []
    for (model, task, variant), members in sorted(groups.items()):
        by_shots: dict[int, list[Run]] = defaultdict(list)
        for run in members:
            by_shots[run.shots].append(run)
        if len(by_shots) < 2:
            continue
        headline = str(members[0].summary.get("headline"))
        ours = Series(f"{model} (runs)")
        for shots, same in sorted(by_shots.items()):
            values = [r.summary["metrics"].get(headline, {}) for r in same]
            points = [float(v["value"]) * SCALE for v in values if v.get("value") is not None]
            if not points:
                continue
            low, high = values[0].get("ci_low"), values[0].get("ci_high")
            whisker = len(same) == 1 and low is not None and high is not None
            ours.points.append(
                Point(
                    shots,
                    sum(points) / len(points),
                    low * SCALE if whisker else None,
                    high * SCALE if whisker else None,
                )
            )
        series = [ours]
        reported = paper[(paper["task"] == task) & (paper["metric"] == headline) & (paper["variant"] == variant)]
        for paper_name, rows in reported.groupby("model", sort=False):
            rows = rows.drop_duplicates("shots").sort_values("shots")
            series.append(
                Series(
                    f"{paper_name} (paper)",
                    [Point(int(s), float(v)) for s, v in zip(rows["shots"], rows["value"], strict=True)],
                    True,
                )
            )
        name = f"{task} [{variant}]" if variant else task
        seeds = "mean over seeds; whiskers: 95% CI of single-seed points"
        chart = line_chart(series, f"{name}: {headline} vs shots — {model}", "shots (k)", f"{headline} (×100)")
        charts.append(f'<figure data-task="{escape(task)}">{chart}<figcaption>{escape(seeds)}</figcaption></figure>')
    if not charts:
        charts = ["<p>No model/task was run at two or more shot settings.</p>"]
    return f'<section id="curves"><h2>k-shot curves</h2>{"".join(charts)}</section>'


def _breakdowns(runs: Sequence[Run]) -> str:
    """Each run's breakdowns (summary["breakdowns"]: group -> key -> {value, n}) as bar charts, most frequent
    keys first."""
    parts = []
    for index, run in enumerate(runs):
        headline = str(run.summary.get("headline"))
        figures = []
        for group, keys in (run.summary.get("breakdowns") or {}).items():
            ordered = sorted(keys.items(), key=lambda kv: (-(kv[1].get("n") or 0), kv[0]))
            shown = ordered[:BARS_PER_CHART]
            bars = [(k, None if v.get("value") is None else float(v["value"]) * SCALE, v.get("n")) for k, v in shown]
            cut = f"the {len(shown)} most frequent of {len(ordered)} keys" if len(ordered) > len(shown) else ""
            chart = bar_chart(bars, f"{headline} by {group}", f"{headline} (×100)")
            figures.append(f"<figure>{chart}<figcaption>{cut}</figcaption></figure>")
        if figures:
            parts.append(
                f'<div class="run-breakdowns" data-task="{escape(run.task)}">'
                f'<h3><a href="#{_anchor(index)}">{escape(run.label)}</a></h3>{"".join(figures)}</div>'
            )
    if not parts:
        parts = ["<p>No run reports a breakdown.</p>"]
    return f'<section id="breakdowns"><h2>Breakdowns</h2>{"".join(parts)}</section>'


def _samples(runs: Sequence[Run], max_samples: int) -> str:
    thumbnails = Thumbnails()
    sections = []
    for index, run in enumerate(runs):
        records = run.records
        scores = sample_scores(run)
        data_dir = (run.summary.get("data") or {}).get("dir")
        shown = records[:max_samples]
        errors = sum(is_error(r, scores.get(str(r["id"]))) for r in records)
        rows = []
        for number, record in enumerate(shown, 1):
            score = scores.get(str(record["id"]))
            state = "error" if is_error(record, score) else ("correct" if score is not None else "unscored")
            keys = [str(k) for k in record.get("images") or []]
            images = "".join(thumbnails.html(k, data_dir) for k in keys[:THUMBNAILS_PER_SAMPLE])
            if len(keys) > THUMBNAILS_PER_SAMPLE:
                images += f'<span class="more">+{len(keys) - THUMBNAILS_PER_SAMPLE} more</span>'
            rows.append(
                f'<tr class="sample {state}" data-id="{escape(str(record["id"]))}">'
                f'<td>{number}</td><td>{escape(str(record["id"]))}</td><td class="images">{images}</td>'
                f'<td class="prompt">{escape(str(record.get("prompt", "")))}</td>'
                f'<td class="prediction">{escape(prediction_text(record))}</td>'
                f'<td class="gold">{escape(gold_text(record))}</td>'
                f'<td class="score num">{fmt(score)}</td></tr>'
            )
        truncated = (
            f'<p class="truncated">Showing the first {len(shown)} of {len(records)} samples (--max-samples).</p>'
            if len(shown) < len(records)
            else ""
        )
        head = "".join(f"<th>{h}</th>" for h in ("#", "id", "images", "prompt", "prediction", "gold", "score"))
        sections.append(
            f'<section class="run-samples" id="{_anchor(index)}" data-task="{escape(run.task)}" '
            f'data-run="{escape(run.path.name)}">'
            f"<h3>{escape(run.label)}</h3><p>{errors} of {len(records)} samples are errors "
            f"(score below 100: {escape(str(run.summary.get('headline')))} per sample where that metric is a mean "
            f"over samples, else the record's correct flag).</p>{truncated}"
            f'<table class="samples"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></section>'
        )
    return f'<section id="samples"><h2>Samples</h2>{"".join(sections)}</section>'


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>{title}</title><style>{style}</style></head>
<body>
{body}
<script>{script}</script>
</body></html>
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 3px 6px; vertical-align: top; text-align: left; font-size: 13px; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.paper { background: #f6f9ff; } tr.error { background: #fff1f0; } tr.correct { background: #f3fbf3; }
.controls { position: sticky; top: 0; background: #fff; padding: 6px 0; z-index: 2; border-bottom: 1px solid #ddd; }
.controls label { margin-right: 1.5em; } .meta { color: #555; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figcaption { color: #666; font-size: 12px; }
td.prompt { white-space: pre-wrap; max-width: 32em; max-height: 12em; overflow: auto; font-family: monospace; }
td.prediction, td.gold { white-space: pre-wrap; max-width: 18em; }
img.thumb { max-width: 96px; max-height: 96px; margin: 1px; border: 1px solid #ccc; }
.missing-image { display: inline-block; font-size: 11px; color: #a00; border: 1px dashed #a00; padding: 2px; }
[hidden] { display: none !important; }
"""

SCRIPT = """
function applyFilters() {
  var errorsOnly = document.getElementById('errors-only').checked;
  var task = document.getElementById('task-filter').value;
  document.querySelectorAll('[data-task]').forEach(function (el) {
    el.hidden = task !== '' && el.dataset.task !== task;
  });
  document.querySelectorAll('tr.sample').forEach(function (row) {
    row.hidden = errorsOnly && !row.classList.contains('error');
  });
}
document.getElementById('errors-only').addEventListener('change', applyFilters);
document.getElementById('task-filter').addEventListener('change', applyFilters);
"""
