"""Bundled samples of COCO and Flickr30k captioning, laid out as Karpathy's split files and the image archives.

The captioning tasks read Karpathy's `dataset_coco.json` / `dataset_flickr30k.json` (every image with its
split and five reference sentences) and the images beside it, so the sample is exactly that: a split file
with the real release's fields (imgid, sentids, sentences with raw/tokens/imgid/sentid; COCO's filepath and
cocoid) and small JPEGs where the release keeps them (COCO's `val2014/` and `train2014/`, Flickr's
`flickr30k-images/`). Pictures are synthetic scenes (pictures.py) and the five references are written from
the scene with varied templates, so every reference is true of its picture and the references of one image
differ the way human ones do (word choice, order, a missing full stop).

Splits: Karpathy test (the tasks' default) and train (the demo pool, 8 shots at most; COCO's restval counts
as train, as in the reader), plus a couple of val images so that every split of the release is present.
The vqa generators reuse `write_json` and `distinct_scenes` from here.

The layout is written in one place (`write_coco_files`, `write_flickr30k_files`) for every caller: the
samples, the tests (`write_karpathy_coco`: known captions, splits of chosen sizes) and the benchmarks
(scaled.py: N images of filler text).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image

from kosmos_eval.generators.pictures import Scene, Thing, draw_scene, make_image, random_scene, save_jpeg
from kosmos_eval.generators.samples import sample_writer

IMAGE_SIZE = (96, 72)
# images per split of the file; the reader's "train" is train + restval (10 demos), the default split is test
COCO_SPLITS = {"test": 8, "val": 2, "restval": 3, "train": 7}
FLICKR_SPLITS = {"test": 8, "val": 2, "train": 10}
REFERENCES_PER_IMAGE = 5
# words a describer may use instead of the scene's own (all true of the picture)
SYNONYMS = {"large": ("large", "big"), "small": ("small", "little"), "grey": ("grey", "gray")}
# plain references for tests that check what a metric makes of known captions (write_karpathy_coco)
STOCK_CAPTIONS = (
    "A man riding a horse on a beach.",
    "Two dogs play in the snow.",
    "A red bus parked on a city street.",
    "A plate of food with rice and broccoli.",
    "A cat sleeping on a brown couch.",
    "A group of people flying kites in a park.",
)


def write_json(path: Path, data: Any) -> Path:
    """The generators' one JSON style (indent 1, key order as built, final newline): the same bytes every run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def distinct_scenes(rng: random.Random, count: int, things: int | None = None) -> list[Scene]:
    """`count` different random scenes: no two images of a sample share a picture (or its gold text)."""
    scenes: list[Scene] = []
    while len(scenes) < count:
        scene = random_scene(rng, things)
        if scene not in scenes:
            scenes.append(scene)
    return scenes


def _word(word: str, rng: random.Random) -> str:
    return rng.choice(SYNONYMS.get(word, (word,)))


def _a(phrase: str) -> str:
    return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"


def _thing(thing: Thing, rng: random.Random, size: bool = True, colour: bool = True) -> str:
    """'a big red circle', 'a circle', 'an orange star' (with a synonym drawn for the size word)."""
    words = [_word(thing.size, rng)] if size else []
    words += [thing.colour] if colour else []
    return _a(" ".join([*words, thing.shape]))


def _two_thing_captions(scene: Scene, rng: random.Random) -> list[str]:
    left, right = scene.things
    bg = _word(scene.background, rng)
    if left.shape == right.shape:
        pair = f"Two {left.shape}s, one {left.colour} and one {right.colour}, on {_a(bg)} background."
    else:
        shapes = f"{_thing(left, rng, False, False)} and {_thing(right, rng, False, False)}"
        pair = f"Two shapes, {shapes}, on {_a(bg)} background."
    return [
        f"{_thing(left, rng, False).capitalize()} on the left and {_thing(right, rng, False)} on the right.",
        pair,
        f"{_thing(left, rng).capitalize()} next to {_thing(right, rng)}.",
        f"A plain {bg} picture with {_thing(left, rng, False)} and {_thing(right, rng, False)}",
        f"{_a(bg).capitalize()} background with {_thing(right, rng)} to the right of {_thing(left, rng, False)}.",
        f"{_thing(left, rng)} and {_thing(right, rng)} side by side",
    ]


def _one_thing_captions(scene: Scene, rng: random.Random) -> list[str]:
    (thing,) = scene.things
    bg = _word(scene.background, rng)
    return [
        f"A single {thing.colour} {thing.shape} in the middle of the picture.",
        f"One {_word(thing.size, rng)} {thing.shape} on a plain {bg} background.",
        f"{_thing(thing, rng).capitalize()} alone on {_a(bg)} background",
        f"{_a(bg).capitalize()} picture with {_thing(thing, rng, False)} in the centre.",
        f"{_thing(thing, rng)} drawn on {_a(bg)} background",
        f"A picture of one {thing.colour} {thing.shape}.",
    ]


def reference_captions(scene: Scene, rng: random.Random) -> list[str]:
    """Five different captions of `scene`; the first is the plain description, which demos show."""
    canonical = scene.describe()
    pool = _two_thing_captions(scene, rng) if len(scene.things) == 2 else _one_thing_captions(scene, rng)
    return [canonical[0].upper() + canonical[1:] + ".", *rng.sample(pool, REFERENCES_PER_IMAGE - 1)]


def sentence_tokens(raw: str) -> list[str]:
    """Karpathy's `tokens`: the raw sentence lower-cased, punctuation dropped."""
    return re.findall(r"[a-z0-9]+", raw.lower())


def _sentences(captions: list[str], imgid: int, sentids: list[int]) -> list[dict[str, Any]]:
    return [
        {"tokens": sentence_tokens(raw), "raw": raw, "imgid": imgid, "sentid": sentid}
        for raw, sentid in zip(captions, sentids, strict=True)
    ]


def _split_order(splits: dict[str, int], rng: random.Random) -> list[str]:
    """One split name per image, shuffled: the release does not group its images by split."""
    order = [split for split, count in splits.items() for _ in range(count)]
    rng.shuffle(order)
    return order


class Captioned(NamedTuple):
    """One image of a Karpathy split file: its split, its dataset id (COCO's cocoid, Flickr's file number), the
    picture and its reference sentences."""

    split: str
    image_id: int
    picture: Image.Image
    captions: list[str]


def write_coco_files(folder: Path, images: Iterable[Captioned], sentids: Sequence[int] | None = None) -> None:
    """dataset_coco.json + val2014/ (test, val, restval) and train2014/ (train) images named by cocoid, in the
    order given; sentence ids are taken from `sentids` in turn (default 0, 1, 2, ...)."""
    entries, used = [], 0
    for imgid, image in enumerate(images):
        filepath = "train2014" if image.split == "train" else "val2014"
        filename = f"COCO_{filepath}_{image.image_id:012d}.jpg"
        save_jpeg(image.picture, folder / filepath / filename)
        count = len(image.captions)
        ids = list(sentids[used : used + count]) if sentids is not None else list(range(used, used + count))
        used += count
        entries.append(
            {
                "filepath": filepath,
                "sentids": ids,
                "filename": filename,
                "imgid": imgid,
                "split": image.split,
                "sentences": _sentences(image.captions, imgid, ids),
                "cocoid": image.image_id,
            }
        )
    write_json(folder / "dataset_coco.json", {"images": entries, "dataset": "coco"})


def write_flickr30k_files(folder: Path, images: Iterable[Captioned]) -> None:
    """dataset_flickr30k.json + flickr30k-images/<flickr id>.jpg; sentence ids run 5 per image as in the file."""
    entries, used = [], 0
    for imgid, image in enumerate(images):
        filename = f"{image.image_id}.jpg"
        save_jpeg(image.picture, folder / "flickr30k-images" / filename)
        ids = list(range(used, used + len(image.captions)))
        used += len(ids)
        entries.append(
            {
                "sentids": ids,
                "imgid": imgid,
                "sentences": _sentences(image.captions, imgid, ids),
                "split": image.split,
                "filename": filename,
            }
        )
    write_json(folder / "dataset_flickr30k.json", {"images": entries, "dataset": "flickr30k"})


def write_coco(folder: Path, rng: random.Random) -> None:
    """The sample's COCO: scenes in shuffled splits, COCO-range ids, references written from each scene."""
    order = _split_order(COCO_SPLITS, rng)
    scenes = distinct_scenes(rng, len(order))
    cocoids = rng.sample(range(1, 581930), len(order))  # COCO 2014's id range
    sentids = rng.sample(range(1, 830000), len(order) * REFERENCES_PER_IMAGE)
    images = [
        Captioned(split, cocoid, draw_scene(scene, IMAGE_SIZE), reference_captions(scene, rng))
        for split, scene, cocoid in zip(order, scenes, cocoids, strict=True)
    ]
    write_coco_files(folder, images, sentids)


def write_flickr30k(folder: Path, rng: random.Random) -> None:
    """The sample's Flickr30k: scenes in shuffled splits, Flickr-like file numbers, references from the scene."""
    order = _split_order(FLICKR_SPLITS, rng)
    scenes = distinct_scenes(rng, len(order))
    flickr_ids = rng.sample(range(10**6, 10**10), len(order))
    images = [
        Captioned(split, flickr_id, draw_scene(scene, IMAGE_SIZE), reference_captions(scene, rng))
        for split, scene, flickr_id in zip(order, scenes, flickr_ids, strict=True)
    ]
    write_flickr30k_files(folder, images)


def write_karpathy_coco(root: Path, splits: dict[str, int]) -> dict[int, list[str]]:
    """A COCO split file with `splits[split]` images per split, in that order (cocoids 101, 102, ...), each with
    five of STOCK_CAPTIONS: for tests that need a known caption set; returns cocoid -> references."""
    images, cocoid = [], 100
    for split, count in splits.items():
        for _ in range(count):
            cocoid += 1
            refs = [STOCK_CAPTIONS[(cocoid + j) % len(STOCK_CAPTIONS)] for j in range(REFERENCES_PER_IMAGE)]
            images.append(Captioned(split, cocoid, make_image(cocoid), refs))
    write_coco_files(root, images)
    return {image.image_id: image.captions for image in images}


@sample_writer("coco_caption", "flickr30k")
def write_caption_sample(task: str, folder: Path) -> None:
    """The bundled captioning sample of `task` (coco_caption or flickr30k), seeded by the task name."""
    rng = random.Random(f"sample-{task}")
    if task == "coco_caption":
        write_coco(folder, rng)
    else:
        write_flickr30k(folder, rng)
