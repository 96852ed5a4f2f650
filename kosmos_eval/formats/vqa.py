"""Readers and writers for the official VQAv2 and VizWiz-VQA files.

VQAv2 keeps questions and answers in two JSON files per split and names images after COCO
(``COCO_<subtype>_<image_id:012d>.jpg``); VizWiz keeps one JSON list per split keyed by image file name.
Both evaluation servers take a JSON list of predictions; the writers here produce exactly those, and the
prediction readers accept them back (to score a submission file locally). Images are never opened here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kosmos_eval.core.files import write_text_atomic
from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import DataFolder, DataPathError, load_json


@dataclass(frozen=True)
class VQAItem:
    """One visual question. `answers` is empty where the split has no public answers (VQAv2 test-dev/test,
    VizWiz test); `answerable` is VizWiz's 0/1 label (None for VQAv2)."""

    question_id: int | str
    image: ImageInput
    image_name: str
    question: str
    answers: tuple[str, ...]
    answer_type: str | None
    question_type: str | None
    answerable: int | None


# split -> (subtype of the question/annotation files, subtype of the image folder and file names)
VQAV2_SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train2014", "train2014"),
    "val": ("val2014", "val2014"),
    "test-dev": ("test-dev2015", "test2015"),  # test-dev is a subset of the test2015 images
    "test": ("test2015", "test2015"),
}
VIZWIZ_SPLITS = ("train", "val", "test")
_IMAGE_SUBTYPE = re.compile(r"^[a-z]+\d{4}$")


def _get(entry: Any, field: str, kind: type | tuple[type, ...], path: Path, where: str, required: bool = True) -> Any:
    """entry[field] checked against `kind` (bools never pass as numbers); None when optional and absent."""
    if not isinstance(entry, dict):
        raise DataError(f"{path}: {where} must be a JSON object, is {type(entry).__name__}")
    if field not in entry or entry[field] is None:
        if required:
            raise DataError(f"{path}: {where} has no '{field}' field")
        return None
    value = entry[field]
    if isinstance(value, bool) or not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(f"{path}: {where} field '{field}' must be {names}, is {value!r}")
    return value


def _list_field(data: Any, field: str, path: Path) -> list[Any]:
    if not isinstance(data, dict) or not isinstance(data.get(field), list):
        raise DataError(f"{path}: expected a JSON object with a '{field}' list (is this the right file?)")
    return data[field]


def _image_input(path: Path, data_root: Path) -> ImageInput:
    """Keyed by the path relative to the data folder (`path` is inside it: `DataFolder` made it)."""
    return ImageInput.from_path(path, key=path.relative_to(data_root).as_posix())


def _require_dir(image_dir: Path) -> None:
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: image folder does not exist")


def coco_image_name(image_subtype: str, image_id: int) -> str:
    """COCO's file name, e.g. COCO_val2014_000000000042.jpg."""
    return f"COCO_{image_subtype}_{image_id:012d}.jpg"


def _vqav2_image_subtype(questions: Any, questions_file: Path, image_dir: Path) -> str:
    subtype = questions.get("data_subtype") if isinstance(questions, dict) else None
    if isinstance(subtype, str) and subtype:
        if any(mark in subtype for mark in ("/", "\\", "..", "\x00")):
            raise DataPathError(
                f"{questions_file}: field 'data_subtype' is {subtype!r}, but it is part of every image file name "
                "and must be a plain subtype such as val2014, so that the images stay inside the data folder; use "
                "the official questions file"
            )
        return subtype.replace("test-dev", "test")  # test-dev2015 questions are about test2015 images
    if _IMAGE_SUBTYPE.match(image_dir.name):
        return image_dir.name
    raise DataError(
        f"{questions_file}: no 'data_subtype' field and the image folder name '{image_dir.name}' is not a COCO "
        "subtype such as val2014; use the official questions file or name the folder after its subtype"
    )


def read_vqav2(questions_file: Path, annotations_file: Path | None, image_dir: Path, data_root: Path) -> list[VQAItem]:
    """VQAv2 questions (and answers, when `annotations_file` is given), sorted by question_id."""
    questions = load_json(questions_file)
    entries = _list_field(questions, "questions", questions_file)
    if not entries:
        raise DataError(f"{questions_file}: the 'questions' list is empty")
    image_subtype = _vqav2_image_subtype(questions, questions_file, image_dir)
    _require_dir(image_dir)
    folder = DataFolder(data_root)
    annotations = _read_vqav2_annotations(annotations_file) if annotations_file is not None else None

    items: list[VQAItem] = []
    seen: set[int] = set()
    for index, entry in enumerate(entries):
        where = f"questions[{index}]"
        question_id = _get(entry, "question_id", int, questions_file, where)
        image_id = _get(entry, "image_id", int, questions_file, where)
        question = _get(entry, "question", str, questions_file, where)
        if question_id in seen:
            raise DataError(f"{questions_file}: {where} repeats question_id {question_id}")
        seen.add(question_id)
        answers: tuple[str, ...] = ()
        answer_type = question_type = None
        if annotations is not None:
            if question_id not in annotations:
                raise DataError(
                    f"{annotations_file}: no annotation for question_id {question_id} of {questions_file.name}; "
                    "questions and annotations must come from the same split"
                )
            ann_image_id, answers, answer_type, question_type = annotations[question_id]
            if ann_image_id != image_id:
                raise DataError(
                    f"{annotations_file}: question_id {question_id} has image_id {ann_image_id}, "
                    f"but {questions_file.name} says {image_id}"
                )
        name = coco_image_name(image_subtype, image_id)
        path = folder.resolve(name, f"{questions_file}: {where}", "image_id", base=image_dir)
        items.append(
            VQAItem(
                question_id=question_id,
                image=_image_input(path, data_root),
                image_name=name,
                question=question,
                answers=answers,
                answer_type=answer_type,
                question_type=question_type,
                answerable=None,
            )
        )
    return sorted(items, key=lambda item: item.question_id)


def _read_vqav2_annotations(path: Path) -> dict[int, tuple[int, tuple[str, ...], str | None, str | None]]:
    """question_id -> (image_id, answers, answer_type, question_type)."""
    entries = _list_field(load_json(path), "annotations", path)
    table: dict[int, tuple[int, tuple[str, ...], str | None, str | None]] = {}
    for index, entry in enumerate(entries):
        where = f"annotations[{index}]"
        question_id = _get(entry, "question_id", int, path, where)
        image_id = _get(entry, "image_id", int, path, where)
        raw_answers = _get(entry, "answers", list, path, where)
        answers = tuple(
            _get(answer, "answer", str, path, f"{where}.answers[{k}]") for k, answer in enumerate(raw_answers)
        )
        if not answers:
            raise DataError(f"{path}: {where} has an empty 'answers' list")
        answer_type = _get(entry, "answer_type", str, path, where, required=False)
        question_type = _get(entry, "question_type", str, path, where, required=False)
        table[question_id] = (image_id, answers, answer_type, question_type)
    return table


def _first_file(candidates: Iterable[Path]) -> Path | None:
    return next((path for path in candidates if path.is_file()), None)


def _first_dir(candidates: Iterable[Path]) -> Path | None:
    return next((path for path in candidates if path.is_dir()), None)


def locate_vqav2(data_dir: Path, split: str) -> tuple[Path, Path | None, Path]:
    """(questions file, annotations file or None, image folder) for train, val, test-dev or test.

    JSON files are looked for in `data_dir` and its Questions/ or Annotations/ folders (any case), images in
    `<data_dir>/<subtype>/`, `<data_dir>/images/<subtype>/` or the official `Images/mscoco/<subtype>/`.
    Answers are required for train and val; test-dev and test have none public (None unless present).
    """
    if split not in VQAV2_SPLITS:
        raise DataError(f"VQAv2 split '{split}' is unknown; use one of {', '.join(VQAV2_SPLITS)}")
    file_subtype, image_subtype = VQAV2_SPLITS[split]
    json_dirs = [data_dir] + [data_dir / name for name in ("Questions", "questions", "Annotations", "annotations")]
    questions_name = f"v2_OpenEnded_mscoco_{file_subtype}_questions.json"
    annotations_name = f"v2_mscoco_{file_subtype}_annotations.json"
    questions = _first_file(folder / questions_name for folder in json_dirs)
    if questions is None:
        raise DataError(f"{data_dir}: VQAv2 {split} needs {questions_name} (in the folder or its Questions/)")
    annotations = _first_file(folder / annotations_name for folder in json_dirs)
    if annotations is None and split in ("train", "val"):
        raise DataError(f"{data_dir}: VQAv2 {split} needs {annotations_name} (in the folder or its Annotations/)")
    image_dirs = [data_dir / image_subtype] + [
        data_dir / parent / image_subtype for parent in ("images", "Images", "Images/mscoco", "images/mscoco")
    ]
    images = _first_dir(image_dirs)
    if images is None:
        raise DataError(
            f"{data_dir}: no COCO image folder {image_subtype}/ (looked in the folder, images/ and Images/mscoco/); "
            f"unpack the COCO {image_subtype} images there"
        )
    return questions, annotations, images


def read_vizwiz(split_file: Path, image_dir: Path, data_root: Path) -> list[VQAItem]:
    """A VizWiz-VQA split file (train/val with answers, test without), sorted by image name, which is also
    the question_id (VizWiz has one question per image and keys predictions by image)."""
    entries = load_json(split_file)
    if not isinstance(entries, list):
        raise DataError(f"{split_file}: expected a JSON list of questions (is this a VizWiz <split>.json?)")
    if not entries:
        raise DataError(f"{split_file}: the list of questions is empty")
    _require_dir(image_dir)
    folder = DataFolder(data_root)
    items: dict[str, VQAItem] = {}
    for index, entry in enumerate(entries):
        where = f"entry {index}"
        image = _get(entry, "image", str, split_file, where)
        question = _get(entry, "question", str, split_file, where)
        raw_answers = _get(entry, "answers", list, split_file, where, required=False) or []
        answers = tuple(
            _get(answer, "answer", str, split_file, f"{where}.answers[{k}]") for k, answer in enumerate(raw_answers)
        )
        answerable = _get(entry, "answerable", int, split_file, where, required=False)
        if answerable not in (None, 0, 1):
            raise DataError(f"{split_file}: {where} field 'answerable' must be 0 or 1, is {answerable!r}")
        if image in items:
            raise DataError(f"{split_file}: {where} repeats image {image}")
        path = folder.resolve(image, f"{split_file}: {where}", "image", base=image_dir)
        items[image] = VQAItem(
            question_id=image,
            image=_image_input(path, data_root),
            image_name=image,
            question=question,
            answers=answers,
            answer_type=_get(entry, "answer_type", str, split_file, where, required=False),
            question_type=None,
            answerable=answerable,
        )
    return [items[name] for name in sorted(items)]


def locate_vizwiz(data_dir: Path, split: str) -> tuple[Path, Path]:
    """(split file, image folder): `<data_dir>/<split>.json` or `<data_dir>/Annotations/<split>.json`, and
    images in `<data_dir>/<split>/` (or `<data_dir>/images/<split>/`)."""
    if split not in VIZWIZ_SPLITS:
        raise DataError(f"VizWiz split '{split}' is unknown; use one of {', '.join(VIZWIZ_SPLITS)}")
    name = f"{split}.json"
    split_file = _first_file(data_dir / folder / name for folder in (".", "Annotations", "annotations"))
    if split_file is None:
        raise DataError(f"{data_dir}: VizWiz {split} needs {name} (in the folder or its Annotations/)")
    images = _first_dir((data_dir / split, data_dir / "images" / split))
    if images is None:
        raise DataError(f"{data_dir}: no VizWiz image folder {split}/; unpack the {split} images there")
    return split_file, images


def _write_json(path: Path, payload: list[dict[str, Any]]) -> None:
    """Atomically (core/files.py): a crash or a full disk never leaves an empty or half submission file."""
    write_text_atomic(path, json.dumps(payload))


def write_vqav2_submission(path: Path, predictions: Iterable[tuple[int, str]]) -> None:
    """The VQAv2 server's results file: a JSON list of {"question_id": int, "answer": str}."""
    payload: list[dict[str, Any]] = []
    seen: set[int] = set()
    for question_id, answer in predictions:
        if isinstance(question_id, bool) or not isinstance(question_id, int):
            raise ValueError(f"VQAv2 question_id must be an int, got {question_id!r}")
        if question_id in seen:
            raise ValueError(f"VQAv2 submission repeats question_id {question_id}")
        seen.add(question_id)
        payload.append({"question_id": question_id, "answer": str(answer)})
    _write_json(path, payload)


def write_vizwiz_submission(
    path: Path, predictions: Iterable[tuple[str, str]], answerable: Mapping[str, float] | None = None
) -> None:
    """The VizWiz server's results file: a JSON list of {"image": str, "answer": str}, with an "answerable"
    confidence (1 = answerable) per image when `answerable` is given (the answerability challenge)."""
    payload: list[dict[str, Any]] = []
    seen: set[str] = set()
    for image, answer in predictions:
        if image in seen:
            raise ValueError(f"VizWiz submission repeats image {image}")
        seen.add(image)
        record: dict[str, Any] = {"image": str(image), "answer": str(answer)}
        if answerable is not None:
            record["answerable"] = float(answerable[image])
        payload.append(record)
    _write_json(path, payload)


def _prediction_entries(path: Path) -> list[Any]:
    entries = load_json(path)
    if not isinstance(entries, list):
        raise DataError(f"{path}: a results file must be a JSON list of predictions, is {type(entries).__name__}")
    return entries


def read_vqav2_predictions(path: Path) -> dict[int, str]:
    """A VQAv2 results file back as question_id -> answer."""
    predictions: dict[int, str] = {}
    for index, entry in enumerate(_prediction_entries(path)):
        where = f"entry {index}"
        question_id = _get(entry, "question_id", int, path, where)
        answer = _get(entry, "answer", str, path, where)
        if question_id in predictions:
            raise DataError(f"{path}: {where} repeats question_id {question_id}")
        predictions[question_id] = answer
    return predictions


def read_vizwiz_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """A VizWiz results file back as image -> {"answer": str | None, "answerable": float | None}. Each entry
    needs an "answer", an "answerable" confidence, or both (the answerability challenge sends only the latter)."""
    predictions: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(_prediction_entries(path)):
        where = f"entry {index}"
        image = _get(entry, "image", str, path, where)
        answer = _get(entry, "answer", str, path, where, required=False)
        answerable = entry.get("answerable")  # entry is a JSON object: _get checked it
        # true/false count as 1/0, as numpy takes them in the official script
        if answerable is not None and not isinstance(answerable, (bool, int, float)):
            raise DataError(f"{path}: {where} field 'answerable' must be a number in [0, 1], is {answerable!r}")
        if answer is None and answerable is None:
            raise DataError(f"{path}: {where} has neither an 'answer' nor an 'answerable' field")
        if image in predictions:
            raise DataError(f"{path}: {where} repeats image {image}")
        predictions[image] = {"answer": answer, "answerable": None if answerable is None else float(answerable)}
    return predictions
