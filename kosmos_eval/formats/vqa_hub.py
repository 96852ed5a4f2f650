"""VQAv2 and VizWiz items from their hub copies (kosmos_eval/data/sources/{vqav2,vizwiz}.yaml), the same
`VQAItem`s the official-file readers in formats/vqa.py make, so a run scores them alike."""

from __future__ import annotations

from kosmos_eval.data.hub_source import HubTable
from kosmos_eval.errors import DataError
from kosmos_eval.formats.vqa import VQAV2_SPLITS, VQAItem, coco_image_name

IMAGE_SUFFIX = ".jpg"


def vqav2_hub_items(table: HubTable) -> list[VQAItem]:
    """lmms-lab(-encoder)/VQAv2 rows as items sorted by question_id, as `read_vqav2` sorts them. The copy keeps
    the official question_id (the server's key, so the submission file is the same) and image_id, from which
    the COCO file name is rebuilt; the image key is the name under its subtype folder, the key the official
    reader gives an image laid out as `<data>/<subtype>/COCO_...jpg`. testdev and test rows have no answers."""
    image_subtype = VQAV2_SPLITS[table.split][1]
    question_ids = table.values("question_id")
    image_ids = table.values("image_id")
    questions = table.values("question")
    answers = table.values("answers")
    answer_types = table.values("answer_type")
    question_types = table.values("question_type")
    items: dict[int, VQAItem] = {}
    for index, question_id in enumerate(question_ids):
        image_id, question = image_ids[index], questions[index]
        if question_id is None or image_id is None or not question:
            raise DataError(f"{table.describe()}: row {index} has no question_id, image_id or question")
        if question_id in items:
            raise DataError(f"{table.describe()}: row {index} repeats question_id {question_id}")
        row_answers = tuple(_answer_text(table, index, entry) for entry in answers[index] or ())
        name = coco_image_name(image_subtype, image_id)
        items[question_id] = VQAItem(
            question_id=question_id,
            image=table.image("image", index, f"{image_subtype}/{name}"),
            image_name=name,
            question=question,
            answers=row_answers,
            # the official reader reads the types from the annotations, which testdev and test do not have
            answer_type=(answer_types[index] or None) if row_answers else None,
            question_type=(question_types[index] or None) if row_answers else None,
            answerable=None,
        )
    return [items[question_id] for question_id in sorted(items)]


def _answer_text(table: HubTable, index: int, entry: object) -> str:
    """One human answer's text ({answer, answer_confidence, answer_id}, as the annotation files hold it)."""
    answer = entry.get("answer") if isinstance(entry, dict) else None
    if not isinstance(answer, str):
        raise DataError(f"{table.describe()}: row {index} has an answer without its 'answer' text: {entry!r}")
    return answer


def vizwiz_hub_items(table: HubTable) -> list[VQAItem]:
    """lmms-lab/VizWiz-VQA rows as items sorted by image name, as `read_vizwiz` sorts them. The copy's
    question_id is the image's file stem; the official id (and the server's key) is the file name. Its
    `category` is the annotation's answer_type, so "unanswerable" gives answerable = 0; test rows have no
    answers and no answerability."""
    stems = table.values("question_id")
    questions = table.values("question")
    answers = table.values("answers")
    categories = table.values("category")
    items: dict[str, VQAItem] = {}
    for index, stem in enumerate(stems):
        if not stem:
            raise DataError(f"{table.describe()}: row {index} has an empty question_id")
        name = stem if stem.endswith(IMAGE_SUFFIX) else stem + IMAGE_SUFFIX
        if name in items:
            raise DataError(f"{table.describe()}: row {index} repeats question_id {stem!r}")
        row_answers = tuple(answers[index] or ())
        category = categories[index] or None
        items[name] = VQAItem(
            question_id=name,
            image=table.image("image", index, f"{table.split}/{name}"),
            image_name=name,
            question=questions[index],
            answers=row_answers,
            answer_type=category,
            question_type=None,
            answerable=(0 if category == "unanswerable" else 1) if row_answers else None,
        )
    return [items[name] for name in sorted(items)]
