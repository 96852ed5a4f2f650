"""Synthetic hub copies of VQAv2 and VizWiz,
in their cards' schemas (see kosmos_eval/generators/hub_copies.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kosmos_eval.generators.hub_copies import copy_writer, image_cell


def _vizwiz_features() -> Any:
    import datasets

    return datasets.Features(
        {
            "question_id": datasets.Value("string"),
            "image": datasets.Image(),
            "question": datasets.Value("string"),
            "answers": datasets.Sequence(datasets.Value("string")),
            "category": datasets.Value("string"),
        }
    )


@copy_writer("vizwiz", _vizwiz_features)
def vizwiz_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """lmms-lab/VizWiz-VQA: question_id is the image stem, answers plain strings, category the answer type;
    the test split has empty answers and category (the sample's own test answers stay out, as the real ones do)."""
    splits = {}
    for split in ("val", "test"):
        entries = json.loads((sample / f"{split}.json").read_text())
        withheld = split == "test"
        splits[split] = [
            {
                "question_id": Path(entry["image"]).stem,
                "image": image_cell(sample / split / entry["image"]),
                "question": entry["question"],
                "answers": [] if withheld else [answer["answer"] for answer in entry.get("answers", [])],
                "category": "" if withheld else entry.get("answer_type", ""),
            }
            for entry in entries
        ]
    return splits


def _vqav2_features() -> Any:
    """lmms-lab/VQAv2's card, column for column and in its order (answers: a list of structs)."""
    import datasets

    answer = {
        "answer": datasets.Value("string"),
        "answer_confidence": datasets.Value("string"),
        "answer_id": datasets.Value("int64"),
    }
    list_of = getattr(datasets, "List", None)  # datasets >= 4; before, a one-element list spelled a list feature
    return datasets.Features(
        {
            "question_type": datasets.Value("string"),
            "multiple_choice_answer": datasets.Value("string"),
            "answers": list_of(answer) if list_of is not None else [answer],
            "image_id": datasets.Value("int64"),
            "answer_type": datasets.Value("string"),
            "question_id": datasets.Value("int64"),
            "question": datasets.Value("string"),
            "image": datasets.Image(),
        }
    )


@copy_writer("vqav2", _vqav2_features)
def vqav2_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """lmms-lab/VQAv2: each question joined with its annotation and its COCO image; testdev rows (no public
    annotation) have null answers and types (the sample's own test-dev answers stay out, as the real ones do).
    The sample has no test2015 questions, so the copy has no test."""
    from kosmos_eval.formats.vqa import VQAV2_SPLITS

    splits = {}
    for ours, hub in (("test-dev", "testdev"), ("val", "validation")):
        file_subtype, image_subtype = VQAV2_SPLITS[ours]
        questions = json.loads((sample / f"v2_OpenEnded_mscoco_{file_subtype}_questions.json").read_text())
        annotations_file = sample / f"v2_mscoco_{file_subtype}_annotations.json"
        annotations = (
            {entry["question_id"]: entry for entry in json.loads(annotations_file.read_text())["annotations"]}
            if annotations_file.is_file() and ours != "test-dev"
            else {}
        )
        rows = []
        for entry in questions["questions"]:
            annotation = annotations.get(entry["question_id"], {})
            image = sample / image_subtype / f"COCO_{image_subtype}_{entry['image_id']:012d}.jpg"
            rows.append(
                {
                    "question_type": annotation.get("question_type"),
                    "multiple_choice_answer": annotation.get("multiple_choice_answer"),
                    "answers": annotation.get("answers"),
                    "image_id": entry["image_id"],
                    "answer_type": annotation.get("answer_type"),
                    "question_id": entry["question_id"],
                    "question": entry["question"],
                    "image": image_cell(image),
                }
            )
        splits[hub] = rows
    return splits
