"""A seeded generator of Raven-style matrix problems, rendered with Pillow.

It produced the sample set bundled with the package (kosmos_eval/data/samples/raven), so every machine can
run the Raven task offline. Problems come in the three shapes of the KOSMOS-1 IQ test:

* a 2x2 matrix (3 given panels): one attribute changes along the columns, another along the rows;
* a 5-panel sequence (4 given panels): attributes follow a progression;
* a 3x3 matrix (8 given panels): every attribute follows one row-wise rule, RAVEN style:
  constant, progression, arithmetic (count and colour only) or distribute-three.

A panel shows `count` copies of one shape with one size and one grey level. The five wrong candidates
each change exactly one attribute of the right answer, so no single attribute gives the answer away.
The output uses the IQ50 one-by-one layout with the correct candidate as `answer-a.png`, like the public
IQ50 copy; the task shuffles candidates per example.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw

from kosmos_eval.generators.samples import sample_writer

PANEL_SIZE = 80
SHAPES = ("triangle", "square", "pentagon", "hexagon", "circle")  # ordered by number of sides
SIZES = (0.35, 0.45, 0.55, 0.65, 0.75, 0.85)
GREYS = (255, 210, 165, 120, 75, 30)
COUNTS = (1, 2, 3, 4)
DOMAINS = {"shape": len(SHAPES), "size": len(SIZES), "colour": len(GREYS), "count": len(COUNTS)}
RULES_3X3 = {
    "shape": ("constant", "progression", "distribute_three"),
    "size": ("constant", "progression", "distribute_three"),
    "colour": ("constant", "progression", "arithmetic", "distribute_three"),
    "count": ("constant", "progression", "arithmetic", "distribute_three"),
}
# Positions (as fractions of the panel) of 1-4 objects.
LAYOUTS = {
    1: [(0.5, 0.5)],
    2: [(0.28, 0.5), (0.72, 0.5)],
    3: [(0.5, 0.28), (0.28, 0.72), (0.72, 0.72)],
    4: [(0.28, 0.28), (0.72, 0.28), (0.28, 0.72), (0.72, 0.72)],
}


@dataclass(frozen=True)
class Panel:
    """Attribute indices into SHAPES, SIZES, GREYS and COUNTS."""

    shape: int
    size: int
    colour: int
    count: int


def render_panel(panel: Panel) -> Image.Image:
    image = Image.new("L", (PANEL_SIZE, PANEL_SIZE), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, PANEL_SIZE - 1, PANEL_SIZE - 1), outline=0, width=1)
    count = COUNTS[panel.count]
    cell = PANEL_SIZE / (1 if count == 1 else 2)
    radius = SIZES[panel.size] * cell / 2
    for fx, fy in LAYOUTS[count]:
        centre = (fx * PANEL_SIZE, fy * PANEL_SIZE)
        fill = GREYS[panel.colour]
        if SHAPES[panel.shape] == "circle":
            x, y = centre
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill, outline=0, width=2)
        else:
            sides = panel.shape + 3  # triangle, square, pentagon, hexagon
            draw.regular_polygon((centre, radius), sides, fill=fill, outline=0, width=2)
    return image


def _row_values(rule: str, domain: int, length: int, rows: int, rng: random.Random, carry: int = 0) -> list[list[int]]:
    """Values (indices) of one attribute for `rows` rows of `length` panels under a rule.

    `carry` is added by the arithmetic rule: counts are stored as index = count - 1, so "third count =
    first count + second count" is index3 = index1 + index2 + 1.
    """
    if rule == "constant":
        picks = rng.sample(range(domain), rows)
        return [[v] * length for v in picks]
    if rule == "progression":
        step = rng.choice([s for s in (-2, -1, 1, 2) if abs(s) * (length - 1) < domain])
        span = abs(step) * (length - 1)
        result = []
        for _ in range(rows):
            start = rng.randrange(domain - span) + (span if step < 0 else 0)
            result.append([start + step * i for i in range(length)])
        return result
    if rule == "arithmetic":  # third = first + second on the attribute's scale, needs length 3
        result = []
        for _ in range(rows):
            first = rng.randrange(domain - 1 - carry)
            second = rng.randrange(domain - 1 - carry - first)
            result.append([first, second, first + second + carry])
        return result
    if rule == "distribute_three":
        values = rng.sample(range(domain), length)
        return [values[r % length :] + values[: r % length] for r in range(rows)]
    raise ValueError(f"unknown rule {rule}")


def _matrix_3x3(rng: random.Random) -> tuple[list[Panel], dict[str, str]]:
    rules = {attr: rng.choice(options) for attr, options in RULES_3X3.items()}
    table = {
        attr: _row_values(rule, DOMAINS[attr], 3, 3, rng, carry=1 if attr == "count" else 0)
        for attr, rule in rules.items()
    }
    panels = [Panel(**{attr: table[attr][r][c] for attr in DOMAINS}) for r in range(3) for c in range(3)]
    return panels, rules


def _matrix_2x2(rng: random.Random) -> tuple[list[Panel], dict[str, str]]:
    column_attr, row_attr = rng.sample(list(DOMAINS), 2)
    base = {attr: rng.randrange(DOMAINS[attr]) for attr in DOMAINS}
    column_values = rng.sample(range(DOMAINS[column_attr]), 2)
    row_values = rng.sample(range(DOMAINS[row_attr]), 2)
    panels = [
        Panel(**{**base, column_attr: column_values[c], row_attr: row_values[r]}) for r in range(2) for c in range(2)
    ]
    return panels, {column_attr: "changes_along_columns", row_attr: "changes_along_rows"}


def _sequence_5(rng: random.Random) -> tuple[list[Panel], dict[str, str]]:
    moving = rng.sample([a for a in DOMAINS if DOMAINS[a] >= 5], rng.choice([1, 2]))
    base = {attr: rng.randrange(DOMAINS[attr]) for attr in DOMAINS}
    rows = {attr: _row_values("progression", DOMAINS[attr], 5, 1, rng)[0] for attr in moving}
    panels = [Panel(**{**base, **{a: rows[a][i] for a in moving}}) for i in range(5)]
    return panels, {attr: ("progression" if attr in moving else "constant") for attr in DOMAINS}


def _distractors(answer: Panel, count: int, rng: random.Random) -> list[Panel]:
    options = [
        replace(answer, **{attr: value})
        for attr in DOMAINS
        for value in range(DOMAINS[attr])
        if value != getattr(answer, attr)
    ]
    # spread the changes over attributes: at most two distractors change the same attribute
    rng.shuffle(options)
    chosen: list[Panel] = []
    per_attr: dict[str, int] = {}
    for option in options:
        attr = next(a for a in DOMAINS if getattr(option, a) != getattr(answer, a))
        if per_attr.get(attr, 0) < 2:
            chosen.append(option)
            per_attr[attr] = per_attr.get(attr, 0) + 1
        if len(chosen) == count:
            break
    return chosen


KINDS = {"matrix_2x2": _matrix_2x2, "sequence_5": _sequence_5, "matrix_3x3": _matrix_3x3}


def generate_problem(seed: int, kind: str) -> dict:
    """One problem as plain data: given panels, the answer and five distractors (attribute indices)."""
    rng = random.Random(f"raven-{kind}-{seed}")
    panels, rules = KINDS[kind](rng)
    answer = panels[-1]
    return {
        "kind": kind,
        "rules": rules,
        "given": [asdict(p) for p in panels[:-1]],
        "candidates": [asdict(answer)] + [asdict(p) for p in _distractors(answer, 5, rng)],
    }


def default_plan(n: int = 50) -> list[str]:
    """The mix of the IQ50 set: 38 of 50 with 3 given panels, 3 with 4, 9 with 8."""
    plan = ["matrix_2x2"] * (n * 38 // 50) + ["sequence_5"] * (n * 3 // 50)
    return plan + ["matrix_3x3"] * (n - len(plan))


def write_problem_set(out_dir: Path, n: int = 50, seed: int = 0) -> list[dict]:
    """Render n problems in the IQ50 one-by-one layout (answer-a correct) plus manifest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for index, kind in enumerate(default_plan(n), start=1):
        problem = generate_problem(seed * 100_000 + index, kind)
        exp_dir = out_dir / f"exp-{index}"
        exp_dir.mkdir(exist_ok=True)
        for k, attrs in enumerate(problem["given"], start=1):
            render_panel(Panel(**attrs)).save(exp_dir / f"query-{k}.png", optimize=True)
        for letter, attrs in zip("abcdef", problem["candidates"], strict=True):
            render_panel(Panel(**attrs)).save(exp_dir / f"answer-{letter}.png", optimize=True)
        manifest.append({"id": exp_dir.name, **problem})
    (out_dir / "manifest.json").write_text(
        json.dumps({"generator": "kosmos_eval.generators.raven", "seed": seed, "n": n, "problems": manifest}, indent=1)
    )
    return manifest


@sample_writer("raven")
def write_raven_sample(task: str, folder: Path) -> None:
    """The bundled Raven sample: 50 problems with IQ50's mix of panel counts."""
    write_problem_set(folder)
