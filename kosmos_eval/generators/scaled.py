"""Data sets of N examples per task, in each task's on-disk format, for the benchmarks that time or measure
the harness at scale (benchmarks/harness_overhead.py, benchmarks/memory_scaling.py).

The bundled samples (samples.py) are small and meaningful: scenes with true answers, which cannot be drawn by
the thousand (there are only so many distinct scenes). Here size and shape matter instead: text of about the
real data's lengths (seeded filler words), tiny but real image files (the chance backend never decodes them),
WebSRC pages of about the release's size. The layouts are not written again: every writer goes through the
same layout function as the task's sample and its tests (captions.py, vqa.py, language.py; Raven uses the
sample's own `write_problem_set`). Language tasks and Rendered SST-2, normally read from the hub, are written
as the local files their loaders also accept.

Each writer puts `n` examples of the evaluated split (and `demos` of the demo split, where the task has one)
under `root` and returns (split to evaluate, task options): `write_task_data(task, root, n, demos)`.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kosmos_eval.core.registry import Registry
from kosmos_eval.formats.language import dataset_spec
from kosmos_eval.generators.captions import Captioned, write_flickr30k_files, write_json, write_karpathy_coco
from kosmos_eval.generators.language import write_jsonl
from kosmos_eval.generators.pictures import make_image, save_jpeg, save_png
from kosmos_eval.generators.raven import write_problem_set
from kosmos_eval.generators.vqa import write_vizwiz, write_vqav2

FILLER = (
    "man woman dog cat bus plate horse street table park kite beach snow train phone bird tree house car boat "
    "field window chair river road child shirt ball bench wall light water sign door food glass sky hill cake "
    "bridge truck bike girl boy red blue green small large old young white black brown wooden tall open"
)
WORDS = FILLER.split()
COLORS = ("black", "blue", "brown", "green", "grey", "orange", "pink", "purple", "red", "white", "yellow")
ScaledWriter = Callable[[Path, int, int], tuple[str, dict[str, str]]]
# every writer is in this module (below), so the registry's one module is this one
SCALED_WRITERS: Registry[ScaledWriter] = Registry("scaled writer", (__name__,))


def scaled_writer(*tasks: str) -> Callable[[ScaledWriter], ScaledWriter]:
    """Register `writer(root, n, demos)` as the maker of these tasks' N-example data sets."""
    return SCALED_WRITERS.register(*tasks)


def write_task_data(task: str, root: Path, n: int, demos: int = 0) -> tuple[str, dict[str, str]]:
    """`n` examples of `task` (and `demos` demos) under `root`; returns (split to evaluate, task options)."""
    writer = SCALED_WRITERS.find(task)
    if writer is None:
        raise KeyError(f"no scaled writer for task {task!r} (writers: {', '.join(SCALED_WRITERS.names())})")
    return writer(root, n, demos)


def words(seed: int, count: int) -> str:
    """`count` filler words, the same for the same seed (no random module: a pure function of its inputs)."""
    return " ".join(WORDS[(seed * 7919 + k * 104729 + k * k) % len(WORDS)] for k in range(count))


def sentence(seed: int, count: int) -> str:
    text = words(seed, count)
    return text[0].upper() + text[1:] + "."


def save_image(path: Path, index: int) -> str:
    """make_image(index) as a JPEG or a PNG, as the file name says; returns the name."""
    (save_jpeg if path.suffix.lower() in (".jpg", ".jpeg") else save_png)(make_image(index), path)
    return path.name


# ---------------------------------------------------------------------------------------- captions and VQA
@scaled_writer("coco_caption")
def coco_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_karpathy_coco(root, {"test": n, "train": demos} if demos else {"test": n})
    return "test", {}


@scaled_writer("flickr30k")
def flickr30k_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    images = (
        Captioned("test" if i < n else "train", 1000000 + i, make_image(i), [sentence(i * 5 + j, 11) for j in range(5)])
        for i in range(n + demos)
    )
    write_flickr30k_files(root, images)
    return "test", {}


def vqa_questions(count: int, offset: int, vizwiz: bool) -> list[tuple[str, list[str], Any]]:
    """(text, ten answers, answer type or VizWiz's answerable) per question, mostly agreeing answers."""
    pool = ("yes", "no", "2", "red", "dog", "tennis", "kitchen", "unanswerable" if vizwiz else "white")
    questions = []
    for i in range(offset, offset + count):
        answers = [pool[(i + (j // 4)) % len(pool)] for j in range(10)]
        kind = "yes/no" if answers[0] in ("yes", "no") else "number" if answers[0].isdigit() else "other"
        extra = 0 if answers[0] == "unanswerable" else 1
        questions.append((f"What is the {words(i, 2)} {words(i + 1, 1)} doing?", answers, extra if vizwiz else kind))
    return questions


@scaled_writer("vqav2")
def vqav2_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_vqav2(root, "val", vqa_questions(n, 0, False))
    if demos:
        write_vqav2(root, "train", vqa_questions(demos, n, False), first_image=n + 1)
    return "val", {}  # val, not the paper's test-dev: test-dev has no public answers, so nothing would be scored


@scaled_writer("vizwiz")
def vizwiz_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_vizwiz(root, "val", vqa_questions(n, 0, True))
    if demos:
        write_vizwiz(root, "train", vqa_questions(demos, n, True))
    return "val", {}  # scored locally, as vqav2


@scaled_writer("websrc")
def websrc_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    # WebSRC has about 400K questions on 6.4K pages (its paper): some 60 questions per page, and a page's
    # questions are read together, so its HTML is parsed once for all of them
    per_page, pages_per_site = 60, 100
    domains = ("auto", "book", "camera", "game", "jobs", "movie", "phone", "restaurant", "sports", "university")
    rows: dict[tuple[str, str], list[list[Any]]] = {}
    for i in range(n):
        page = i // per_page
        domain, site = domains[page // pages_per_site // 99], f"{page // pages_per_site % 99 + 1:02d}"
        page_id = f"{site}{page % pages_per_site:05d}"
        folder = root / domain / site / "processed_data"
        if i % per_page == 0:
            save_image(folder / f"{page_id}.png", page)
            spans = (f'<div tid="{t}"><span tid="{t + 1}">{words(page + t, 14)}</span></div>' for t in range(0, 300, 2))
            blocks = "".join(spans)
            (folder / f"{page_id}.html").write_text(
                f'<html><head><style>div {{ margin: 0 }}</style><script>var x = "{words(page, 30)}";</script></head>'
                f'<body tid="0">{blocks}</body></html>'
            )  # about 16 KB, as WebSRC's cleaned pages
        yes_no = i % 5 == 4
        qid = f"{domain[:2]}{page_id}{i % per_page:05d}"
        answer = "yes" if yes_no else words(i, 2)
        element, start = (-1, 1) if yes_no else (3, 0)  # element_id -1: a yes/no question, answer_start 1 = yes
        rows.setdefault((domain, site), []).append([f"What is the {words(i, 3)}?", qid, element, start, answer])
    for (domain, site), site_rows in rows.items():
        with (root / domain / site / "dataset.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows([["question", "id", "element_id", "answer_start", "answer"], *site_rows])
    write_json(root / "dataset_split_release.json", {"train": [], "dev": [d[:2] + s for d, s in rows], "test": []})
    return "dev", {}


# ------------------------------------------------------------------------------------------ classification
@scaled_writer("imagenet")
def imagenet_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    names = [f"{a} {b}" for a in WORDS for b in WORDS if a != b][:1000]
    wnids = [f"n{1_000_000 + k:08d}" for k in range(1000)]
    mapping = "".join(f"{wnid} {name}, {name.split()[1]}\n" for wnid, name in zip(wnids, names, strict=True))
    (root / "val").mkdir(parents=True, exist_ok=True)
    (root / "LOC_synset_mapping.txt").write_text(mapping)
    for i in range(n):
        save_image(root / "val" / wnids[i * 389 % 1000] / f"ILSVRC2012_val_{i + 1:08d}.JPEG", i)
    # the exact 1000-way ranking, the heaviest request a task sends (the benchmarks price it as such); the
    # default decoding, the paper's constrained beam, is a generation over a prefix tree of the same names
    return "validation", {"decoding": "rank"}


@scaled_writer("raven")
def raven_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_problem_set(root, n)  # the sample's own writer: IQ50's mix of 3-, 4- and 8-panel problems
    return "test", {}


@scaled_writer("cub_descriptions")
def cub_descriptions_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    rows = []
    for i in range(n):
        general = ("woodpecker", "gull", "sparrow")[i % 3]
        a, b = WORDS[i % len(WORDS)], WORDS[(i + 1) % len(WORDS)]
        candidates = [{"name": f"{w} {general}", "description": sentence(i * 2 + k, 25)} for k, w in enumerate((a, b))]
        image = f"images/bird_{i:05d}.jpg"
        save_image(root / image, i)
        label = candidates[i % 2]["name"]
        rows.append(
            {"id": f"cub-{i}", "image": image, "general_category": general, "candidates": candidates} | {"label": label}
        )
    write_jsonl(root / "descriptions.jsonl", rows)
    return "test", {}


@scaled_writer("hateful_memes")
def hateful_memes_data(root: Path, n: int, demos: int, image_pool: int | None = None) -> tuple[str, dict[str, str]]:
    """dev_seen.jsonl + img/, both labels. With `image_pool`, only that many distinct PNGs are drawn (under
    pool/) and every meme's image is a hard link to one of them: each meme still has its own path (the loader
    checks every one), and 100k memes take seconds to write."""
    if image_pool is not None:
        for index in range(min(n, image_pool)):
            save_image(root / "pool" / f"{index}.png", index)
    rows = []
    for i in range(n):
        image = f"img/{10000 + i:05d}.png"
        if image_pool is None:
            save_image(root / image, i)
        else:
            _link(root / "pool" / f"{i % image_pool}.png", root / image)
        rows.append({"id": 10000 + i, "img": image, "label": i % 2, "text": words(i, 12)})
    write_jsonl(root / "dev_seen.jsonl", rows)
    return "dev_seen", {}


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, target)


@scaled_writer("rendered_sst2")
def rendered_sst2_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    for i in range(n):
        save_image(root / "rendered-sst2" / "test" / ("negative", "positive")[i % 2] / f"{i:05d}.png", i)
    return "test", {}


# ----------------------------------------------------------------------------------------------- commonsense
@scaled_writer("relative_size")
def relative_size_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    objects = [f"{WORDS[j % len(WORDS)]}{j // len(WORDS) or ''}" for j in range(2 * int((n + 1) ** 0.5) + 2)]
    pairs = [f"{a} {b}" for i, a in enumerate(objects) for b in objects[i + 1 :]][: (n + 1) // 2]
    root.mkdir(parents=True, exist_ok=True)
    (root / "sizePairsFull.txt").write_text("\n".join(pairs) + "\n")  # each pair is asked in both orders
    return "test", {}


@scaled_writer("memory_color")
def memory_color_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    rows = [f"{i + 1},{'the ' if i % 2 else 'a '},{words(i, 1)},{COLORS[i % 11]}" for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "memory_color_data.csv").write_bytes("\r\n".join(["Index,Descriptor,Item,Color", *rows, ""]).encode())
    return "test", {}


@scaled_writer("color_terms")
def color_terms_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    root.mkdir(parents=True, exist_ok=True)
    rows = [f"{words(i, 1)}{i},{COLORS[i % 11]}" for i in range(n)]
    (root / "color-concrete-objects.csv").write_text("\n".join(["object,color", *rows, ""]))
    return "test", {}


# -------------------------------------------------------------------------------------------------- language
LANGUAGE_ROWS: dict[str, Callable[[int], dict[str, Any]]] = {
    "boolq": lambda i: {"question": words(i, 8), "passage": sentence(i, 110), "idx": i, "label": i % 2},
    "cb": lambda i: {"premise": sentence(i, 60), "hypothesis": sentence(i + 1, 9), "idx": i, "label": i % 3},
    "copa": lambda i: {
        "premise": sentence(i, 7), "choice1": sentence(i + 1, 6), "choice2": sentence(i + 2, 6),
        "question": ("cause", "effect")[i % 2], "idx": i, "label": i % 2,
    },
    "hellaswag": lambda i: {
        "ind": i, "activity_label": words(i, 2), "ctx_a": sentence(i, 25), "ctx_b": words(i + 1, 6),
        "endings": [sentence(i + k, 20) for k in range(4)], "label": str(i % 4),
    },
    "piqa": lambda i: {
        "goal": sentence(i, 12), "sol1": sentence(i + 1, 22), "sol2": sentence(i + 2, 22), "label": i % 2,
    },
    "winograd": lambda i: {
        "text": f"The {words(i, 1)} hit the {words(i + 1, 1)} because he was {words(i + 2, 6)}.",
        "pronoun": "he", "pronoun_loc": len(f"The {words(i, 1)} hit the {words(i + 1, 1)} because "),
        "options": [f"the {words(i, 1)}", f"the {words(i + 1, 1)}"], "label": i % 2,
    },
    "winogrande": lambda i: {
        "sentence": f"{sentence(i, 10)[:-1]} because _ {words(i + 1, 8)}.", "option1": words(i, 1),
        "option2": words(i + 2, 1), "answer": str(i % 2 + 1),
    },
    "storycloze": lambda i: {
        "story_id": f"story-{i}", **{f"input_sentence_{k}": sentence(i + k, 9) for k in range(1, 5)},
        "sentence_quiz1": sentence(i + 5, 8), "sentence_quiz2": sentence(i + 6, 8), "answer_right_ending": i % 2 + 1,
    },
}  # fmt: skip


def language_writer(dataset: str) -> ScaledWriter:
    """Rows in the dataset's hub schema as `<split>.jsonl`, the local form `formats/language.py` accepts."""

    def write(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
        spec = dataset_spec(dataset)
        write_jsonl(root / f"{spec.default_split}.jsonl", [LANGUAGE_ROWS[dataset](i) for i in range(n)])
        if demos and spec.demo_split != spec.default_split:
            write_jsonl(root / f"{spec.demo_split}.jsonl", [LANGUAGE_ROWS[dataset](n + i) for i in range(demos)])
        return spec.default_split, {}

    return write


for _dataset in LANGUAGE_ROWS:
    scaled_writer(_dataset)(language_writer(_dataset))
