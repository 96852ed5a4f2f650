"""Bundled samples of VQAv2 and VizWiz-VQA, in the official releases' file layouts.

VQAv2: per split a questions file `v2_OpenEnded_mscoco_<subtype>_questions.json` and (not for test-dev) an
annotations file `v2_mscoco_<subtype>_annotations.json` with ten human answers per question, and COCO-named
images in `<image subtype>/`. VizWiz: `<split>.json` lists (test without answers) and `<split>/` image folders.
Questions are asked about synthetic scenes (pictures.py) and answered from the scene, so gold answers are true
of the pictures; the ten "human" answers mostly agree, with a few near misses ("gray" for grey, "two" for 2)
as real annotators give, so the official accuracy's partial credit and normalisation are exercised.

Splits: the paper's (VQAv2 test-dev, VizWiz test; the real ones hold questions only and are scored by the
servers, the sample's carry answers of their own, named in its marker file, so that a run on the default split
shows a score), val with answers (a locally scored run) and train (the few-shot demo pool).

Each layout is written in one place (`write_vqav2_files`, `write_vizwiz_files`) for every caller: the samples,
and `write_vqav2` / `write_vizwiz`, which lay out questions chosen by a test or a benchmark (scaled.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageEnhance, ImageFilter

from kosmos_eval.data.locate import WITHHELD_ANSWERS
from kosmos_eval.generators.captions import IMAGE_SIZE, distinct_scenes, write_json
from kosmos_eval.generators.pictures import (
    COLOURS,
    SHAPES,
    Scene,
    draw_scene,
    make_image,
    random_scene,
    save_jpeg,
    text_card,
)
from kosmos_eval.generators.samples import sample_writer

ANSWERS_PER_QUESTION = 10
# split -> (subtype of the JSON files, subtype of the image folder, images, questions per image)
VQAV2_SAMPLE = {
    "test-dev": ("test-dev2015", "test2015", 3, 3),
    "val": ("val2014", "val2014", 3, 3),
    "train": ("train2014", "train2014", 4, 3),
}
VIZWIZ_SAMPLE = {"test": 8, "val": 8, "train": 10}  # one question per image, as in VizWiz
# answers an annotator might give instead of the right colour
NEAR_COLOURS = {
    "red": ("dark red", "orange"),
    "blue": ("dark blue", "navy"),
    "green": ("dark green", "lime"),
    "yellow": ("gold", "orange"),
    "orange": ("yellow", "red"),
    "purple": ("violet", "blue"),
    "pink": ("light pink", "red"),
    "brown": ("dark brown", "orange"),
    "black": ("dark gray", "navy"),
    "white": ("light gray", "cream"),
    "grey": ("gray", "silver"),
}
NUMBER_WORDS = {0: "none", 1: "one", 2: "two"}
# products whose labels VizWiz-style questions ask about (at most 8 letters: the card is 8 characters wide)
PRODUCTS = ("TEA", "RICE", "SOUP", "BEANS", "SALT", "SUGAR", "FLOUR", "PASTA", "MILK", "HONEY", "OATS", "COFFEE")
TABLE = (96, 72, 52)  # what shows around a tilted label
INFO = {
    "description": "kosmos-eval synthetic sample in the layout of VQA v2.0 (not VQA data)",
    "version": "2.0",
    "year": 2017,
    "contributor": "kosmos-eval",
}
LICENSE = {"name": "MIT (kosmos-eval)", "url": ""}


@dataclass(frozen=True)
class Question:
    text: str
    answer: str
    answer_type: str  # yes/no | number | other (VizWiz adds unanswerable)
    question_type: str  # VQAv2's question-type prefix
    others: tuple[str, ...] = ()  # what a few annotators say instead


def _yes_no(text: str, truth: bool, question_type: str) -> Question:
    return Question(text, "yes" if truth else "no", "yes/no", question_type, ("no" if truth else "yes",))


def _number(text: str, count: int) -> Question:
    return Question(text, str(count), "number", "how many", (NUMBER_WORDS[count], str(count + 1)))


def _colour(text: str, colour: str, question_type: str = "what color is the") -> Question:
    return Question(text, colour, "other", question_type, NEAR_COLOURS[colour])


def scene_questions(scene: Scene, rng: random.Random) -> list[Question]:
    """Every question the sample may ask about `scene`, each with its true answer."""
    shapes = [thing.shape for thing in scene.things]
    questions = [
        _colour("What color is the background?", scene.background),
        _number("How many shapes are there?", len(shapes)),
    ]
    for thing in scene.things:
        where = f" on the {thing.place}" if shapes.count(thing.shape) > 1 else ""
        questions.append(_colour(f"What color is the {thing.shape}{where}?", thing.colour))
        if not where:
            colour = rng.choice((thing.colour, rng.choice([c for c in COLOURS if c != thing.colour])))
            questions.append(_yes_no(f"Is the {thing.shape} {colour}?", colour == thing.colour, "is the"))
    asked = rng.choice(SHAPES)
    questions.append(_number(f"How many {asked}s are in the picture?", shapes.count(asked)))
    asked = rng.choice(SHAPES)
    questions.append(_yes_no(f"Is there a {asked} in the picture?", asked in shapes, "is there a"))
    if len(scene.things) == 2:
        left, right = scene.things
        questions.append(Question("What shape is on the left?", left.shape, "other", "what", (right.shape,)))
        if left.size != right.size and left.shape != right.shape:
            big, small = (left, right) if left.size == "large" else (right, left)
            text = f"Which shape is bigger, the {left.shape} or the {right.shape}?"
            questions.append(Question(text, big.shape, "other", "which", (small.shape,)))
    return questions


def human_answers(question: Question, rng: random.Random) -> list[tuple[str, str]]:
    """Ten (answer, confidence) pairs: a clear majority for the true answer, a few near misses."""
    agree = rng.choice((10, 10, 9, 9, 8, 7)) if question.others else ANSWERS_PER_QUESTION
    answers = [(question.answer, rng.choice(("yes", "yes", "yes", "maybe"))) for _ in range(agree)]
    misses = ANSWERS_PER_QUESTION - agree
    answers += [(rng.choice(question.others), rng.choice(("maybe", "no", "yes"))) for _ in range(misses)]
    rng.shuffle(answers)
    return answers


class Asked(NamedTuple):
    """One VQAv2 question with its annotation, as the two files store them."""

    image_id: int
    question_id: int
    text: str
    question_type: str
    answer_type: str
    answer: str  # multiple_choice_answer
    answers: list[tuple[str, str]]  # the ten (answer, confidence) pairs


def write_vqav2_files(
    folder: Path,
    split: str,
    pictures: Iterable[tuple[int, Image.Image]],
    asked: list[Asked],
    withheld_answers: bool = False,
) -> None:
    """One VQAv2 split: its COCO images (image id, picture), its questions file and, unless test-dev, its
    annotations file. Every writer of VQAv2 data goes through here, so the layout lives in one place.
    `withheld_answers`: write test-dev's annotations too, which the real release never has (the bundled sample
    does, so that its default split shows a score; its marker file says so)."""
    file_subtype, image_subtype, _, _ = VQAV2_SAMPLE[split]
    for image_id, picture in pictures:
        save_jpeg(picture, folder / image_subtype / f"COCO_{image_subtype}_{image_id:012d}.jpg")
    questions = [{"image_id": q.image_id, "question": q.text, "question_id": q.question_id} for q in asked]
    annotations = [
        {
            "question_type": q.question_type,
            "multiple_choice_answer": q.answer,
            "answers": [
                {"answer": answer, "answer_confidence": confidence, "answer_id": n}
                for n, (answer, confidence) in enumerate(q.answers, start=1)
            ],
            "image_id": q.image_id,
            "answer_type": q.answer_type,
            "question_id": q.question_id,
        }
        for q in asked
    ]
    write_json(
        folder / f"v2_OpenEnded_mscoco_{file_subtype}_questions.json",
        {
            "info": INFO,
            "task_type": "Open-Ended",
            "data_type": "mscoco",
            "license": LICENSE,
            "data_subtype": file_subtype,
            "questions": questions,
        },
    )
    if split != "test-dev" or withheld_answers:  # test-dev's real answers are on the evaluation server only
        write_json(
            folder / f"v2_mscoco_{file_subtype}_annotations.json",
            {
                "info": INFO,
                "license": LICENSE,
                "data_subtype": file_subtype,
                "annotations": annotations,
                "data_type": "mscoco",
            },
        )


def write_vqav2_split(
    folder: Path, split: str, image_ids: list[int], rng: random.Random, withheld_answers: bool = False
) -> None:
    """One split of the sample: scenes, questions true of them, ten human-like answers each."""
    per_image = VQAV2_SAMPLE[split][3]
    pictures, asked = [], []
    for scene, image_id in zip(distinct_scenes(rng, len(image_ids)), image_ids, strict=True):
        pictures.append((image_id, draw_scene(scene, IMAGE_SIZE)))
        for k, question in enumerate(rng.sample(scene_questions(scene, rng), per_image)):
            question_id = image_id * 1000 + k  # VQAv2 numbers an image's questions like this
            fields = (question.text, question.question_type, question.answer_type, question.answer)
            asked.append(Asked(image_id, question_id, *fields, human_answers(question, rng)))
    write_vqav2_files(folder, split, pictures, asked, withheld_answers)


def write_vqav2_sample(folder: Path) -> None:
    """All three VQAv2 splits from one seeded stream, so that no image id repeats across the splits. Test-dev
    carries the sample's own answers (the real ones are withheld), so the default split shows a score."""
    rng = random.Random("sample-vqav2")
    count = sum(images for _, _, images, _ in VQAV2_SAMPLE.values())
    image_ids = iter(rng.sample(range(1, 581930), count))  # distinct COCO-range ids across all splits
    for split, (_, _, images, _) in VQAV2_SAMPLE.items():
        write_vqav2_split(folder, split, [next(image_ids) for _ in range(images)], rng, split == "test-dev")


def write_vqav2(root: Path, split: str, questions: list[tuple[str, list[str], str]], first_image: int = 1) -> None:
    """A VQAv2 split of chosen questions, (text, answers, answer type) each, one image per question numbered
    from `first_image` (question id = image id x 10): for tests and benchmarks that need known answers."""
    pictures, asked = [], []
    for i, (text, answers, answer_type) in enumerate(questions):
        image_id = first_image + i
        pictures.append((image_id, make_image(image_id)))
        question_type = " ".join(text.lower().split()[:2])
        pairs = [(answer, "yes") for answer in answers]
        asked.append(Asked(image_id, image_id * 10, text, question_type, answer_type, answers[0], pairs))
    write_vqav2_files(root, split, pictures, asked)


def _photo(image: Image.Image, rng: random.Random, fill: tuple[int, int, int]) -> Image.Image:
    """A hand-held snapshot: the picture a little tilted."""
    angle = rng.choice((-12, -7, -3, 3, 7, 12))
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=fill)


def vizwiz_item(kind: str, rng: random.Random) -> tuple[Image.Image, Question]:
    """A picture of one kind (colour, label, count, yes/no, or an unusable blurred/dark shot) and its question."""
    if kind in ("label", "unanswerable-label"):
        word = rng.choice(PRODUCTS)
        card = text_card(["", f"{word:^8}"], IMAGE_SIZE, background=(245, 240, 225))
        image = _photo(card, rng, TABLE)
        text = rng.choice(("What does this say?", "What is written on this label?", "What kind of food is this?"))
        question = Question(text, word.lower(), "other", "", (f"{word.lower()} package", f"box of {word.lower()}"))
    else:
        scene = random_scene(rng, 2 if kind == "count" else 1)
        image = _photo(draw_scene(scene, IMAGE_SIZE), rng, COLOURS[scene.background])
        thing = scene.things[0]
        if kind == "count":
            question = _number(rng.choice(("How many shapes do you see?", "How many things are in this picture?")), 2)
        elif kind == "yes/no":
            asked = rng.choice(SHAPES)
            question = _yes_no(f"Is this a {asked}?", asked == thing.shape, "")
        else:
            text = rng.choice(
                ("What color is this?", "What colour is this shape?", "Can you tell me what color this is?")
            )
            question = _colour(text, thing.colour, "")
    if kind.startswith("unanswerable"):  # the camera shook (and, half the time, the light was off too)
        image = image.filter(ImageFilter.GaussianBlur(6))
        if rng.random() < 0.5:
            image = ImageEnhance.Brightness(image).enhance(0.2)
        question = Question(question.text, "unanswerable", "unanswerable", "", ("unsuitable", "unsuitable image"))
    return image, question


def _vizwiz_kinds(count: int, rng: random.Random) -> list[str]:
    """A quarter of the questions unanswerable, the rest spread over the answerable kinds, shuffled."""
    unusable = count // 4
    answerable = ["colour", "label", "count", "yes/no"]
    kinds = [answerable[i % len(answerable)] for i in range(count - unusable)]
    kinds += [rng.choice(("unanswerable-colour", "unanswerable-label")) for _ in range(unusable)]
    rng.shuffle(kinds)
    return kinds


class VizWizItem(NamedTuple):
    """One VizWiz image with its question and (not in test) its answers; answerable follows the answer type."""

    picture: Image.Image
    question: str
    answers: list[tuple[str, str]]  # (answer, confidence)
    answer_type: str  # other | yes/no | number | unanswerable


def write_vizwiz_files(folder: Path, split: str, items: Iterable[VizWizItem], withheld_answers: bool = False) -> None:
    """`<split>.json` and `<split>/VizWiz_<split>_<index>.jpg`, the test split without answers, as released
    (`withheld_answers`: with them, as only the bundled sample has them)."""
    entries: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        name = f"VizWiz_{split}_{index:08d}.jpg"
        save_jpeg(item.picture, folder / split / name)
        entry: dict[str, Any] = {"image": name, "question": item.question}
        if split != "test" or withheld_answers:  # the real test answers are on the evaluation server only
            entry["answers"] = [{"answer": a, "answer_confidence": c} for a, c in item.answers]
            entry["answer_type"] = item.answer_type
            entry["answerable"] = 0 if item.answer_type == "unanswerable" else 1
        entries.append(entry)
    write_json(folder / f"{split}.json", entries)


def write_vizwiz_sample(folder: Path) -> None:
    """The three VizWiz splits, each from its own seed (images are numbered per split, as in VizWiz); test
    carries the sample's own answers (the real ones are withheld), so the default split shows a score."""
    for split, count in VIZWIZ_SAMPLE.items():
        rng = random.Random(f"sample-vizwiz-{split}")
        items = []
        for kind in _vizwiz_kinds(count, rng):
            image, question = vizwiz_item(kind, rng)
            items.append(VizWizItem(image, question.text, human_answers(question, rng), question.answer_type))
        write_vizwiz_files(folder, split, items, withheld_answers=split == "test")


def write_vizwiz(root: Path, split: str, questions: list[tuple[str, list[str], int]]) -> None:
    """A VizWiz split of chosen questions, (text, answers, answerable) each: for tests and benchmarks."""
    items = [
        VizWizItem(make_image(i + 40), text, [(a, "yes") for a in answers], "other" if answerable else "unanswerable")
        for i, (text, answers, answerable) in enumerate(questions)
    ]
    write_vizwiz_files(root, split, items)


@sample_writer("vqav2", "vizwiz")
def write_vqa_sample(task: str, folder: Path) -> dict[str, Any]:
    """The bundled VQA sample of `task` (vqav2 or vizwiz); its marker names the split whose answers are the
    sample's own."""
    if task == "vqav2":
        write_vqav2_sample(folder)
        return {WITHHELD_ANSWERS: ["test-dev"]}
    write_vizwiz_sample(folder)
    return {WITHHELD_ANSWERS: ["test"]}
