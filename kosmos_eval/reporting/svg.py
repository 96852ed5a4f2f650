"""Tiny inline-SVG charts for the HTML report: a line chart (metric vs shots) and a horizontal bar chart.

Written here rather than with a plotting library so that a report is one self-contained file that opens offline
in any browser and carries no third-party script; the charts need nothing more than axes, ticks, a legend and
text labels. Every string placed in the SVG is HTML-escaped (task keys such as "yes/no" or "<unk>" are data).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

# colour-blind-friendly palette (Okabe-Ito); runs get solid lines, paper series dashed lines
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999")
FONT = 'font-family="system-ui, sans-serif"'
CHAR_PX = 7.0  # generous average width of a 12 px character, to size legends without measuring text


@dataclass(frozen=True)
class Point:
    """One value of a series; `low`/`high` draw a whisker (a 95% CI) when both are given."""

    x: float
    y: float
    low: float | None = None
    high: float | None = None


@dataclass
class Series:
    name: str
    points: list[Point] = field(default_factory=list)
    dashed: bool = False  # the paper's numbers: dashed, so they read as reference lines


def nice_axis(highest: float, intervals: int = 5) -> tuple[float, float]:
    """(top, step) of an axis from 0 that holds `highest` in about `intervals` round steps (1, 2, 2.5 or 5
    times a power of ten): 106.8 -> (125, 25), 100 over 4 -> (100, 25)."""
    if highest <= 0 or math.isnan(highest):
        return 1.0, 1.0 / intervals
    rough = highest / intervals
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if rough <= m * power * (1 + 1e-9))
    return math.ceil(highest / step - 1e-9) * step, step


def _ticks(top: float, step: float) -> list[float]:
    return [round(i * step, 6) for i in range(round(top / step) + 1)]


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def line_chart(series: Sequence[Series], title: str, x_label: str, y_label: str, plot_w: int = 420) -> str:
    """An SVG line chart of every series over a shared x axis (ticks at each x that occurs), with whiskers
    where a point has an interval and a legend to the right (as wide as its longest name). The y axis starts
    at 0 so gaps are not exaggerated."""
    left, top = 56, 34
    height = max(300, top + 18 * len(series) + 20)
    plot_h = height - top - 52
    legend_w = 40 + int(CHAR_PX * max((len(s.name) for s in series), default=0))
    width = max(left + plot_w + 16 + legend_w, int(CHAR_PX * len(title)) + 20)
    xs = sorted({p.x for s in series for p in s.points})
    highest = max((max(p.y, p.high or p.y) for s in series for p in s.points), default=1.0)
    y_top, y_step = nice_axis(highest * 1.05)
    x_low, x_high = (xs[0], xs[-1]) if xs else (0.0, 1.0)
    span = (x_high - x_low) or 1.0

    def px(x: float) -> float:
        return left + (plot_w * (x - x_low) / span if len(xs) > 1 else plot_w / 2)

    def py(y: float) -> float:
        return top + plot_h - plot_h * y / y_top

    parts = [
        f'<svg class="chart line-chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT} font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in _ticks(y_top, y_step):
        y = py(tick)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}</text>')
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_number(x)}</text>')
    parts += [
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#333"/>',
        f'<text class="x-label" x="{left + plot_w / 2:.0f}" y="{height - 10}" text-anchor="middle">'
        f"{escape(x_label)}</text>",
        f'<text class="y-label" transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>",
    ]
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        dash = ' stroke-dasharray="6 4"' if one.dashed else ""
        points = sorted(one.points, key=lambda p: p.x)
        path = " ".join(f"{px(p.x):.1f},{py(p.y):.1f}" for p in points)
        parts.append(f'<g class="series" data-series="{escape(one.name)}">')
        if len(points) > 1:
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for p in points:
            x, y = px(p.x), py(p.y)
            if p.low is not None and p.high is not None:
                lo, hi = py(p.low), py(p.high)
                parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{lo:.1f}" y2="{hi:.1f}" stroke="{colour}"/>')
                for end in (lo, hi):
                    parts.append(
                        f'<line x1="{x - 4:.1f}" x2="{x + 4:.1f}" y1="{end:.1f}" y2="{end:.1f}" stroke="{colour}"/>'
                    )
            label = f"{one.name}: {p.y:.1f} at {_number(p.x)}"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"><title>{escape(label)}</title></circle>'
            )
        parts.append("</g>")
    legend_x = left + plot_w + 16
    parts.append('<g class="legend">')
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        y = top + 8 + 18 * index
        dash = ' stroke-dasharray="6 4"' if one.dashed else ""
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 22}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{legend_x + 28}" y="{y + 4}">{escape(one.name)}</text>')
    parts.append("</g></svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, float | None, int | None]], title: str, value_label: str) -> str:
    """Horizontal bars (label, value, n): one per group key, labelled "key (n=…)" and with its value at the
    bar's end. The value axis runs from 0 to at least 100 (the paper's scale) so charts compare at a glance."""
    width, label_w, bar_h, gap, top = 640, 220, 16, 6, 30
    plot_w = width - label_w - 70
    values = [v for _, v, _ in bars if v is not None and not math.isnan(v)]
    x_top, x_step = nice_axis(max([100.0, *values]), 4)
    height = top + len(bars) * (bar_h + gap) + 34
    parts = [
        f'<svg class="chart bar-chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT} font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
    ]
    axis_y = top + len(bars) * (bar_h + gap)
    for tick in _ticks(x_top, x_step):
        x = label_w + plot_w * tick / x_top
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{axis_y}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle">{_number(tick)}</text>')
    parts.append(
        f'<text x="{label_w + plot_w / 2:.0f}" y="{axis_y + 28}" text-anchor="middle">{escape(value_label)}</text>'
    )
    for index, (label, value, n) in enumerate(bars):
        y = top + index * (bar_h + gap)
        text = f"{label} (n={n})" if n is not None else label
        shown = "—" if value is None or math.isnan(value) else f"{value:.1f}"
        length = 0.0 if shown == "—" else plot_w * max(0.0, float(value or 0.0)) / x_top
        parts.append(f'<g class="bar" data-key="{escape(label)}">')
        parts.append(
            f'<text class="bar-label" x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{escape(text)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="{PALETTE[0]}"/>')
        parts.append(f'<text class="bar-value" x="{label_w + length + 4:.1f}" y="{y + bar_h - 4}">{shown}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
