"""What the report's sample browser shows for one record: its score, whether it is an error, the gold answer
and the prediction as text, and image thumbnails. Generic over tasks: fields are read by the names the tasks
write (references, answers, label with options...), so a new task shows sensibly without code here.

Records may come from someone else's run folder, so nothing in them is trusted: every value is text to be
escaped where it is placed (kosmos_eval.reporting.sample_browser), an image is read only where its key leads
inside the run's data folder or the runs folders given (reporting/confine.py), and the only URLs in the page
are the data URLs of the thumbnails made here.
"""

from __future__ import annotations

import base64
import io
import logging
import math
from collections import Counter
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from kosmos_eval.core.progress import notice
from kosmos_eval.reporting.confine import confined
from kosmos_eval.reporting.runs import Run

log = logging.getLogger(__name__)

SCALE = 100.0
THUMBNAIL_PX = 96
THUMBNAILS_PER_SAMPLE = 9  # a Raven example with 8 given images and a candidate; more are listed by key
GOLD_FIELDS = ("references", "answers", "answer", "gold")
TEXT_CHARS = 10_000  # the longest text one cell shows (a few-shot prompt fits; a looping generation is cut)
KEY_CHARS = 300  # the longest id or image key shown


def clip(text: str, limit: int = TEXT_CHARS) -> str:
    """`text`, cut to `limit` characters with a note of how much was left out: one runaway value must not
    cost the page its whole budget for samples."""
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters not shown]"


def number(value: Any) -> float | None:
    """`value` where it is a finite number, else None: a value read from a file is shown only as a number, so
    text where a number belongs ("<script>...") can neither reach the page nor raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer past any float
        return None
    return value if math.isfinite(value) else None


def fmt(value: Any) -> str:
    """A 0-1 metric value on the paper's scale with one decimal; an em dash where there is none."""
    value = number(value)
    return "—" if value is None else f"{value * SCALE:.1f}"


def sample_scores(run: Run) -> dict[str, float | None]:
    """Each record's score on the headline metric: its per-example row where the metric is a mean of rows
    (VQA accuracy 0.3, F1, CIDEr per image), else the record's "correct" flag (ROC AUC has no per-example value)."""
    from kosmos_eval.core.registry import TASKS
    from kosmos_eval.tasks.capabilities import EnvironmentChecked

    records = run.records
    try:
        task = TASKS.get(run.task)(seed=run.seed, options=run.task_options)
        if isinstance(task, EnvironmentChecked):  # captioning: the official scorer, seconds per run
            notice(
                log,
                "report: per-caption scores of %s (%d captions, COCOEvalCap with Java)",
                run.path.name,
                len(records),
            )
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


RELATIVE_METRICS = frozenset({"CIDEr"})  # per-sample scores with no full marks (CIDEr per image is rarely 100)
ERROR_QUANTILE = 0.1  # where there is none: a sample is an error when it is in the run's lowest decile


def error_threshold(headline: object, scores: Iterable[float | None]) -> tuple[float, bool]:
    """What makes a sample of a run an error: `(threshold, relative)`. A headline with full marks (accuracy,
    VQA accuracy, F1...) has threshold 1.0, and a sample below it is an error. A headline in RELATIVE_METRICS
    (CIDEr, whose per-image score is below 100 for nearly every caption) is judged against the run itself: the
    threshold is the highest score among the run's lowest-scoring tenth of samples (ceil(n / 10) of them), and a
    sample at or below it is an error."""
    if str(headline) not in RELATIVE_METRICS:
        return 1.0, False
    values = sorted(s for s in scores if s is not None)
    if not values:
        return 1.0, False
    return values[max(1, math.ceil(len(values) * ERROR_QUANTILE)) - 1], True


def is_error(record: dict[str, Any], score: float | None, threshold: tuple[float, bool] = (1.0, False)) -> bool:
    """Below full marks on the headline, or, for a headline without full marks, at or below the run's
    `threshold` (error_threshold); the "correct" flag only where the headline has no per-sample value
    (HellaSwag's headline accuracy_norm can be right where the plain `correct` is not)."""
    if score is None:
        return record.get("correct") is False
    limit, relative = threshold
    return score <= limit if relative else score < limit


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
    """Small JPEG data URLs of record images, made once per file (demonstrations repeat across samples).

    Re-encoding at 96 px is also what makes an image safe to embed: the page never carries a file's own bytes,
    only pixels Pillow decoded, as a JPEG made here."""

    def __init__(self, size: int = THUMBNAIL_PX) -> None:
        self.size = size
        self.cache: dict[Path, str | None] = {}
        self.refused: list[str] = []  # keys that led outside the allowed folders, in the order met

    def data_url(self, path: Path) -> str | None:
        if path not in self.cache:
            self.cache[path] = self._make(path)
        return self.cache[path]

    def _make(self, path: Path) -> str | None:
        from PIL import Image

        if not path.is_file():  # also a FIFO or device planted under the data folder: never opened
            return None
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                image.thumbnail((self.size, self.size))
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=80)
        except (OSError, ValueError, Image.DecompressionBombError):  # not an image Pillow reads: show the key
            return None
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def html(self, key: str, data_dir: str | None, roots: Iterable[Path | str] = ()) -> str:
        """A thumbnail of the image `key` names under `data_dir`, or the key as text where there is none. A key
        that is absolute or leads (by `..` or a link) outside `data_dir` and `roots` is not read at all: it is
        listed by name and remembered in `refused`, for the caller's one warning line."""
        path = confined(data_dir, key, [data_dir, *roots]) if data_dir else None
        label = escape(clip(key, KEY_CHARS))
        if data_dir and path is None:
            self.refused.append(key)
            return f'<span class="missing-image" title="outside the run\'s data folder: not read">{label}</span>'
        url = self.data_url(path) if path is not None else None
        if url is None:
            return f'<span class="missing-image" title="not found under the run\'s data folder">{label}</span>'
        return f'<img class="thumb" src="{url}" alt="{label}" title="{label}">'
