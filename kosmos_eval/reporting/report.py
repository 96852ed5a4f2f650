"""`kosmos-eval report`: finished runs as one self-contained HTML page for reading results and their errors.

One file, no network: charts are inline SVG (kosmos_eval.reporting.svg), image thumbnails are small JPEGs
embedded as data URLs, and the two filters (errors only, task) are a few lines of inline script. So a report can
be mailed, attached to a CI job or opened years later without the data or the harness. Every number is on the
paper's scale (metric value x 100, one decimal) and stands beside the paper's KOSMOS-1 number where it reports
one, so a reader sees at once how far a run is from the paper. Models are named as in the leaderboard
(reporting/selection.py: a short tag where two model identities share a name), and the k-shot curves join
only runs whose identity differs in shots and seed alone.

A runs folder may come from someone else, so every value read from it is data, never markup: each is escaped
(quotes too) where it is placed, numbers are shown only when they are numbers, no link or image source takes
a value from a run, and the page's one script is fixed text. A Content-Security-Policy allows only that script
and style (by hash) and data-URL images, so a value that ever slipped through unescaped still could not run.
Files are read only inside the runs folders given and the data folders the runs name (reporting/confine.py),
and the sample browser keeps to a size budget (reporting/sample_browser.py).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from kosmos_eval.core.files import write_text_atomic
from kosmos_eval.core.identity import identity_hash
from kosmos_eval.core.progress import notice
from kosmos_eval.errors import UserError
from kosmos_eval.reporting.page import CSP, PAGE, SCRIPT, STYLE
from kosmos_eval.reporting.paper import PAPER_MODEL, paper_split, reference
from kosmos_eval.reporting.paper import paper_numbers as load_paper_numbers
from kosmos_eval.reporting.runs import Run, find_runs
from kosmos_eval.reporting.sample_browser import MIB, SAMPLE_BUDGET_MIB, run_anchor, samples_section
from kosmos_eval.reporting.sample_view import SCALE, fmt, number
from kosmos_eval.reporting.selection import latest_per_identity, model_labels
from kosmos_eval.reporting.svg import Point, Series, bar_chart, line_chart

log = logging.getLogger(__name__)

BARS_PER_CHART = 40  # VQAv2 has 65 question types: the most frequent keep the chart readable
__all__ = ["SCALE", "build_report", "fmt", "fmt_delta", "fmt_paper", "write_report"]


def fmt_paper(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def fmt_delta(ours: object, paper: float | None) -> str:
    value = number(ours)
    return "" if value is None or paper is None else f"{value * SCALE - paper:+.1f}"


def paper_numbers() -> tuple[pd.DataFrame, str]:
    """The paper's reported numbers (variant "" for the default setting) and the model name of KOSMOS-1."""
    return load_paper_numbers(), PAPER_MODEL


def build_report(
    runs: Sequence[Run],
    title: str = "kosmos-eval report",
    max_samples: int = 200,
    max_sample_bytes: int = int(SAMPLE_BUDGET_MIB * MIB),
    roots: Sequence[Path] = (),
) -> str:
    """The whole page as one HTML string. Images are read inside each run's own folder, its data folder and
    `roots` (the runs folders the user gave) only; the sample browser holds at most `max_samples` rows a run
    and `max_sample_bytes` over all runs."""
    paper, paper_model = paper_numbers()
    labels = model_labels(runs)
    runs = sorted(runs, key=lambda r: (r.task, labels[r.model_key], r.variant, r.shots, r.sampler, r.seed, str(r.path)))
    names = [f"{run.label} — {labels[run.model_key]}" for run in runs]
    tasks = sorted({run.task for run in runs})
    body = [
        _header(runs, names, title, tasks),
        _metrics_table(runs, labels, paper, paper_model),
        _curves(runs, labels, paper),
        _breakdowns(runs, names),
        samples_section(runs, names, max_samples, max_sample_bytes, roots),
    ]
    return PAGE.format(title=escape(title), csp=escape(CSP), style=STYLE, script=SCRIPT, body="\n".join(body))


def write_report(
    paths: Sequence[Path],
    output: Path,
    title: str = "kosmos-eval report",
    max_samples: int = 200,
    max_samples_mib: float = SAMPLE_BUDGET_MIB,
) -> tuple[Path, int]:
    """Find every run under `paths`, write the report to `output`; returns the path and the number of runs.
    The report reads files inside `paths` and the runs' data folders only, and its sample browser keeps to
    `max_samples` rows a run and `max_samples_mib` MiB in all."""
    if max_samples < 0:
        raise UserError(f"--max-samples must be 0 or more, got {max_samples}")
    if not 0 <= max_samples_mib < float("inf"):  # NaN too
        raise UserError(f"--max-samples-mib must be a size in MiB, 0 or more, got {max_samples_mib}")
    runs = find_runs(paths)
    if not runs:
        raise UserError(f"no finished runs (folders with summary.json) under {', '.join(map(str, paths))}")
    notice(log, "report: %d run(s) found; building tables, curves and the sample browser", len(runs))
    html = build_report(runs, title, max_samples, int(max_samples_mib * MIB), roots=list(paths))
    write_text_atomic(output, html)
    return output, len(runs)


def _header(runs: Sequence[Run], names: Sequence[str], title: str, tasks: list[str]) -> str:
    harnesses = set()
    for run in runs:
        version = (run.summary.get("versions") or {}).get("kosmos-eval", "?")
        harness = run.summary.get("harness") or {}
        commit = str(harness.get("commit") or "unknown commit")[:10]
        harnesses.add(f"kosmos-eval {version} ({commit}{', local edits' if harness.get('dirty') else ''})")
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    options = "".join(f'<option value="{escape(t)}">{escape(t)}</option>' for t in tasks)
    items = []
    applies: dict[str, list[int]] = {}  # each distinct note, in the order first met, with the runs that carry it
    for index, run in enumerate(runs):
        for note in dict.fromkeys(str(n) for n in run.summary.get("notes") or []):
            applies.setdefault(note, []).append(index)
        origin = (run.summary.get("data") or {}).get("origin") or ""
        items.append(
            f'<li data-task="{escape(run.task)}"><a href="#{run_anchor(index)}">{escape(names[index])}</a> — '
            f"created {escape(run.created)}; data: {escape(str(origin))}; identity {escape(run.identity_hash)}</li>"
        )
    return (
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="meta">Report made {escape(created)} from {len(runs)} run(s) by '
        f"{escape('; '.join(sorted(harnesses)))}. Values are metric × 100 (the paper's scale).</p>"
        '<div class="controls"><label><input type="checkbox" id="errors-only"> errors only</label> '
        f'<label>task <select id="task-filter"><option value="">all tasks</option>{options}</select></label></div>'
        f'<details class="runs"><summary>Runs ({len(runs)})</summary><ul class="runs">{"".join(items)}</ul></details>'
        + _notes(applies, names)
        + "</header>"
    )


def _notes(applies: dict[str, list[int]], names: Sequence[str]) -> str:
    """The runs' notes, each distinct note once with the runs it applies to, folded away: the page opens on the
    metrics, and a note every run carries (a sample's caveat) is read once, not once a run."""
    if not applies:
        return ""
    items = []
    for note, indices in applies.items():
        links = ", ".join(f'<a href="#{run_anchor(i)}">{escape(names[i])}</a>' for i in indices)
        count = "all runs" if len(indices) == len(names) else f"{len(indices)} of {len(names)} runs"
        items.append(f'<li class="note">{escape(note)} <span class="note-runs">({count}: {links})</span></li>')
    return (
        f'<details class="notes"><summary>Notes ({len(applies)} distinct)</summary>'
        f'<ul class="notes">{"".join(items)}</ul></details>'
    )


def _metrics_table(runs: Sequence[Run], labels: dict[str, str], paper: pd.DataFrame, paper_model: str) -> str:
    rows = []
    for index, run in enumerate(runs):
        metrics = run.summary.get("metrics") or {}
        headline = str(run.summary.get("headline") or next(iter(metrics), ""))
        main = metrics.get(headline, {})

        # a run on a bundled sample is a smoke test, one at another setting answers another question: no paper
        # number stands beside either
        def paper_value(metric: str, run: Run = run) -> float | None:
            if run.sample or run.not_paper_data or not run.paper_setting or _paper_split(run.task) is None:
                return None
            return reference(run.task, metric, run.shots, run.variant, paper_model, split=run.split)

        theirs = paper_value(headline)
        # a run on another split than the paper's (VQAv2 val vs test-dev) is not set beside the paper's number;
        # the cell says which split the paper's number is for
        paper_cell = fmt_paper(theirs)
        other_split = not run.sample and run.split != _paper_split(run.task)
        if other_split and reference(run.task, headline, run.shots, run.variant, paper_model) is not None:
            paper_cell = f"paper: {_paper_split(run.task)}"
        if not run.paper_setting:
            paper_cell = "other setting"
        others = []
        for name, value in metrics.items():
            if name == headline:
                continue
            theirs_other = paper_value(name)
            against = (
                f" · paper {fmt_paper(theirs_other)} ({fmt_delta(value.get('value'), theirs_other)})"
                if theirs_other is not None
                else ""
            )
            others.append(f"<div>{escape(name)} {fmt(value.get('value'))} {_ci(value)}{against}</div>")
        task_link = f'<a href="#{run_anchor(index)}">{escape(run.task)}</a>'
        split = escape(run.split) + (' <span class="sample">(bundled sample)</span>' if run.sample else "")
        split += "" if run.paper_setting else ' <span class="setting">(not a paper setting)</span>'
        setting = [escape(labels[run.model_key]), task_link, escape(run.variant), run.shots]
        n = escape(str(run.summary.get("n", "")))  # an integer (runs.py checks): escaped all the same
        # the numbers right after what the run is, so a narrow window shows them without scrolling sideways
        rows.append(
            f'<tr class="metrics-row" data-task="{escape(run.task)}">'
            + "".join(f"<td>{cell}</td>" for cell in setting)
            + f'<td class="headline-metric">{escape(headline)}</td>'
            f'<td class="headline-value num">{fmt(main.get("value"))}</td>'
            f'<td class="ci num">{_ci(main)}</td>'
            f'<td class="paper num">{escape(paper_cell)}</td>'
            f'<td class="delta num">{fmt_delta(main.get("value"), theirs)}</td>'
            + "".join(f"<td>{cell}</td>" for cell in (run.seed, split, n))
            + f'<td class="other-metrics">{"".join(others)}</td></tr>'
        )
    head = "".join(
        f"<th>{escape(name)}</th>"
        for name in ("model", "task", "variant", "shots", "headline", "value", "95% CI", f"paper {paper_model}")
    )
    return (
        '<section id="metrics"><h2>Metrics</h2><div class="table-wrap"><table class="metrics"><thead><tr>'
        f"{head}<th>Δ vs paper</th><th>seed</th><th>split</th><th>n</th><th>other metrics</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _paper_split(task: str) -> str | None:
    """The paper's split for `task`; None for a task this harness does not know (a newer harness's, or any
    name in someone else's folder), whose runs are shown without a paper number rather than refused."""
    try:
        return paper_split(task)
    except UserError:
        return None


def _ci(value: dict[str, Any]) -> str:
    low, high = number(value.get("ci_low")), number(value.get("ci_high"))
    return "" if low is None or high is None else f"[{fmt(low)}, {fmt(high)}]"


def _curve_key(run: Run) -> str:
    """What one k-shot curve holds fixed: the setting identity but its shots and sampler (zero-shot runs have
    none, and join the curve of every sampler)."""
    return identity_hash({k: v for k, v in run.setting.items() if k not in ("shots", "sampler")})


def _curves(runs: Sequence[Run], labels: dict[str, str], paper: pd.DataFrame) -> str:
    """Headline metric vs shots per model and setting run at 2+ shot settings, with the paper's series. Runs
    of one identity count once (the one the leaderboard keeps); seeds at one shot setting are averaged."""
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in latest_per_identity(runs)[0]:
        groups[_curve_key(run)].append(run)
    curves = []
    for key, group in groups.items():
        for sampler in sorted({r.sampler for r in group if r.shots > 0}) or [""]:
            members = [r for r in group if r.shots == 0 or r.sampler == sampler]
            first = members[0]
            curves.append(((first.task, first.variant, labels[first.model_key], sampler, first.sample), key, members))
    # two curves that would read the same (another prompt or data folder of one model) name their setting
    repeated = {name for name, count in Counter(item[0] for item in curves).items() if count > 1}
    charts = []
    for (task, variant, model, sampler, _), key, members in sorted(curves, key=lambda item: item[0]):
        sample = members[0].sample
        by_shots: dict[int, list[Run]] = defaultdict(list)
        for run in members:
            by_shots[run.shots].append(run)
        if len(by_shots) < 2:
            continue
        headline = str(members[0].summary.get("headline"))
        demos = f", {sampler} demos" if sampler and sampler != "random" else ""
        ours = Series(f"{model} ({'bundled sample' if sample else 'runs'}{demos})")
        for shots, same in sorted(by_shots.items()):
            values = [r.summary["metrics"].get(headline, {}) for r in same]
            points = [number(v.get("value")) for v in values]
            points = [p * SCALE for p in points if p is not None]
            if not points:
                continue
            low, high = number(values[0].get("ci_low")), number(values[0].get("ci_high"))
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
        # not comparable with the paper's: a sample, another split, or only settings the paper does not report
        # (--gen-kwargs; a curve with shots the paper skips still meets the paper's series at the shots it has)
        off_paper = not any(run.paper_setting for run in members)
        if sample or off_paper or any(run.split != _paper_split(task) for run in members):
            reported = reported.iloc[0:0]
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
        title = f"{name}: {headline} vs shots — {model}{demos}"
        title += f" (setting {key[:6]})" if (task, variant, model, sampler, sample) in repeated else ""
        chart = line_chart(series, title, "shots (k)", f"{headline} (×100)")
        charts.append(f'<figure data-task="{escape(task)}">{chart}<figcaption>{escape(seeds)}</figcaption></figure>')
    if not charts:
        charts = ["<p>No model/task was run at two or more shot settings.</p>"]
    return f'<section id="curves"><h2>k-shot curves</h2>{"".join(charts)}</section>'


def _breakdowns(runs: Sequence[Run], names: Sequence[str]) -> str:
    """Each run's breakdowns (summary["breakdowns"]: group -> key -> {value, n}) as bar charts, most frequent
    keys first."""
    parts = []
    for index, run in enumerate(runs):
        headline = str(run.summary.get("headline"))
        figures = []
        for group, keys in (run.summary.get("breakdowns") or {}).items():
            ordered = sorted(keys.items(), key=lambda kv: (-(number(kv[1].get("n")) or 0), kv[0]))
            shown = ordered[:BARS_PER_CHART]
            bars = [(k, _scaled(v.get("value")), _count(v.get("n"))) for k, v in shown]
            cut = f"the {len(shown)} most frequent of {len(ordered)} keys" if len(ordered) > len(shown) else ""
            chart = bar_chart(bars, f"{headline} by {group}", f"{headline} (×100)")
            figures.append(f"<figure>{chart}<figcaption>{cut}</figcaption></figure>")
        if figures:
            parts.append(
                f'<div class="run-breakdowns" data-task="{escape(run.task)}">'
                f'<h3><a href="#{run_anchor(index)}">{escape(names[index])}</a></h3>{"".join(figures)}</div>'
            )
    if not parts:
        parts = ["<p>No run reports a breakdown.</p>"]
    return f'<section id="breakdowns"><h2>Breakdowns</h2>{"".join(parts)}</section>'


def _scaled(value: object) -> float | None:
    """A 0-1 value from a summary on the paper's scale; None where it is not a number."""
    found = number(value)
    return None if found is None else found * SCALE


def _count(value: object) -> int | None:
    found = number(value)
    return None if found is None else int(found)
