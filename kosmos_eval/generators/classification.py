"""Bundled samples of the classification tasks: `imagenet` and `cub_descriptions`.

imagenet: the synset-folder layout of the ILSVRC2012 validation set (`val/<wnid>/ILSVRC2012_val_NNNNNNNN.JPEG`)
for ten real classes, with a `LOC_synset_mapping.txt` that names just those ten, because the synset-folder
layout carries no names of its own and the reader takes them from that file (formats/imagenet.py). The WNIDs
and lemma lists are public facts; each picture is a Pillow drawing of the class (a striped bee, a lit candle).

cub_descriptions: what `kosmos-eval prepare cub-descriptions` writes (formats/cub_builder.py), i.e.
`descriptions.jsonl`, `images/<category slug>/<file>.jpg` and `build_info.json`, for the paper's three groups
(woodpeckers, penguins, sparrows) with descriptions written here, each naming what its drawing shows, so the
descriptions really are what tells the two birds of a group apart. The penguins have one picture each, so the
set also shows the builder's "fewer images than asked" note.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageDraw

from kosmos_eval.formats.cub_builder import BUILD_INFO_FILE, IMAGES_FOLDER, CategoryCount, category_slug
from kosmos_eval.formats.described_classes import DEFAULT_FILE_NAME, Candidate, make_record
from kosmos_eval.generators.pictures import save_jpeg
from kosmos_eval.generators.samples import sample_writer

SIZE = (96, 72)
Colour = tuple[int, int, int]
Draw = Callable[[ImageDraw.ImageDraw, float, float, float, random.Random], None]
BLACK, WHITE, SKY, GRASS = (20, 20, 20), (245, 245, 240), (150, 195, 235), (70, 150, 70)

# ---------------------------------------------------------------------------------------------------- imagenet


def _bee(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    d.ellipse((x - 0.7 * s, y - 1.0 * s, x + 0.1 * s, y - 0.2 * s), fill=(225, 235, 250), outline=BLACK)
    d.ellipse((x - 0.1 * s, y - 0.9 * s, x + 0.6 * s, y - 0.3 * s), fill=(225, 235, 250), outline=BLACK)
    d.ellipse((x - s, y - 0.55 * s, x + s, y + 0.55 * s), fill=(235, 190, 30), outline=BLACK)
    for k in (-0.4, 0.0, 0.4):
        d.rectangle((x + (k - 0.09) * s, y - 0.45 * s, x + (k + 0.09) * s, y + 0.45 * s), fill=BLACK)
    d.ellipse((x + 0.8 * s, y - 0.4 * s, x + 1.5 * s, y + 0.3 * s), fill=BLACK)
    d.polygon([(x - s, y - 0.1 * s), (x - 1.35 * s, y), (x - s, y + 0.1 * s)], fill=BLACK)


def _candle(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    wax = rng.choice(((245, 238, 215), (200, 40, 40)))
    d.rectangle((x - 0.3 * s, y - 0.3 * s, x + 0.3 * s, y + 1.4 * s), fill=wax, outline=BLACK)
    d.ellipse((x - 0.3 * s, y - 1.3 * s, x + 0.3 * s, y - 0.35 * s), fill=(245, 150, 30))
    d.ellipse((x - 0.15 * s, y - 1.0 * s, x + 0.15 * s, y - 0.4 * s), fill=(255, 235, 120))
    d.line((x, y - 0.5 * s, x, y - 0.3 * s), fill=BLACK, width=2)


def _soccer_ball(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    d.ellipse((x - s, y - s, x + s, y + s), fill=WHITE, outline=BLACK, width=2)
    d.regular_polygon((x, y, 0.35 * s), 5, fill=BLACK)
    for k in range(5):
        angle = 90 + 72 * k
        px, py = _polar(x, y, 0.78 * s, angle)
        d.regular_polygon((px, py, 0.2 * s), 5, rotation=angle, fill=BLACK)
        d.line((*_polar(x, y, 0.35 * s, angle), *_polar(x, y, 0.6 * s, angle)), fill=BLACK, width=1)


def _tennis_ball(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    d.ellipse((x - s, y - s, x + s, y + s), fill=(205, 225, 55), outline=(120, 130, 30))
    d.arc((x - 2.25 * s, y - s, x - 0.25 * s, y + s), -60, 60, fill=WHITE, width=3)
    d.arc((x + 0.25 * s, y - s, x + 2.25 * s, y + s), 120, 240, fill=WHITE, width=3)


def _umbrella(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    canopy = rng.choice(((200, 40, 40), (40, 70, 200), (130, 50, 160)))
    d.line((x, y, x, y + 1.0 * s), fill=BLACK, width=2)
    d.arc((x - 0.3 * s, y + 0.8 * s, x, y + 1.2 * s), 0, 180, fill=BLACK, width=2)
    d.pieslice((x - 1.3 * s, y - 1.0 * s, x + 1.3 * s, y + 0.6 * s), 180, 360, fill=canopy, outline=BLACK)
    for k in (-0.65, 0.0, 0.65):
        d.line((x, y - 1.0 * s, x + k * s, y - 0.2 * s), fill=BLACK)
    for _ in range(6):
        rx, ry = rng.uniform(0, SIZE[0]), rng.uniform(0, SIZE[1] * 0.3)
        d.line((rx, ry, rx - 2, ry + 5), fill=(220, 230, 240))


def _traffic_light(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    lit = rng.randrange(3)
    colours = (((95, 30, 30), (240, 40, 30)), ((95, 85, 20), (250, 200, 40)), ((25, 80, 35), (60, 220, 90)))
    d.rectangle((x - 0.1 * s, y + 1.1 * s, x + 0.1 * s, y + 2.0 * s), fill=(90, 90, 90))
    d.rectangle((x - 0.42 * s, y - 1.15 * s, x + 0.42 * s, y + 1.15 * s), fill=(35, 35, 35), outline=BLACK)
    for k, (dim, bright) in enumerate(colours):
        cy = y + (k - 1) * 0.72 * s
        d.ellipse((x - 0.28 * s, cy - 0.28 * s, x + 0.28 * s, cy + 0.28 * s), fill=bright if k == lit else dim)


def _mushroom(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    d.rectangle((x - 0.25 * s, y - 0.1 * s, x + 0.25 * s, y + 1.0 * s), fill=(235, 225, 200), outline=BLACK)
    d.pieslice((x - s, y - 0.9 * s, x + s, y + 0.5 * s), 180, 360, fill=(200, 40, 35), outline=BLACK)
    for dx, dy in ((-0.5, -0.3), (0.0, -0.6), (0.45, -0.35), (-0.15, -0.2)):
        d.ellipse((x + (dx - 0.1) * s, y + (dy - 0.08) * s, x + (dx + 0.1) * s, y + (dy + 0.08) * s), fill=WHITE)


def _orange(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    d.ellipse((x - s, y - 0.95 * s, x + s, y + 0.95 * s), fill=(240, 140, 30), outline=(170, 85, 10))
    d.ellipse((x - 0.55 * s, y - 0.6 * s, x - 0.25 * s, y - 0.35 * s), fill=(250, 185, 90))
    d.ellipse((x - 0.05 * s, y - 1.25 * s, x + 0.55 * s, y - 0.95 * s), fill=(50, 140, 50))
    for _ in range(8):
        px, py = _polar(x, y, rng.uniform(0.2, 0.75) * s, rng.uniform(0, 360))
        d.point((px, py), fill=(200, 110, 20))


def _lemon(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    yellow = (245, 220, 50)
    for tip in (-1, 1):
        d.ellipse((x + tip * s - 0.2 * s, y - 0.15 * s, x + tip * s + 0.2 * s, y + 0.15 * s), fill=yellow)
    d.ellipse((x - 1.05 * s, y - 0.7 * s, x + 1.05 * s, y + 0.7 * s), fill=yellow, outline=(190, 160, 20))
    d.ellipse((x - 0.5 * s, y - 0.45 * s, x - 0.1 * s, y - 0.25 * s), fill=(252, 240, 150))


def _volcano(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    for k in range(3):
        r = (0.3 + 0.12 * k) * s
        cx, cy = x + (0.4 * k + rng.uniform(-0.1, 0.1)) * s, y - (1.05 + 0.3 * k) * s
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(120, 120, 125))
    left, right = (x - 0.35 * s, y - 0.8 * s), (x + 0.35 * s, y - 0.8 * s)  # the crater's rim
    d.polygon([(x - 2.0 * s, SIZE[1]), left, right, (x + 2.0 * s, SIZE[1])], fill=(105, 75, 55))
    d.polygon([left, right, (x + 0.1 * s, y), (x - 0.15 * s, y)], fill=(230, 70, 20))
    d.line((x, y - 0.3 * s, x + 0.5 * s, y + 0.9 * s), fill=(240, 110, 20), width=3)


def _polar(x: float, y: float, r: float, degrees: float) -> tuple[float, float]:
    return x + r * math.cos(math.radians(degrees)), y - r * math.sin(math.radians(degrees))


# (WNID, lemma list as LOC_synset_mapping.txt writes it, drawing, backgrounds), in sorted-WNID order
IMAGENET_CLASSES: tuple[tuple[str, str, Draw, tuple[Colour, ...]], ...] = (
    ("n02206856", "bee", _bee, (GRASS, SKY)),
    ("n02948072", "candle, taper, wax light", _candle, ((40, 30, 50), (70, 50, 40))),
    ("n04254680", "soccer ball", _soccer_ball, (GRASS, (50, 120, 60))),
    ("n04409515", "tennis ball", _tennis_ball, ((50, 90, 160), (190, 90, 50))),
    ("n04507155", "umbrella", _umbrella, ((150, 160, 170), (120, 130, 145))),
    ("n06874185", "traffic light, traffic signal, stoplight", _traffic_light, (SKY, (200, 210, 220))),
    ("n07734744", "mushroom", _mushroom, ((110, 140, 70), (120, 95, 60))),
    ("n07747607", "orange", _orange, (WHITE, (160, 120, 80))),
    ("n07749582", "lemon", _lemon, ((60, 90, 160), (230, 230, 225))),
    ("n09472597", "volcano", _volcano, (SKY, (230, 180, 140))),
)


def imagenet_picture(draw: Draw, backgrounds: tuple[Colour, ...], rng: random.Random) -> Image.Image:
    """One picture of a class: its drawing, a little moved and scaled, on one of its backgrounds."""
    image = Image.new("RGB", SIZE, rng.choice(backgrounds))
    x = SIZE[0] / 2 + rng.uniform(-8, 8)
    y = SIZE[1] / 2 + rng.uniform(-3, 3)
    draw(ImageDraw.Draw(image), x, y, SIZE[1] * 0.3 * rng.uniform(0.85, 1.05), rng)
    return image


@sample_writer("imagenet")
def write_imagenet_sample(task: str, folder: Path) -> None:
    """val/<wnid>/ILSVRC2012_val_NNNNNNNN.JPEG, one or two per class, and the names of those classes.

    Image numbers are drawn once for the whole set, so they are distinct like the real 1..50000."""
    rng = random.Random(f"sample-{task}")
    counts = [rng.choice((1, 1, 2)) for _ in IMAGENET_CLASSES]
    numbers = iter(rng.sample(range(1, 50001), sum(counts)))
    for (wnid, _, draw, backgrounds), count in zip(IMAGENET_CLASSES, counts, strict=True):
        for number in sorted(next(numbers) for _ in range(count)):
            path = folder / "val" / wnid / f"ILSVRC2012_val_{number:08d}.JPEG"
            save_jpeg(imagenet_picture(draw, backgrounds, rng), path)
    mapping = "".join(f"{wnid} {lemmas}\n" for wnid, lemmas, _, _ in IMAGENET_CLASSES)
    (folder / "LOC_synset_mapping.txt").write_text(mapping, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------- cub


class Bird(NamedTuple):
    """One CUB category: its group, its name and how its drawing looks (DESCRIPTIONS says the same in words)."""

    general: str
    name: str
    body: Colour
    head: Colour
    crown: Colour | None
    marks: str  # bars | dots | bib | spots (songbirds), eye patch | crest (penguins)
    beak: Colour
    pictures: int = 2  # the penguins have one each, like an --extra-images folder holding a single picture


# In the order of the paper's pairs file (kosmos_eval/data/cub_pairs.yaml); every bird has a white belly.
GREY_BEAK, DARK_BEAK, RUST = (90, 90, 90), (60, 60, 60), (175, 80, 40)
BIRDS = (
    Bird("woodpecker", "three toed woodpecker", BLACK, BLACK, (240, 205, 40), "bars", GREY_BEAK),
    Bird("woodpecker", "downy woodpecker", BLACK, WHITE, (210, 30, 30), "dots", GREY_BEAK),
    Bird("penguin", "Gentoo penguin", BLACK, BLACK, None, "eye patch", (245, 120, 30), 1),
    Bird("penguin", "royal penguin", BLACK, WHITE, (245, 215, 40), "crest", (235, 150, 110), 1),
    Bird("sparrow", "black throated sparrow", (125, 125, 130), (125, 125, 130), None, "bib", DARK_BEAK),
    Bird("sparrow", "fox sparrow", RUST, (150, 110, 90), None, "spots", DARK_BEAK),
)
# Written for these drawings (not the paper's Table 11 sentences): each names what tells the pair apart.
DESCRIPTIONS = {
    "three toed woodpecker": "Its black back and wings are crossed by white bars and it wears a yellow cap.",
    "downy woodpecker": "Its black wings are dotted with white and its white head has a red patch on top.",
    "Gentoo penguin": "It has an all-black head with a white mark above the eye and an orange beak.",
    "royal penguin": "It has a white face and a crest of yellow feathers rising from its head.",
    "black throated sparrow": "It is plain grey above and white below, with a black bib under its beak.",
    "fox sparrow": "It has rusty brown wings and back and a white breast covered in brown spots.",
}
PER_CATEGORY = 2


def _perched(d: ImageDraw.ImageDraw, bird: Bird, x: float, y: float, rng: random.Random) -> None:
    w = SIZE[0]
    d.line((0, y + 0.3 * w, w, y + 0.24 * w), fill=(110, 75, 40), width=5)
    d.polygon([(x - 0.22 * w, y), (x - 0.42 * w, y + 0.18 * w), (x - 0.34 * w, y + 0.2 * w)], fill=bird.body)
    body = (x - 0.25 * w, y - 0.13 * w, x + 0.2 * w, y + 0.15 * w)
    d.ellipse(body, fill=bird.body, outline=BLACK)
    d.chord(body, 20, 160, fill=WHITE)
    for leg in (-0.04, 0.05):
        d.line((x + leg * w, y + 0.14 * w, x + leg * w, y + 0.26 * w), fill=(70, 60, 50), width=2)
    d.ellipse((x - 0.2 * w, y - 0.1 * w, x + 0.1 * w, y + 0.05 * w), fill=bird.body, outline=BLACK)  # the wing
    for k in range(3 if bird.marks == "bars" else 0):
        d.line((x - 0.16 * w, y + (k - 1.5) * 0.04 * w, x + 0.06 * w, y + (k - 1.5) * 0.04 * w), fill=WHITE, width=2)
    for _ in range(7 if bird.marks in ("dots", "spots") else 0):
        if bird.marks == "dots":  # on the wing
            px, py, fill = x + rng.uniform(-0.16, 0.06) * w, y + rng.uniform(-0.07, 0.03) * w, WHITE
        else:  # on the breast
            px, py, fill = x + rng.uniform(-0.08, 0.12) * w, y + rng.uniform(0.06, 0.12) * w, (120, 60, 30)
        d.ellipse((px - 1.5, py - 1.5, px + 1.5, py + 1.5), fill=fill)
    hx, hy, r = x + 0.2 * w, y - 0.13 * w, 0.09 * w
    tip = 2.2 if bird.general == "woodpecker" else 1.6
    d.polygon([(hx + 0.8 * r, hy - 0.3 * r), (hx + tip * r, hy), (hx + 0.8 * r, hy + 0.3 * r)], fill=bird.beak)
    d.ellipse((hx - r, hy - r, hx + r, hy + r), fill=bird.head, outline=BLACK)
    if bird.crown:
        d.chord((hx - r, hy - r, hx + r, hy + r), 200, 300, fill=bird.crown)
    if bird.marks == "bib":
        d.ellipse((hx - 0.3 * r, hy + 0.35 * r, hx + 0.8 * r, hy + 1.5 * r), fill=BLACK)
    d.ellipse((hx + 0.2 * r, hy - 0.35 * r, hx + 0.5 * r, hy - 0.05 * r), fill=BLACK)


def _penguin(d: ImageDraw.ImageDraw, bird: Bird, x: float, y: float, rng: random.Random) -> None:
    w, h = SIZE
    d.rectangle((0, h * 0.82, w, h), fill=(235, 240, 245))
    d.ellipse((x - 0.14 * w, y - 0.15 * w, x + 0.14 * w, y + 0.3 * w), fill=bird.body, outline=BLACK)
    d.ellipse((x - 0.06 * w, y - 0.1 * w, x + 0.13 * w, y + 0.28 * w), fill=WHITE)
    d.ellipse((x - 0.12 * w, y - 0.05 * w, x - 0.02 * w, y + 0.2 * w), fill=bird.body, outline=(60, 60, 60))
    for foot in (-0.06, 0.06):
        d.ellipse((x + (foot - 0.04) * w, y + 0.28 * w, x + (foot + 0.05) * w, y + 0.32 * w), fill=(240, 130, 60))
    hx, hy, r = x + 0.02 * w, y - 0.2 * w, 0.085 * w
    beak = [(hx + 0.8 * r, hy - 0.15 * r), (hx + 1.7 * r, hy + 0.2 * r), (hx + 0.8 * r, hy + 0.45 * r)]
    d.polygon(beak, fill=bird.beak)
    d.ellipse((hx - r, hy - r, hx + r, hy + r), fill=BLACK)
    if bird.marks == "eye patch":
        d.ellipse((hx - 0.1 * r, hy - 0.7 * r, hx + 0.6 * r, hy - 0.3 * r), fill=WHITE)
    else:  # white face, yellow crest
        d.chord((hx - r, hy - r, hx + r, hy + r), -80, 110, fill=bird.head)
        for k in range(4):
            root, top = (hx + (0.2 * k - 0.2) * r, hy - 0.8 * r), (hx + (0.15 * k - 0.9) * r, hy - 1.5 * r)
            d.line((*root, *top), fill=bird.crown, width=2)
    d.ellipse((hx + 0.25 * r, hy - 0.25 * r, hx + 0.5 * r, hy), fill=(200, 60, 40))


def bird_picture(bird: Bird, rng: random.Random) -> Image.Image:
    """A drawing of one category: perched songbirds and woodpeckers, standing penguins."""
    image = Image.new("RGB", SIZE, rng.choice((SKY, (185, 215, 170), (215, 225, 235))))
    x, y = SIZE[0] * 0.48 + rng.uniform(-5, 5), SIZE[1] * 0.45 + rng.uniform(-3, 3)
    (_penguin if bird.general == "penguin" else _perched)(ImageDraw.Draw(image), bird, x, y, rng)
    return image


@sample_writer("cub_descriptions")
def write_cub_sample(task: str, folder: Path) -> None:
    """descriptions.jsonl, images/<slug>/ and build_info.json, laid out and ordered as build_described_set writes
    them: pair by pair, category by category, each example listing its pair's categories as candidates."""
    rng = random.Random(f"sample-{task}")
    lines, counts, notes = [], [], []
    for bird in BIRDS:
        pair = [Candidate(b.name, DESCRIPTIONS[b.name]) for b in BIRDS if b.general == bird.general]
        slug, stem = category_slug(bird.name), "_".join(word.capitalize() for word in bird.name.split())
        source = f"synthetic drawings of {bird.name} (kosmos_eval.generators.classification)"
        if bird.pictures < PER_CATEGORY:
            notes.append(f"{bird.name}: only {bird.pictures} images available ({source}), not {PER_CATEGORY}")
        counts.append(asdict(CategoryCount(bird.name, bird.general, source, bird.pictures, bird.pictures)))
        for file_name in sorted(
            f"{stem}_{k:04d}_{rng.randrange(100000, 800000)}.jpg" for k in range(1, bird.pictures + 1)
        ):
            relative = f"{IMAGES_FOLDER}/{slug}/{file_name}"
            save_jpeg(bird_picture(bird, rng), folder / relative)
            record = make_record(f"{slug}/{file_name}", relative, bird.general, pair, bird.name)
            lines.append(json.dumps(record, ensure_ascii=False))
    (folder / DEFAULT_FILE_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = {
        "pairs_file": "none: the pairs and descriptions of kosmos_eval/generators/classification.py",
        "cub_dir": "none: synthetic drawings, not CUB-200-2011",
        "split": "test",
        "seed": f"sample-{task}",
        "per_category": PER_CATEGORY,
        "extra_images": None,
        "examples": len(lines),
        "categories": counts,
        "skipped": [],
        "notes": notes,
    }
    (folder / BUILD_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
