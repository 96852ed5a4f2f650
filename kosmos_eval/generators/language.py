"""Bundled samples of the eight language tasks, each in its dataset's own release files and schema.

The readers (formats/language.py) accept the official file names where a dataset has them, so the samples use
those: StoryCloze's two spring-2016 CSVs, HellaSwag's `hellaswag_{val,train}.jsonl`, WinoGrande's `dev.jsonl`
and `train_xl.jsonl` (with `qID`), SuperGLUE's `val.jsonl`/`train.jsonl` for BoolQ (boolean labels), CB (label
names) and COPA; PIQA (whose release keeps labels in a separate .lst file the reader does not take) and
Winograd (a hub-only Parquet copy) get `<split>.jsonl` in the hub schema. Every field the release has is
written, with the release's types, even those the readers ignore, so the sample is a faithful stand-in.

The text is synthetic (language_items.py, language_choices.py), placed with `random.Random("sample-<task>")`:
which frames go to which split, names, ids and the position of the right option, balanced per split so that
chance stays at chance. Sizes: the scored split (test for StoryCloze and Winograd, else validation) has 9-10
items and the few-shot pool (validation for StoryCloze, else train) 8-9, enough for 4 shots; Winograd has one
split, its 10 rows (5 twin pairs) are scored and, less the query itself, the pool, as the task does with WSC.
"""

from __future__ import annotations

import csv
import json
import random
import string
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from kosmos_eval.formats.language import CB_LABELS
from kosmos_eval.generators import language_choices as choices
from kosmos_eval.generators import language_items as items
from kosmos_eval.generators.samples import sample_writer

T = TypeVar("T")
# items in the scored split; the rest of a task's frames (8-9) form the few-shot pool. Sets built from twins,
# passages or premises cut at a whole group (winogrande 5 pairs, boolq 5 passages, cb 3 premises)
SCORED = 10
STORYCLOZE_FILES = {
    "test": "cloze_test_test__spring2016 - cloze_test_ALL_test.csv",
    "validation": "cloze_test_val__spring2016 - cloze_test_ALL_val.csv",
}
STORYCLOZE_HEADER = (
    "InputStoryid",
    *(f"InputSentence{k}" for k in range(1, 5)),
    "RandomFifthSentenceQuiz1",
    "RandomFifthSentenceQuiz2",
    "AnswerRightEnding",
)


# --- shared helpers ----------------------------------------------------------------------------------------------


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """JSON lines as the releases write them (json.dumps defaults, keys in the release's order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def gold_positions(rng: random.Random, count: int, options: int) -> list[int]:
    """Where the right option goes in each of `count` items: every position about equally often, in a seeded
    order, so a position-biased scorer cannot beat chance on the sample."""
    positions = [k % options for k in range(count)]
    rng.shuffle(positions)
    return positions


def place(right: str, wrong: Sequence[str], position: int) -> list[str]:
    """The options with `right` at `position` and the wrong ones around it in their given order."""
    options = list(wrong)
    options.insert(position, right)
    return options


def split_off(rng: random.Random, pool: Sequence[T], first: int) -> tuple[list[T], list[T]]:
    """Shuffle `pool` and cut it: the first `first` entries (the scored split) and the rest (the demo pool)."""
    shuffled = list(pool)
    rng.shuffle(shuffled)
    return shuffled[:first], shuffled[first:]


def person(rng: random.Random) -> dict[str, str]:
    """Slots for a random first name and its pronouns (language_items' {name}, {He}, {his}, ...)."""
    gender = rng.choice(sorted(items.NAMES))
    return {"name": rng.choice(items.NAMES[gender]), **items.PRONOUNS[gender]}


# --- StoryCloze ----------------------------------------------------------------------------------------------


@sample_writer("storycloze")
def write_storycloze(task: str, folder: Path) -> None:
    """The two official spring-2016 CSVs (test scored, validation the demo pool), official header, UUID ids."""
    rng = random.Random(f"sample-{task}")
    # each frame's two fillers go to different splits, so no split holds two tellings of one story
    halves: tuple[list, list] = ([], [])
    for frame in items.STORIES:
        first, second = split_off(rng, [(frame, x) for x in frame[3]], 1)
        halves[0].extend(first)
        halves[1].extend(second)
    for split, chosen in zip(("test", "validation"), halves, strict=True):
        rng.shuffle(chosen)
        rows = []
        for ((sentences, right, wrong, _), x), position in zip(
            chosen, gold_positions(rng, len(chosen), 2), strict=True
        ):
            slots = {**person(rng), "x": x}
            endings = place(right.format(**slots), [wrong.format(**slots)], position)
            story_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            rows.append([story_id, *(s.format(**slots) for s in sentences), *endings, str(position + 1)])
        with (folder / STORYCLOZE_FILES[split]).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(STORYCLOZE_HEADER)
            writer.writerows(rows)


# --- HellaSwag -----------------------------------------------------------------------------------------------


def _hellaswag_frames(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of validation and train without their split fields: each ActivityNet frame once per split (a man
    in one, a woman in the other), the WikiHow frames shared out so that validation has SCORED rows."""
    val: list[dict[str, Any]] = []
    train: list[dict[str, Any]] = []
    for label, ctx_a, ctx_b, right, wrong in items.ACTIVITIES:
        people = ["man", "woman"]
        rng.shuffle(people)
        for who, rows in zip(people, (val, train), strict=True):
            slots = {"person": who, **items.PRONOUNS["he" if who == "man" else "she"]}
            video = "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(11))
            frame = {"activity_label": label, "ctx_a": ctx_a.format(**slots), "ctx_b": ctx_b.format(**slots)}
            rows.append({**frame, "right": right, "wrong": wrong, "source_id": f"activitynet~v_{video}"})
    howtos = [
        {
            "activity_label": label,
            "ctx_a": ctx_a,
            "ctx_b": ctx_b,
            "right": right,
            "wrong": wrong,
            "source_id": f"wikihow~{rng.randrange(1000, 99999)}",
        }
        for label, ctx_a, ctx_b, right, wrong in items.HOWTOS
    ]
    scored, pool = split_off(rng, howtos, SCORED - len(val))
    for rows, extra in ((val, scored), (train, pool)):
        rows.extend(extra)
        rng.shuffle(rows)
    return val, train


@sample_writer("hellaswag")
def write_hellaswag(task: str, folder: Path) -> None:
    """The official `hellaswag_val.jsonl` (scored) and `hellaswag_train.jsonl` (demos): integer labels, `ctx` the
    joined context, and `split_type` "zeroshot" for validation activities that train never shows."""
    rng = random.Random(f"sample-{task}")
    val, train = _hellaswag_frames(rng)
    seen_in_train = {row["activity_label"] for row in train}
    inds = iter(sorted(rng.sample(range(100, 50_000), len(val) + len(train))))
    for split, chosen, name in (("val", val, "hellaswag_val.jsonl"), ("train", train, "hellaswag_train.jsonl")):
        rows = []
        for row, position in zip(chosen, gold_positions(rng, len(chosen), 4), strict=True):
            ctx = f"{row['ctx_a']} {row['ctx_b']}" if row["ctx_b"] else row["ctx_a"]
            unseen = split == "val" and row["activity_label"] not in seen_in_train
            rows.append(
                {
                    "ind": next(inds),
                    "activity_label": row["activity_label"],
                    "ctx_a": row["ctx_a"],
                    "ctx_b": row["ctx_b"],
                    "ctx": ctx,
                    "split": split,
                    "split_type": "zeroshot" if unseen else "indomain",
                    "label": position,
                    "endings": place(row["right"], row["wrong"], position),
                    "source_id": row["source_id"],
                }
            )
        write_jsonl(folder / name, rows)


# --- Winograd and Winogrande ---------------------------------------------------------------------------------


@sample_writer("winograd")
def write_winograd(task: str, folder: Path) -> None:
    """`test.jsonl` in the WSC hub schema: twin pairs side by side (as in WSC), `text` built as the release
    script builds it (txt1 + " " + pronoun + " " + txt2, pronoun at len(txt1) + 1), the quote starting at it."""
    rng = random.Random(f"sample-{task}")
    twins = list(choices.WSC_TWINS)
    rng.shuffle(twins)
    rows = []
    for before, pronoun, endings, options, referents in twins:
        order = [0, 1] if rng.random() < 0.5 else [1, 0]  # options in a seeded order per pair
        for ending, referent in zip(endings, referents, strict=True):
            text = f"{before} {pronoun} {ending}"
            loc = len(before) + 1
            rows.append(
                {
                    "text": text,
                    "pronoun": pronoun,
                    "pronoun_loc": loc,
                    "quote": f"{pronoun} {ending}".rstrip("."),
                    "quote_loc": loc,
                    "options": [options[k] for k in order],
                    "label": order.index(referent),
                    "source": "kosmos-eval synthetic sample",
                }
            )
    write_jsonl(folder / "test.jsonl", rows)


@sample_writer("winogrande")
def write_winogrande(task: str, folder: Path) -> None:
    """The release's `dev.jsonl` (scored) and `train_xl.jsonl` (demos): twins share a qID stem (-1/-2 suffix),
    the answer is the string "1"/"2" and the options' order is seeded per pair."""
    rng = random.Random(f"sample-{task}")
    dev, train = split_off(rng, choices.WINOGRANDE_TWINS, SCORED // 2)
    for chosen, name in ((dev, "dev.jsonl"), (train, "train_xl.jsonl")):
        rows = []
        for sentence, fixed, triggers in chosen:
            gender = rng.choice(sorted(items.NAMES))
            names = fixed or tuple(rng.sample(items.NAMES[gender], 2))
            swap = rng.random() < 0.5
            options = names[::-1] if swap else names
            stem = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(30))
            for k, trigger in enumerate(triggers):
                rows.append(
                    {
                        "qID": f"{stem}-{k + 1}",
                        "sentence": sentence.format(a=names[0], b=names[1], t=trigger),
                        "option1": options[0],
                        "option2": options[1],
                        "answer": str((1 - k if swap else k) + 1),
                    }
                )
        write_jsonl(folder / name, rows)


# --- PIQA, BoolQ, CB, COPA -------------------------------------------------------------------------------------


@sample_writer("piqa")
def write_piqa(task: str, folder: Path) -> None:
    """`validation.jsonl` (scored) and `train.jsonl` (demos) in the hub schema: goal, sol1, sol2, integer label."""
    rng = random.Random(f"sample-{task}")
    for split, chosen in zip(("validation", "train"), split_off(rng, choices.PIQA, SCORED), strict=True):
        rows = []
        for (goal, right, wrong), position in zip(chosen, gold_positions(rng, len(chosen), 2), strict=True):
            sol1, sol2 = place(right, [wrong], position)
            rows.append({"goal": goal, "sol1": sol1, "sol2": sol2, "label": position})
        write_jsonl(folder / f"{split}.jsonl", rows)


@sample_writer("boolq")
def write_boolq(task: str, folder: Path) -> None:
    """SuperGLUE's `val.jsonl` (scored) and `train.jsonl` (demos): question, passage, idx, a JSON boolean label.
    Each passage asks one yes and one no question; both stay in one split, in a shuffled order."""
    rng = random.Random(f"sample-{task}")
    for chosen, name in zip(split_off(rng, choices.BOOLQ, SCORED // 2), ("val.jsonl", "train.jsonl"), strict=True):
        pairs = [
            (question, passage, answer)
            for passage, yes, no in chosen
            for question, answer in ((yes, True), (no, False))
        ]
        rng.shuffle(pairs)
        rows = [{"question": q, "passage": p, "idx": idx, "label": a} for idx, (q, p, a) in enumerate(pairs)]
        write_jsonl(folder / name, rows)


@sample_writer("cb")
def write_cb(task: str, folder: Path) -> None:
    """SuperGLUE's `val.jsonl` (scored) and `train.jsonl` (demos): premise, hypothesis, the label by name (as
    the release spells it), idx. Each premise comes with one hypothesis per label, all in one split."""
    rng = random.Random(f"sample-{task}")
    halves = split_off(rng, choices.CB, len(choices.CB) // 2)
    for chosen, name in zip(halves, ("val.jsonl", "train.jsonl"), strict=True):
        pairs = [
            (premise, hypothesis, label)
            for premise, *hypotheses in chosen
            for hypothesis, label in zip(hypotheses, CB_LABELS, strict=True)
        ]
        rng.shuffle(pairs)
        rows = [{"premise": p, "hypothesis": h, "label": label, "idx": idx} for idx, (p, h, label) in enumerate(pairs)]
        write_jsonl(folder / name, rows)


@sample_writer("copa")
def write_copa(task: str, folder: Path) -> None:
    """SuperGLUE's `val.jsonl` (scored) and `train.jsonl` (demos): premise, choice1, choice2, question
    ("cause"/"effect"), an integer label, idx."""
    rng = random.Random(f"sample-{task}")
    for chosen, name in zip(split_off(rng, choices.COPA, SCORED), ("val.jsonl", "train.jsonl"), strict=True):
        rows = []
        for idx, ((premise, question, right, wrong), position) in enumerate(
            zip(chosen, gold_positions(rng, len(chosen), 2), strict=True)
        ):
            choice1, choice2 = place(right, [wrong], position)
            row = {"premise": premise, "choice1": choice1, "choice2": choice2, "question": question}
            rows.append({**row, "label": position, "idx": idx})
        write_jsonl(folder / name, rows)
