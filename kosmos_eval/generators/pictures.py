"""Drawing for the bundled samples: small synthetic scenes and text cards, the same pixels on every machine.

The samples must be made, never copied, and must stay small, so their pictures are a few coloured shapes on a
plain background, each scene with a plain-words description (captions, VQA answers, class labels are derived
from it, so a sample's gold answers are true of its pictures). Text is drawn with Pillow's built-in bitmap
font, scaled up with nearest-neighbour, because TrueType rendering differs between FreeType versions and the
sample test compares pixels.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (205, 40, 40),
    "blue": (40, 70, 200),
    "green": (40, 160, 60),
    "yellow": (235, 210, 40),
    "orange": (240, 140, 30),
    "purple": (130, 50, 160),
    "pink": (240, 150, 190),
    "brown": (120, 75, 35),
    "black": (20, 20, 20),
    "white": (250, 250, 250),
    "grey": (128, 128, 128),
}
SHAPES = ("circle", "square", "triangle", "star")
BACKGROUNDS = ("white", "grey", "yellow", "blue", "green", "pink")
SIZES = ("small", "large")
PLACES = ("left", "right")
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Thing:
    shape: str
    colour: str
    size: str  # small | large
    place: str  # left | right (of the picture)

    def words(self, with_size: bool = True) -> str:
        return f"{self.size + ' ' if with_size else ''}{self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    background: str
    things: tuple[Thing, ...]  # one or two; with two, one is on the left and one on the right

    def describe(self) -> str:
        """'a large red circle and a small blue star on a grey background'"""
        parts = " and ".join(f"{_article(t.words())} {t.words()}" for t in self.things)
        return f"{parts} on {_article(self.background)} {self.background} background"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def random_scene(rng: random.Random, things: int | None = None) -> Scene:
    """One or two shapes (distinct colours, never the background's colour) on a plain background."""
    count = things if things is not None else rng.choice((1, 2))
    background = rng.choice(BACKGROUNDS)
    colours = rng.sample([c for c in COLOURS if c != background], count)
    places = ("left", "right") if count == 2 else (rng.choice(PLACES),)
    return Scene(
        background,
        tuple(
            Thing(rng.choice(SHAPES), colour, rng.choice(SIZES), place)
            for colour, place in zip(colours, places, strict=True)
        ),
    )


def draw_scene(scene: Scene, size: tuple[int, int] = (96, 72)) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, COLOURS[scene.background])
    draw = ImageDraw.Draw(image)
    for thing in scene.things:
        cx = width * (0.28 if thing.place == "left" else 0.72) if len(scene.things) > 1 else width / 2
        cy = height / 2
        radius = min(width, height) * (0.18 if thing.size == "small" else 0.3)
        fill, outline = COLOURS[thing.colour], (0, 0, 0)
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        if thing.shape == "circle":
            draw.ellipse(box, fill=fill, outline=outline)
        elif thing.shape == "square":
            draw.rectangle(box, fill=fill, outline=outline)
        elif thing.shape == "triangle":
            draw.regular_polygon((cx, cy, radius), 3, fill=fill, outline=outline)
        else:
            draw.polygon(star_points(cx, cy, radius), fill=fill, outline=outline)
    return image


def star_points(cx: float, cy: float, radius: float, inner: float = 0.45) -> list[tuple[float, float]]:
    """A five-pointed star, point up: ten vertices alternating the outer and inner radius (rounded to 1/100
    px, so last-digit differences between maths libraries cannot move a pixel)."""
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * inner
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((round(cx + r * math.cos(angle), 2), round(cy + r * math.sin(angle), 2)))
    return points


def text_card(
    lines: list[str],
    size: tuple[int, int],
    background: tuple[int, int, int] = (255, 255, 255),
    ink: tuple[int, int, int] = (0, 0, 0),
    scale: int = 2,
) -> Image.Image:
    """Lines of text drawn with the bitmap font at 1x, then scaled by `scale` (nearest): readable, exact."""
    font = ImageFont.load_default_imagefont()
    width, height = size
    small = Image.new("RGB", (width // scale, height // scale), background)
    draw = ImageDraw.Draw(small)
    y = 2
    for line in lines:
        draw.text((3, y), line, fill=ink, font=font)
        y += 12
    return small.resize(size, Image.Resampling.NEAREST)


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap to at most `width` characters per line (the bitmap font is 6 px per character)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def make_image(index: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A tiny picture that differs with `index` (colour and ellipse): the cheapest real image file a loader can
    open, for tests that name their examples' images by number and for data sets of thousands of examples."""
    image = Image.new("RGB", size, ((index * 53) % 256, (index * 97) % 256, (index * 31) % 256))
    draw = ImageDraw.Draw(image)
    draw.ellipse((5 + index % 7, 4, 30, 20 + index % 11), fill=(255 - index * 20 % 256, 30, 200))
    return image


def save_jpeg(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=JPEG_QUALITY)


def save_png(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=True)
