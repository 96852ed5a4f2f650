"""Tiny datasets in the official on-disk formats, written by tests (real images made with Pillow)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.images import make_image

CAPTIONS = [
    "A man riding a horse on a beach.",
    "Two dogs play in the snow.",
    "A red bus parked on a city street.",
    "A plate of food with rice and broccoli.",
    "A cat sleeping on a brown couch.",
    "A group of people flying kites in a park.",
]


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def write_karpathy_coco(root: Path, splits: dict[str, int]) -> dict[int, list[str]]:
    """dataset_coco.json + val2014/ and train2014/ images; returns image id -> references."""
    entries, references, cocoid = [], {}, 100
    for split, count in splits.items():
        folder = "train2014" if split == "train" else "val2014"
        for _ in range(count):
            cocoid += 1
            name = f"COCO_{folder}_{cocoid:012d}.jpg"
            (root / folder).mkdir(parents=True, exist_ok=True)
            make_image(cocoid).save(root / folder / name)
            refs = [CAPTIONS[(cocoid + j) % len(CAPTIONS)] for j in range(5)]
            references[cocoid] = refs
            entries.append(
                {
                    "filepath": folder,
                    "filename": name,
                    "imgid": len(entries),
                    "split": split,
                    "cocoid": cocoid,
                    "sentences": [{"raw": r, "tokens": r.lower().strip(".").split()} for r in refs],
                }
            )
    write_json(root / "dataset_coco.json", {"images": entries, "dataset": "coco"})
    return references


def write_vqav2(root: Path, split: str, questions: list[tuple[str, list[str], str]], first_image: int = 1) -> None:
    """VQAv2 questions (+ annotations unless test-dev) and COCO images; questions are (text, answers, type)."""
    subtype = {"train": "train2014", "val": "val2014", "test-dev": "test-dev2015"}[split]
    image_subtype = subtype.replace("test-dev", "test")
    (root / image_subtype).mkdir(parents=True, exist_ok=True)
    qs, anns = [], []
    for i, (text, answers, answer_type) in enumerate(questions):
        image_id = first_image + i
        question_id = image_id * 10
        make_image(image_id).save(root / image_subtype / f"COCO_{image_subtype}_{image_id:012d}.jpg")
        qs.append({"image_id": image_id, "question": text, "question_id": question_id})
        anns.append(
            {
                "question_id": question_id,
                "image_id": image_id,
                "question_type": " ".join(text.lower().split()[:2]),
                "answer_type": answer_type,
                "multiple_choice_answer": answers[0],
                "answers": [
                    {"answer": a, "answer_confidence": "yes", "answer_id": j + 1} for j, a in enumerate(answers)
                ],
            }
        )
    write_json(
        root / f"v2_OpenEnded_mscoco_{subtype}_questions.json",
        {"task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": subtype, "questions": qs},
    )
    if split != "test-dev":
        write_json(root / f"v2_mscoco_{subtype}_annotations.json", {"data_subtype": subtype, "annotations": anns})


def write_vizwiz(root: Path, split: str, questions: list[tuple[str, list[str], int]]) -> None:
    """<split>.json + <split>/ images; questions are (text, answers, answerable)."""
    (root / split).mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (text, answers, answerable) in enumerate(questions):
        name = f"VizWiz_{split}_{i:08d}.jpg"
        make_image(i + 40).save(root / split / name)
        entry: dict[str, object] = {"image": name, "question": text}
        if split != "test":
            entry |= {
                "answers": [{"answer": a, "answer_confidence": "yes"} for a in answers],
                "answer_type": "unanswerable" if not answerable else "other",
                "answerable": answerable,
            }
        entries.append(entry)
    write_json(root / f"{split}.json", entries)
