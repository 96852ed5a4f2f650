"""Bundled samples of the text-only visual-commonsense probes (KOSMOS-1 §4.9.2): relative_size, memory_color,
color_terms.

Each sample is the VaLM repository's file for its task, byte-compatible with the published one so that the
readers (formats/commonsense.py) take it by their normal path: `sizePairsFull.txt` ("bigger smaller" per line,
LF), `memory_color_data.csv` (Index,Descriptor,Item,Color with CRLF line ends and the article plus a trailing
space as Descriptor) and `color-concrete-objects.csv` (object,color, LF, sorted by object). The facts are ours:
word lists of everyday things with a typical size or a typical colour, chosen so that the answer is not in
doubt, and each colour one of the task's 11 labels.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from kosmos_eval.formats.commonsense import COLOR_TERMS_FILE, COLORS, MEMORY_COLOR_FILE, SIZE_FILE
from kosmos_eval.generators.samples import sample_writer

# one-word objects (the file splits a line on whitespace) with a rough typical length in metres
SIZES: dict[str, float] = {
    "ant": 0.005,
    "coin": 0.025,
    "key": 0.06,
    "mug": 0.1,
    "pencil": 0.18,
    "kettle": 0.25,
    "pillow": 0.6,
    "guitar": 1.0,
    "piano": 1.5,
    "bed": 2.0,
    "camel": 2.5,
    "tractor": 4.0,
    "truck": 8.0,
    "whale": 25.0,
    "lighthouse": 30.0,
    "mountain": 3000.0,
}
SIZE_PAIRS = 16
MIN_RATIO = 4.0  # only pairs whose sizes differ this much, so the bigger one is never in doubt

# (Descriptor, Item, Color) as the MemoryColor file writes them: "a " / "an " / "the " or nothing before the item
MEMORY_COLORS: tuple[tuple[str, str, str], ...] = (
    ("a ", "tangerine", "orange"),
    ("", "charcoal", "black"),
    ("a ", "canary", "yellow"),
    ("a ", "fire engine", "red"),
    ("", "tar", "black"),
    ("", "lilac", "purple"),
    ("a ", "piglet", "pink"),
    ("a ", "walnut", "brown"),
    ("a ", "cornflower", "blue"),
    ("a ", "fern", "green"),
    ("", "ketchup", "red"),
    ("a ", "koala", "grey"),
    ("", "whipped cream", "white"),
    ("", "candyfloss", "pink"),
    ("an ", "emerald", "green"),
    ("the ", "night sky", "black"),
    ("", "denim", "blue"),
    ("an ", "apricot", "orange"),
    ("a ", "cotton ball", "white"),
    ("", "mahogany", "brown"),
)
MEMORY_ITEMS = 16

# (object, color) for ColorTerms: things whose name is almost a colour word
COLOR_TERMS: tuple[tuple[str, str], ...] = (
    ("amethyst", "purple"),
    ("brick", "red"),
    ("bubblegum", "pink"),
    ("custard", "yellow"),
    ("granite", "grey"),
    ("mint", "green"),
    ("pearl", "white"),
    ("sapphire", "blue"),
    ("soot", "black"),
    ("acorn", "brown"),
    ("lipstick", "red"),
    ("marmalade", "orange"),
    ("pebble", "grey"),
    ("jade", "green"),
    ("ink", "black"),
    ("lemonade", "yellow"),
    ("porcelain", "white"),
    ("kale", "green"),
    ("chestnut", "brown"),
    ("cobalt", "blue"),
)
COLOR_TERM_ITEMS = 16


def covering(rng: random.Random, rows: tuple[tuple[str, ...], ...], count: int) -> list[tuple[str, ...]]:
    """`count` rows (last field: a colour) that include every colour of the pool at least once, so the sample
    asks for each of the 11 labels; the rest are drawn at random."""
    first = [rng.choice([row for row in rows if row[-1] == colour]) for colour in COLORS]
    return first + rng.sample([row for row in rows if row not in first], count - len(first))


@sample_writer("relative_size")
def write_relative_size_sample(task: str, folder: Path) -> None:
    """sizePairsFull.txt: bigger first, grouped by the bigger object (the published file's order)."""
    rng = random.Random(f"sample-{task}")
    by_size = sorted(SIZES, key=lambda name: -SIZES[name])
    clear = [
        (big, small) for big, small in itertools.combinations(by_size, 2) if SIZES[big] >= MIN_RATIO * SIZES[small]
    ]
    chosen = sorted(rng.sample(clear, SIZE_PAIRS), key=lambda pair: (by_size.index(pair[0]), by_size.index(pair[1])))
    (folder / SIZE_FILE).write_bytes("".join(f"{big} {small}\n" for big, small in chosen).encode("utf-8"))


@sample_writer("memory_color")
def write_memory_color_sample(task: str, folder: Path) -> None:
    """memory_color_data.csv: a header, then Index from 1 in file order, every line ended by CRLF."""
    rng = random.Random(f"sample-{task}")
    rows = covering(rng, MEMORY_COLORS, MEMORY_ITEMS)
    rng.shuffle(rows)  # the published file is in no particular order
    lines = ["Index,Descriptor,Item,Color"] + [f"{n},{d},{item},{c}" for n, (d, item, c) in enumerate(rows, start=1)]
    (folder / MEMORY_COLOR_FILE).write_bytes("".join(line + "\r\n" for line in lines).encode("utf-8"))


@sample_writer("color_terms")
def write_color_terms_sample(task: str, folder: Path) -> None:
    """color-concrete-objects.csv: a header, then object,color rows sorted by object, LF line ends."""
    rng = random.Random(f"sample-{task}")
    rows = sorted(covering(rng, COLOR_TERMS, COLOR_TERM_ITEMS))
    lines = ["object,color"] + [f"{obj},{colour}" for obj, colour in rows]
    (folder / COLOR_TERMS_FILE).write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
