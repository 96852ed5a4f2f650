"""Console tables that fit the terminal: at most 100 columns (fewer where $COLUMNS says so)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence

MAX_WIDTH = 100
GAP = "  "


def console_width() -> int:
    """100 columns, or the terminal's width where $COLUMNS is set and smaller (never under 40)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return MAX_WIDTH
    return max(40, min(MAX_WIDTH, columns))


def column_widths(rows: Sequence[Sequence[str]], width: int, fixed: Sequence[int] = ()) -> list[int]:
    """Each column's natural width, the widest narrowed one at a time until a line fits: first those wider
    than their longest word (outside `fixed`), then any."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    words = [max(len(word) for row in rows for word in [*row[i].split(), ""]) for i in range(len(widths))]
    budget = width - len(GAP) * (len(widths) - 1)
    while sum(widths) > budget:
        free = [i for i in range(len(widths)) if i not in fixed and widths[i] > words[i]]
        free = free or [i for i in range(len(widths)) if i not in fixed and widths[i] > 4]
        free = free or [i for i in range(len(widths)) if widths[i] > 4]
        if not free:
            break
        widths[max(free, key=lambda i: widths[i])] -= 1
    return widths


def wrapped_table(rows: Sequence[Sequence[str]], width: int | None = None, fixed: Sequence[int] = ()) -> list[str]:
    """Lines of a table whose cells wrap within their column; a row's continuation lines start blank."""
    width = width or console_width()
    widths = column_widths(rows, width, fixed)
    lines = []
    for row in rows:
        cells = [textwrap.wrap(cell, w) or [""] for cell, w in zip(row, widths, strict=True)]
        for k in range(max(len(c) for c in cells)):
            parts = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)]
            lines.append(GAP.join(parts).rstrip())
    return lines


def truncate(text: str, width: int) -> str:
    """`text`, cut to `width` characters with an ellipsis where it is longer."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def wrap_note(text: str, width: int | None = None, indent: str = "    ") -> list[str]:
    """A paragraph wrapped at the console width, its later lines indented (a longer word, a path, stays whole)."""
    return textwrap.wrap(
        text, width or console_width(), subsequent_indent=indent, break_on_hyphens=False, break_long_words=False
    )
