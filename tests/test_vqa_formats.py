"""VQAv2 and VizWiz readers, locators and submission files on tiny official-format JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kosmos_eval.errors import DataError
from kosmos_eval.formats.vqa import (
    locate_vizwiz,
    locate_vqav2,
    read_vizwiz,
    read_vizwiz_predictions,
    read_vqav2,
    read_vqav2_predictions,
    write_vizwiz_submission,
    write_vqav2_submission,
)
from kosmos_eval.metrics.vqa import breakdown, vqa_accuracy


def _write(path: Path, payload: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))
    return path


def _answers(*texts: str) -> list[dict[str, object]]:
    return [{"answer": t, "answer_confidence": "yes", "answer_id": i + 1} for i, t in enumerate(texts)]


def _vqav2_val(root: Path) -> None:
    """Official layout: Questions/, Annotations/, images/val2014/ (questions deliberately out of order)."""
    questions = [
        {"image_id": 42, "question": "How many dogs?", "question_id": 42002},
        {"image_id": 7, "question": "Is it raining?", "question_id": 7000},
    ]
    _write(
        root / "Questions" / "v2_OpenEnded_mscoco_val2014_questions.json",
        {
            "info": {},
            "task_type": "Open-Ended",
            "data_type": "mscoco",
            "data_subtype": "val2014",
            "questions": questions,
        },
    )
    annotations = [
        {
            "question_id": 7000,
            "image_id": 7,
            "question_type": "is it",
            "answer_type": "yes/no",
            "multiple_choice_answer": "no",
            "answers": _answers(*(["no"] * 9 + ["yes"])),
        },
        {
            "question_id": 42002,
            "image_id": 42,
            "question_type": "how many",
            "answer_type": "number",
            "multiple_choice_answer": "2",
            "answers": _answers(*(["2"] * 2 + ["two"] + ["3"] * 7)),
        },
    ]
    _write(root / "Annotations" / "v2_mscoco_val2014_annotations.json", {"annotations": annotations})
    (root / "images" / "val2014").mkdir(parents=True)


def test_reads_vqav2_val_in_official_layout(tmp_path):
    root = tmp_path / "vqav2"
    _vqav2_val(root)
    questions, annotations, images = locate_vqav2(root, "val")
    assert images == root / "images" / "val2014"
    items = read_vqav2(questions, annotations, images, data_root=root)
    assert [item.question_id for item in items] == [7000, 42002]  # sorted by question_id
    dogs = items[1]
    assert dogs.image_name == "COCO_val2014_000000000042.jpg"
    assert dogs.image.key == "images/val2014/COCO_val2014_000000000042.jpg"
    assert dogs.image.origin == str(images / "COCO_val2014_000000000042.jpg")
    assert dogs.question == "How many dogs?"
    assert dogs.answers == ("2", "2", "two", "3", "3", "3", "3", "3", "3", "3")
    assert (dogs.answer_type, dogs.question_type, dogs.answerable) == ("number", "how many", None)


def test_vqav2_end_to_end_scores_and_breakdown(tmp_path):
    root = tmp_path / "vqav2"
    _vqav2_val(root)
    items = read_vqav2(*locate_vqav2(root, "val"), data_root=root)
    path = tmp_path / "out" / "results.json"
    write_vqav2_submission(path, [(7000, "No."), (42002, "two")])
    predictions = read_vqav2_predictions(path)
    scores = [vqa_accuracy(predictions[item.question_id], item.answers) for item in items]
    assert scores == [1.0, 0.9]  # "No." -> "no" (9 matches); "two" -> "2" matches 3 normalised answers
    assert breakdown(scores, [item.answer_type for item in items]) == {"number": (0.9, 1), "yes/no": (1.0, 1)}


def test_test_dev_questions_use_test2015_images(tmp_path):
    root = tmp_path / "vqav2"
    _write(
        root / "v2_OpenEnded_mscoco_test-dev2015_questions.json",
        {"data_subtype": "test-dev2015", "questions": [{"image_id": 1, "question": "What?", "question_id": 10}]},
    )
    (root / "test2015").mkdir(parents=True)
    questions, annotations, images = locate_vqav2(root, "test-dev")
    assert annotations is None and images == root / "test2015"
    (item,) = read_vqav2(questions, annotations, images, data_root=root)
    assert item.image_name == "COCO_test2015_000000000001.jpg"
    assert item.image.key == "test2015/COCO_test2015_000000000001.jpg"
    assert item.answers == () and item.answer_type is None


def test_locate_vqav2_names_the_expected_files(tmp_path):
    with pytest.raises(DataError, match=r"v2_OpenEnded_mscoco_val2014_questions\.json"):
        locate_vqav2(tmp_path, "val")
    _write(tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json", {"questions": []})
    with pytest.raises(DataError, match=r"v2_mscoco_val2014_annotations\.json"):
        locate_vqav2(tmp_path, "val")
    _write(tmp_path / "Annotations" / "v2_mscoco_val2014_annotations.json", {"annotations": []})
    with pytest.raises(DataError, match=r"no COCO image folder val2014/"):
        locate_vqav2(tmp_path, "val")
    with pytest.raises(DataError, match=r"split 'minival' is unknown; use one of train, val, test-dev, test"):
        locate_vqav2(tmp_path, "minival")


def test_question_without_annotation_is_a_data_error(tmp_path):
    root = tmp_path / "vqav2"
    _vqav2_val(root)
    questions, annotations, images = locate_vqav2(root, "val")
    data = json.loads(annotations.read_text())
    data["annotations"] = data["annotations"][:1]
    annotations.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"v2_mscoco_val2014_annotations\.json: no annotation for question_id 42002"):
        read_vqav2(questions, annotations, images, data_root=root)


def test_malformed_vqav2_files_name_file_entry_and_field(tmp_path):
    root = tmp_path / "vqav2"
    _vqav2_val(root)
    questions, annotations, images = locate_vqav2(root, "val")
    questions.write_text('{"questions": [')
    with pytest.raises(DataError, match=r"v2_OpenEnded_mscoco_val2014_questions\.json: not valid JSON"):
        read_vqav2(questions, annotations, images, data_root=root)
    _write(questions, {"data_subtype": "val2014", "questions": [{"image_id": "7", "question": "?", "question_id": 1}]})
    with pytest.raises(DataError, match=r"questions\[0\] field 'image_id' must be int, is '7'"):
        read_vqav2(questions, None, images, data_root=root)
    _write(questions, [{"image_id": 7}])
    with pytest.raises(DataError, match=r"expected a JSON object with a 'questions' list"):
        read_vqav2(questions, None, images, data_root=root)
    _write(questions, {"data_subtype": "val2014", "questions": [{"image_id": 7, "question": "?", "question_id": 7000}]})
    data = json.loads(annotations.read_text())
    del data["annotations"][0]["answers"][3]["answer"]
    annotations.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"annotations\[0\]\.answers\[3\] has no 'answer' field"):
        read_vqav2(questions, annotations, images, data_root=root)


def _vizwiz(root: Path) -> None:
    entries = [
        {
            "image": "VizWiz_val_00000002.jpg",
            "question": "What colour is this?",
            "answers": [{"answer": "blue", "answer_confidence": "yes"}] * 10,
            "answer_type": "other",
            "answerable": 1,
        },
        {
            "image": "VizWiz_val_00000001.jpg",
            "question": "What is this?",
            "answers": [{"answer": "unanswerable", "answer_confidence": "yes"}] * 10,
            "answer_type": "unanswerable",
            "answerable": 0,
        },
    ]
    _write(root / "Annotations" / "val.json", entries)
    _write(root / "test.json", [{"image": "VizWiz_test_00000000.jpg", "question": "Is it on?"}])
    (root / "val").mkdir(parents=True)
    (root / "test").mkdir(parents=True)


def test_reads_vizwiz_val_and_test(tmp_path):
    root = tmp_path / "vizwiz"
    _vizwiz(root)
    split_file, images = locate_vizwiz(root, "val")
    assert split_file == root / "Annotations" / "val.json" and images == root / "val"
    items = read_vizwiz(split_file, images, data_root=root)
    assert [item.question_id for item in items] == ["VizWiz_val_00000001.jpg", "VizWiz_val_00000002.jpg"]
    first = items[0]
    assert first.image_name == first.question_id and first.image.key == "val/VizWiz_val_00000001.jpg"
    assert first.answers == ("unanswerable",) * 10
    assert (first.answer_type, first.answerable, first.question_type) == ("unanswerable", 0, None)
    (test_item,) = read_vizwiz(*locate_vizwiz(root, "test"), data_root=root)
    assert test_item.answers == () and test_item.answerable is None and test_item.answer_type is None


def test_vizwiz_errors(tmp_path):
    root = tmp_path / "vizwiz"
    _vizwiz(root)
    with pytest.raises(DataError, match=r"VizWiz train needs train\.json"):
        locate_vizwiz(root, "train")
    with pytest.raises(DataError, match=r"split 'dev' is unknown"):
        locate_vizwiz(root, "dev")
    bad = _write(root / "val.json", [{"image": "a.jpg", "question": "?", "answerable": 2}])
    with pytest.raises(DataError, match=r"val\.json: entry 0 field 'answerable' must be 0 or 1, is 2"):
        read_vizwiz(bad, root / "val", data_root=root)
    _write(bad, {"image": "a.jpg"})
    with pytest.raises(DataError, match=r"val\.json: expected a JSON list"):
        read_vizwiz(bad, root / "val", data_root=root)
    _write(bad, [{"image": "a.jpg", "question": "?"}, {"image": "a.jpg", "question": "?"}])
    with pytest.raises(DataError, match=r"val\.json: entry 1 repeats image a\.jpg"):
        read_vizwiz(bad, root / "val", data_root=root)
    bad.write_bytes(b"\xff\xfe not json")
    with pytest.raises(DataError, match=r"val\.json: not UTF-8 text"):
        read_vizwiz(bad, root / "val", data_root=root)
    with pytest.raises(DataError, match=r"missing: image folder does not exist"):
        read_vizwiz(root / "test.json", root / "missing", data_root=root)


def test_submission_files_round_trip(tmp_path):
    vqa_path = tmp_path / "vqa.json"
    write_vqav2_submission(vqa_path, [(3, "yes"), (1, "2")])
    assert json.loads(vqa_path.read_text()) == [{"question_id": 3, "answer": "yes"}, {"question_id": 1, "answer": "2"}]
    assert read_vqav2_predictions(vqa_path) == {3: "yes", 1: "2"}
    with pytest.raises(ValueError, match="repeats question_id 3"):
        write_vqav2_submission(vqa_path, [(3, "yes"), (3, "no")])

    viz_path = tmp_path / "vizwiz.json"
    write_vizwiz_submission(viz_path, [("b.jpg", "blue"), ("a.jpg", "unanswerable")])
    assert json.loads(viz_path.read_text()) == [
        {"image": "b.jpg", "answer": "blue"},
        {"image": "a.jpg", "answer": "unanswerable"},
    ]
    write_vizwiz_submission(viz_path, [("b.jpg", "blue")], answerable={"b.jpg": 0.75})
    assert json.loads(viz_path.read_text()) == [{"image": "b.jpg", "answer": "blue", "answerable": 0.75}]
    assert read_vizwiz_predictions(viz_path) == {"b.jpg": {"answer": "blue", "answerable": 0.75}}


def test_malformed_prediction_files_name_entry_and_field(tmp_path):
    path = _write(tmp_path / "res.json", [{"question_id": 1, "answer": "a"}, {"question_id": 2}])
    with pytest.raises(DataError, match=r"res\.json: entry 1 has no 'answer' field"):
        read_vqav2_predictions(path)
    _write(path, [{"question_id": "1", "answer": "a"}])
    with pytest.raises(DataError, match=r"res\.json: entry 0 field 'question_id' must be int, is '1'"):
        read_vqav2_predictions(path)
    _write(path, {"question_id": 1, "answer": "a"})
    with pytest.raises(DataError, match=r"res\.json: a results file must be a JSON list"):
        read_vqav2_predictions(path)
    _write(path, [{"image": "a.jpg", "answerable": 0}, {"image": "b.jpg", "answerable": True}])
    assert read_vizwiz_predictions(path) == {  # answerability-only entries; true/false count as 1/0
        "a.jpg": {"answer": None, "answerable": 0.0},
        "b.jpg": {"answer": None, "answerable": 1.0},
    }
    _write(path, [{"image": "a.jpg", "answer": "x"}, {"image": "b.jpg"}])
    with pytest.raises(DataError, match=r"entry 1 has neither an 'answer' nor an 'answerable' field"):
        read_vizwiz_predictions(path)
    _write(path, [{"image": "a.jpg", "answerable": "yes"}])
    with pytest.raises(DataError, match=r"entry 0 field 'answerable' must be a number"):
        read_vizwiz_predictions(path)
    with pytest.raises(DataError, match=r"nothing\.json: file not found"):
        read_vizwiz_predictions(tmp_path / "nothing.json")
