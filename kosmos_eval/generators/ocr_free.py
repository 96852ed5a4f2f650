"""The bundled samples of the OCR-free classification tasks: HatefulMemes and Rendered SST-2.

Both tasks put the text to classify only in the picture, so the samples draw it there with the bitmap font
(exact pixels on every machine). The label follows from the text's template words alone: a model that reads
the picture could get every item right, and a chance model gets about half. The memes are harmless: the
"hateful" ones are mildly mean remarks about a cartoon shape, never about people.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from kosmos_eval.generators.pictures import Scene, draw_scene, random_scene, save_png, text_card, wrap
from kosmos_eval.generators.samples import sample_writer

# --- HatefulMemes ---------------------------------------------------------------------------------------------

# split file -> how many memes (the test file carries no labels, as in the release)
MEME_SPLITS = {"train.jsonl": 10, "dev_seen.jsonl": 10, "dev_unseen.jsonl": 8, "test_seen.jsonl": 2}
KIND = (
    "when the {thing} finally gets a day off",
    "this {thing} just wants to nap in the sun",
    "me and the {thing} on our way to get snacks",
    "the {thing} says hello and have a nice day",
    "nobody: the {thing}: i made pancakes for everyone",
)
MEAN = (
    "look at this {thing} so dumb it has no friends",
    "nobody wants the {thing} here go away",
    "the {thing} is too ugly to leave the house",
    "this {thing} ruins every party it goes to",
    "the {thing} smells so bad even shadows leave",
)
MEME_SIZE, MEME_SCALE, CAPTION_CHARS = (160, 120), 2, 25


def meme_picture(scene: Scene, caption: str) -> Image.Image:
    """The scene with the caption in white letters outlined in black, top and bottom as memes have it."""
    image = draw_scene(scene, MEME_SIZE)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default_imagefont()
    lines = wrap(caption, CAPTION_CHARS)
    top, bottom = lines[: (len(lines) + 1) // 2], lines[(len(lines) + 1) // 2 :]
    rows = [(i * 12 + 2, line) for i, line in enumerate(top)]
    rows += [(MEME_SIZE[1] - (len(bottom) - i) * 12 - 2, line) for i, line in enumerate(bottom)]
    for y, line in rows:
        x = (MEME_SIZE[0] - 6 * len(line)) // 2
        for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            draw.text((x + dx, y + dy), line, fill=(0, 0, 0), font=font)
        draw.text((x, y), line, fill=(255, 255, 255), font=font)
    return image.resize((MEME_SIZE[0] * MEME_SCALE, MEME_SIZE[1] * MEME_SCALE), Image.Resampling.NEAREST)


def balanced_labels(rng: random.Random, count: int) -> list[int]:
    """Half 1, half 0, each consecutive pair holding both: every labelled split, and even its first two items
    (a `--limit 2` smoke run), has both classes, so ROC AUC is defined."""
    return [label for _ in range(count // 2) for label in rng.sample((0, 1), 2)]


@sample_writer("hateful_memes")
def write_hateful_memes_sample(task: str, folder: Path) -> None:
    """img/<5-digit id>.png plus one JSON-lines file per split, keys in the release's order (id, img, label,
    text). Ids are integers as in the release, so one below 10000 shows the zero-padded file name."""
    rng = random.Random(f"sample-{task}")
    total = sum(MEME_SPLITS.values())
    ids = [rng.randrange(1000, 10000), *rng.sample(range(10000, 100000), total - 1)]
    rng.shuffle(ids)
    for split_file, count in MEME_SPLITS.items():
        split_ids, ids = ids[:count], ids[count:]
        labelled = not split_file.startswith("test")
        lines = []
        for meme_id, label in zip(split_ids, balanced_labels(rng, count), strict=True):
            scene = random_scene(rng, things=1)
            thing = scene.things[0]
            caption = rng.choice(MEAN if label else KIND).format(thing=f"{thing.colour} {thing.shape}")
            image_name = f"img/{meme_id:05d}.png"
            save_png(meme_picture(scene, caption), folder / image_name)
            entry: dict = {"id": meme_id, "img": image_name}
            if labelled:
                entry["label"] = label
            entry["text"] = caption
            lines.append(json.dumps(entry, separators=(",", ":")))
        (folder / split_file).write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- Rendered SST-2 -----------------------------------------------------------------------------------------

# CLIP's release folder name for each split -> items per class
SST2_SPLITS = {"train": 5, "valid": 2, "test": 5}
SUBJECTS = ("the film", "this movie", "the script", "the acting", "its story", "the soundtrack", "the cast")
GOOD = ("charming", "delightful", "warm", "clever", "moving", "funny", "gorgeous", "smart")
BAD = ("dull", "tedious", "clumsy", "lifeless", "forgettable", "tiresome", "muddled", "flat")
TEMPLATES = (
    "{subject} is {a} and {b} from start to finish .",
    "a {a} , {b} picture that knows what it wants to be .",
    "{subject} feels {a} , and the ending is {b} too .",
    "even at its slowest , {subject} stays {a} and {b} .",
)
SST2_SIZE, SST2_CHARS = (448, 448), 35


def sentence(rng: random.Random, positive: bool) -> str:
    """An SST-style sentence (lower case, spaced punctuation) whose adjectives carry the sentiment."""
    a, b = rng.sample(GOOD if positive else BAD, 2)
    return rng.choice(TEMPLATES).format(subject=rng.choice(SUBJECTS), a=a, b=b)


@sample_writer("rendered_sst2")
def write_rendered_sst2_sample(task: str, folder: Path) -> None:
    """rendered-sst2/<split>/<label>/<n>.png: each sentence in black on white, as CLIP rendered them; the
    file numbers run over the whole split, so no stem repeats between the two class folders."""
    for split, per_class in SST2_SPLITS.items():
        rng = random.Random(f"sample-{task}-{split}")
        labels = balanced_labels(rng, 2 * per_class)
        for number, label in enumerate(labels):
            lines = wrap(sentence(rng, positive=bool(label)), SST2_CHARS)
            picture = text_card(lines, SST2_SIZE, scale=2)
            name = ("negative", "positive")[label]
            save_png(picture, folder / "rendered-sst2" / split / name / f"{number:05d}.png")
