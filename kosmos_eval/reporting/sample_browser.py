"""The report's sample browser: one table per run of its records (thumbnails, prompt, prediction, gold, score),
kept to a size budget.

A row count alone does not bound a page: `--max-samples 100000` over runs with long outputs and nine
thumbnails a row once wrote a 218 MB file that no browser opens and no mail carries. So the section also has a
byte budget (rows and their embedded thumbnails, as written), shared by the runs: each run may use its share
of what is left, so a small run leaves room to the next and one huge run cannot push the others out. Rows are
taken in the order the run evaluated them until the next would not fit, and the page says, beside each table
and once above them, how many were left out and why. One cell's text is clipped too, so a single runaway
generation costs the page a few kilobytes, not the whole budget.

Every value from a record is escaped where it is placed; images are read only inside the run's data folder
and the runs folders given (reporting/confine.py), and each run whose records name files elsewhere gets one
warning line on stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from kosmos_eval.reporting.confine import warn
from kosmos_eval.reporting.runs import Run
from kosmos_eval.reporting.sample_view import (
    KEY_CHARS,
    THUMBNAILS_PER_SAMPLE,
    Thumbnails,
    clip,
    error_threshold,
    fmt,
    gold_text,
    is_error,
    prediction_text,
    sample_scores,
)

MIB = 1024 * 1024
SAMPLE_BUDGET_MIB = 5.0  # default: a page that opens at once and fits an attachment, with ~100+ rows a run
COLUMNS = ("#", "id", "images", "prompt", "prediction", "gold", "score")


def run_anchor(index: int) -> str:
    """The id of a run's sample table, which the runs list and the tables above link to."""
    return f"run-{index}"


def samples_section(
    runs: Sequence[Run],
    names: Sequence[str],
    max_samples: int,
    max_bytes: int = int(SAMPLE_BUDGET_MIB * MIB),
    roots: Sequence[Path] = (),
) -> str:
    """The Samples section: per run at most `max_samples` rows and, over all runs, at most `max_bytes` of rows.
    Images are read inside each run's data folder and `roots` (the runs folders given) only."""
    thumbnails = Thumbnails()
    sections = []
    remaining = max_bytes
    left_by_budget = 0
    for index, run in enumerate(runs):
        records = run.records
        scores = sample_scores(run)
        headline = run.summary.get("headline")
        threshold = error_threshold(headline, scores.values())
        data_dir = (run.summary.get("data") or {}).get("dir")
        allowance = remaining // (len(runs) - index)
        refused_before = len(thumbnails.refused)
        candidates = records[:max_samples]
        rows: list[str] = []
        used = 0
        for number, record in enumerate(candidates, 1):
            score = scores.get(str(record["id"]))
            row = _row(number, record, score, threshold, thumbnails, data_dir, [*roots, run.path])
            size = len(row.encode("utf-8"))
            if used + size > allowance:
                break
            rows.append(row)
            used += size
        remaining -= used
        left_by_budget += len(candidates) - len(rows)
        refused = thumbnails.refused[refused_before:]
        if refused:
            warn(
                f"{run.path}: the records' field 'images' names {len(refused)} file(s) outside the run's data folder "
                f"and the runs folders given (first: {refused[0]!r}); not read, listed by name"
            )
        errors = sum(is_error(r, scores.get(str(r["id"])), threshold) for r in records)
        limit, relative = threshold
        rule = (
            f"score at or below {fmt(limit)}, the lowest tenth of this run's {escape(str(headline))} per sample"
            if relative
            else f"score below 100: {escape(str(headline))} per sample where that metric is a mean over samples, "
            "else the record's correct flag"
        )
        head = "".join(f"<th>{h}</th>" for h in COLUMNS)
        sections.append(
            f'<section class="run-samples" id="{run_anchor(index)}" data-task="{escape(run.task)}" '
            f'data-run="{escape(run.path.name)}">'
            f"<h3>{escape(names[index])}</h3><p>{errors} of {len(records)} samples are errors "
            f"({rule}).</p>{_cut_note(len(rows), len(candidates), len(records))}"
            f'<div class="table-wrap"><table class="samples"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div></section>"
        )
    budget = ""
    if left_by_budget:
        budget = (
            f'<p class="truncated budget">{left_by_budget} sample row(s) were left out to keep this page\'s samples '
            f"under {max_bytes / MIB:.3g} MiB (thumbnails included; --max-samples-mib changes the budget).</p>"
        )
    return f'<section id="samples"><h2>Samples</h2>{budget}{"".join(sections)}</section>'


def _row(
    number: int,
    record: dict[str, Any],
    score: float | None,
    threshold: tuple[float, bool],
    thumbnails: Thumbnails,
    data_dir: str | None,
    roots: Sequence[Path],
) -> str:
    """One record as a table row; every value from the record is text, escaped (quotes too) and clipped."""
    state = "error" if is_error(record, score, threshold) else ("correct" if score is not None else "unscored")
    images = record.get("images")
    keys = [str(k) for k in images] if isinstance(images, list) else []
    shown = "".join(thumbnails.html(k, data_dir, roots) for k in keys[:THUMBNAILS_PER_SAMPLE])
    if len(keys) > THUMBNAILS_PER_SAMPLE:
        shown += f'<span class="more">+{len(keys) - THUMBNAILS_PER_SAMPLE} more</span>'
    key = escape(clip(str(record["id"]), KEY_CHARS))
    return (
        f'<tr class="sample {state}" data-id="{key}">'
        f'<td>{number}</td><td>{key}</td><td class="images">{shown}</td>'
        f'<td class="prompt">{escape(clip(str(record.get("prompt", ""))))}</td>'
        f'<td class="prediction">{escape(clip(prediction_text(record)))}</td>'
        f'<td class="gold">{escape(clip(gold_text(record)))}</td>'
        f'<td class="score num">{fmt(score)}</td></tr>'
    )


def _cut_note(shown: int, candidates: int, records: int) -> str:
    """What the reader is told when a run's table does not hold all its records, and which limit cut it."""
    if shown == records:
        return ""
    if shown == candidates:
        return f'<p class="truncated">Showing the first {shown} of {records} samples (--max-samples).</p>'
    why = f"{candidates - shown} more would take the page past its size budget for samples (--max-samples-mib)"
    if candidates < records:
        why += f", and {records - candidates} are past --max-samples"
    return f'<p class="truncated">Showing the first {shown} of {records} samples: {why}.</p>'
