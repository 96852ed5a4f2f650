"""Synthetic data for the harness-overhead benchmark: N examples per task in the task's on-disk format.

Each writer puts `n` examples of the evaluated split (and `demos` of the demo split, for few-shot runs) under
`root` and returns (split to evaluate, task options). Text is seeded filler of about the real data's lengths;
images are tiny but real files (the chance backend never decodes them). Language tasks and Rendered SST-2,
normally read from the hub, are written as the local files their loaders also accept. Reuses the writers in
tests/datasets.py and tests/images.py, so the repository root must be importable.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kosmos_eval.formats.language import dataset_spec
from tests.datasets import write_json, write_karpathy_coco, write_vizwiz, write_vqav2
from tests.images import make_image

# --------------------------------------------------------------------------------------------- synthetic data
# Each writer puts `n` examples of the evaluated split (and `demos` of the demo split, for few-shot runs) in the
# task's on-disk format under `root`, and returns (split to evaluate, task options). Text is seeded filler of
# about the real data's lengths; images are tiny but real files (the chance backend never decodes them).

FILLER = (
    "man woman dog cat bus plate horse street table park kite beach snow train phone bird tree house car boat "
    "field window chair river road child shirt ball bench wall light water sign door food glass sky hill cake "
    "bridge truck bike girl boy red blue green small large old young white black brown wooden tall open"
)
WORDS = FILLER.split()
COLORS = ("black", "blue", "brown", "green", "grey", "orange", "pink", "purple", "red", "white", "yellow")
Writer = Callable[[Path, int, int], tuple[str, dict[str, str]]]


def words(seed: int, count: int) -> str:
    return " ".join(WORDS[(seed * 7919 + k * 104729 + k * k) % len(WORDS)] for k in range(count))


def sentence(seed: int, count: int) -> str:
    text = words(seed, count)
    return text[0].upper() + text[1:] + "."


def save_image(path: Path, index: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_image(index).save(path)
    return path.name


def write_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def coco_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_karpathy_coco(root, {"test": n, "train": demos} if demos else {"test": n})
    return "test", {}


def flickr30k_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    entries = []
    for i in range(n + demos):
        name = save_image(root / "flickr30k-images" / f"{1000000 + i}.jpg", i)
        refs = [sentence(i * 5 + j, 11) for j in range(5)]
        sentences = [{"raw": r, "tokens": r.lower().strip(".").split()} for r in refs]
        entries.append({"filename": name, "imgid": i, "split": "test" if i < n else "train", "sentences": sentences})
    write_json(root / "dataset_flickr30k.json", {"images": entries, "dataset": "flickr30k"})
    return "test", {}


def vqa_questions(count: int, offset: int, vizwiz: bool) -> list[tuple[str, list[str], Any]]:
    pool = ("yes", "no", "2", "red", "dog", "tennis", "kitchen", "unanswerable" if vizwiz else "white")
    questions = []
    for i in range(offset, offset + count):
        answers = [pool[(i + (j // 4)) % len(pool)] for j in range(10)]
        kind = "yes/no" if answers[0] in ("yes", "no") else "number" if answers[0].isdigit() else "other"
        extra = 0 if answers[0] == "unanswerable" else 1
        questions.append((f"What is the {words(i, 2)} {words(i + 1, 1)} doing?", answers, extra if vizwiz else kind))
    return questions


def vqav2_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_vqav2(root, "val", vqa_questions(n, 0, False))
    if demos:
        write_vqav2(root, "train", vqa_questions(demos, n, False), first_image=n + 1)
    return "val", {}  # val, not the paper's test-dev: test-dev has no public answers, so nothing would be scored


def vizwiz_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_vizwiz(root, "val", vqa_questions(n, 0, True))
    if demos:
        write_vizwiz(root, "train", vqa_questions(demos, n, True))
    return "val", {}  # scored locally, as vqav2


def imagenet_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    names = [f"{a} {b}" for a in WORDS for b in WORDS if a != b][:1000]
    wnids = [f"n{1_000_000 + k:08d}" for k in range(1000)]
    mapping = "".join(f"{wnid} {name}, {name.split()[1]}\n" for wnid, name in zip(wnids, names, strict=True))
    (root / "val").mkdir(parents=True, exist_ok=True)
    (root / "LOC_synset_mapping.txt").write_text(mapping)
    for i in range(n):
        save_image(root / "val" / wnids[i * 389 % 1000] / f"ILSVRC2012_val_{i + 1:08d}.JPEG", i)
    return "validation", {}


def raven_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    panel_counts = (3, 3, 3, 3, 3, 3, 3, 4, 8, 8)  # about IQ50's mix of 3-, 4- and 8-panel problems
    for i in range(n):
        folder = root / f"exp-{i + 1}"
        for k in range(panel_counts[i % len(panel_counts)]):
            save_image(folder / f"query-{k + 1}.png", i * 16 + k)
        for k, letter in enumerate("abcdef"):
            save_image(folder / f"answer-{letter}.png", i * 16 + 8 + k)
    return "test", {}


def relative_size_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    objects = [f"{WORDS[j % len(WORDS)]}{j // len(WORDS) or ''}" for j in range(2 * int((n + 1) ** 0.5) + 2)]
    pairs = [f"{a} {b}" for i, a in enumerate(objects) for b in objects[i + 1 :]][: (n + 1) // 2]
    root.mkdir(parents=True, exist_ok=True)
    (root / "sizePairsFull.txt").write_text("\n".join(pairs) + "\n")  # each pair is asked in both orders
    return "test", {}


def memory_color_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    rows = [f"{i + 1},{'the ' if i % 2 else 'a '},{words(i, 1)},{COLORS[i % 11]}" for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "memory_color_data.csv").write_bytes("\r\n".join(["Index,Descriptor,Item,Color", *rows, ""]).encode())
    return "test", {}


def color_terms_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    root.mkdir(parents=True, exist_ok=True)
    rows = [f"{words(i, 1)}{i},{COLORS[i % 11]}" for i in range(n)]
    (root / "color-concrete-objects.csv").write_text("\n".join(["object,color", *rows, ""]))
    return "test", {}


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
    write_lines(root / "descriptions.jsonl", rows)
    return "test", {}


def hateful_memes_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    rows = []
    for i in range(n):
        image = f"img/{10000 + i:05d}.png"
        save_image(root / image, i)
        rows.append({"id": 10000 + i, "img": image, "label": i % 2, "text": words(i, 12)})
    write_lines(root / "dev_seen.jsonl", rows)
    return "dev_seen", {}


def rendered_sst2_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    for i in range(n):
        save_image(root / "rendered-sst2" / "test" / ("negative", "positive")[i % 2] / f"{i:05d}.png", i)
    return "test", {}


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


def language_writer(dataset: str) -> Writer:
    """Rows in the dataset's hub schema as `<split>.jsonl`, the local form `formats/language.py` accepts."""

    def write(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
        spec = dataset_spec(dataset)
        write_lines(root / f"{spec.default_split}.jsonl", [LANGUAGE_ROWS[dataset](i) for i in range(n)])
        if demos and spec.demo_split != spec.default_split:
            write_lines(root / f"{spec.demo_split}.jsonl", [LANGUAGE_ROWS[dataset](n + i) for i in range(demos)])
        return spec.default_split, {}

    return write


WRITERS: dict[str, tuple[Writer, str]] = {
    "coco_caption": (coco_data, "generation"),
    "flickr30k": (flickr30k_data, "generation"),
    "vqav2": (vqav2_data, "generation"),
    "vizwiz": (vizwiz_data, "generation"),
    "websrc": (websrc_data, "generation"),
    "cub_descriptions": (cub_descriptions_data, "generation"),
    "imagenet": (imagenet_data, "1000-way ranking"),
    "raven": (raven_data, "ranking"),
    "hateful_memes": (hateful_memes_data, "ranking"),
    "rendered_sst2": (rendered_sst2_data, "ranking"),
    "relative_size": (relative_size_data, "ranking"),
    "memory_color": (memory_color_data, "ranking"),
    "color_terms": (color_terms_data, "ranking"),
    **{dataset: (language_writer(dataset), "ranking") for dataset in LANGUAGE_ROWS},
}
