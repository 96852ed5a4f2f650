"""The HatefulMemes release reader on a tiny release written here: exact items, id handling, every error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.hateful_memes import SPLITS, MemeItem, find_split_file, read_hateful_memes, release_root
from kosmos_eval.generators.pictures import make_image

MEMES = [
    {"id": 42953, "img": "img/42953.png", "label": 0, "text": "its their character not their color that matters"},
    {"id": 1235, "img": "img/01235.png", "label": 1, "text": "a hateful caption"},
    {"id": "08291", "img": "img/08291.png", "label": 0, "text": "white people is this a joke"},
    {"id": 16395, "img": "img/16395.png", "label": 1, "text": ""},
]


def _write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _release(folder: Path, rows: list[dict] = MEMES, split_file: str = "dev_seen.jsonl") -> Path:
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for index, row in enumerate(rows):
        make_image(index, (8, 6)).save(folder / row["img"])
    _write_jsonl(folder / split_file, rows)
    return folder


def test_reads_exact_items_in_file_order(tmp_path):
    _release(tmp_path)
    items = read_hateful_memes(tmp_path, "dev_seen")
    assert [(m.id, m.image.key, m.text, m.label) for m in items] == [
        ("42953", "img/42953.png", "its their character not their color that matters", 0),
        ("01235", "img/01235.png", "a hateful caption", 1),  # int 1235: the image stem keeps its zero
        ("08291", "img/08291.png", "white people is this a joke", 0),  # string ids are kept as written
        ("16395", "img/16395.png", "", 1),
    ]
    assert all(isinstance(m, MemeItem) for m in items)
    assert items[0].image.origin == str(tmp_path / "img" / "42953.png")
    assert items[1].image.load().size == (8, 6)


def test_int_and_string_copies_give_the_same_ids(tmp_path):
    as_ints = [{**row, "id": int(row["id"])} for row in MEMES]
    as_strings = [{**row, "id": Path(row["img"]).stem} for row in MEMES]
    _release(tmp_path / "a", as_ints)
    _release(tmp_path / "b", as_strings)
    ids_a = [m.id for m in read_hateful_memes(tmp_path / "a", "dev_seen")]
    ids_b = [m.id for m in read_hateful_memes(tmp_path / "b", "dev_seen")]
    assert ids_a == ids_b == ["42953", "01235", "08291", "16395"]


def test_int_id_not_matching_image_stem_is_not_padded(tmp_path):
    rows = [{"id": 7, "img": "img/meme_a.png", "label": 0, "text": "x"}, {**MEMES[0], "id": 12}]
    _release(tmp_path, rows)
    assert [m.id for m in read_hateful_memes(tmp_path, "dev_seen")] == ["7", "12"]  # 42953 != 12: plain decimal


def test_test_split_may_lack_labels_and_blank_lines_are_skipped(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "label"} for row in MEMES[:2]]
    _release(tmp_path, rows, "test_unseen.jsonl")
    (tmp_path / "test_unseen.jsonl").write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n")
    items = read_hateful_memes(tmp_path, "test_unseen")
    assert [(m.id, m.label) for m in items] == [("42953", None), ("01235", None)]


@pytest.mark.parametrize("subfolder", ["hateful_memes", "data"])
def test_root_may_be_the_parent_of_the_release(tmp_path, subfolder):
    _release(tmp_path / subfolder)
    assert release_root(tmp_path) == tmp_path / subfolder
    assert [m.id for m in read_hateful_memes(tmp_path, "dev_seen")][:1] == ["42953"]
    assert read_hateful_memes(tmp_path, "dev_seen")[0].image.key == "img/42953.png"  # relative to the release


def test_two_candidate_subfolders_are_ambiguous(tmp_path):
    _release(tmp_path / "hateful_memes")
    _release(tmp_path / "data")
    with pytest.raises(DataError, match=r"both hateful_memes/ and data/ hold"):
        release_root(tmp_path)


def test_folder_without_split_files(tmp_path):
    (tmp_path / "other").mkdir()
    with pytest.raises(DataError, match="no HatefulMemes split file"):
        read_hateful_memes(tmp_path, "dev_seen")
    with pytest.raises(DataError, match="does not exist"):
        read_hateful_memes(tmp_path / "nope", "dev_seen")


def test_find_split_file_lists_present_splits(tmp_path):
    _release(tmp_path, MEMES, "dev.jsonl")
    _write_jsonl(tmp_path / "train.jsonl", MEMES)
    assert find_split_file(tmp_path, "dev") == tmp_path / "dev.jsonl"
    with pytest.raises(DataError, match=r"no dev_seen.jsonl for split 'dev_seen'; present: train.jsonl, dev.jsonl"):
        find_split_file(tmp_path, "dev_seen")
    with pytest.raises(UserError, match="unknown HatefulMemes split 'val'"):
        find_split_file(tmp_path, "val")
    assert set(SPLITS) == {"train", "dev_seen", "dev_unseen", "dev", "test_seen", "test_unseen", "test"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": 1, "img": "img/42953.png"', r"line 2: not valid JSON"),
        ("[1, 2]", r"line 2: expected a JSON object, got list"),
        ('{"img": "img/42953.png", "label": 0, "text": "t"}', r"line 2: missing 'id' field"),
        ('{"id": 5, "label": 0, "text": "t"}', r"line 2: missing 'img' field"),
        ('{"id": 5, "img": "img/42953.png", "label": 0}', r"line 2: missing 'text' field"),
        ('{"id": 5, "img": "img/42953.png", "text": "t"}', r"line 2: missing 'label' field"),
        ('{"id": 5, "img": "img/42953.png", "label": 2, "text": "t"}', r"line 2: field 'label' must be 0 or 1, is 2"),
        ('{"id": 5, "img": "img/42953.png", "label": true, "text": "t"}', r"field 'label' must be 0 or 1, is True"),
        ('{"id": 5, "img": "img/42953.png", "label": "1", "text": "t"}', r"field 'label' must be 0 or 1, is '1'"),
        ('{"id": 5.0, "img": "img/42953.png", "label": 0, "text": "t"}', r"line 2: field 'id' has the wrong type"),
        ('{"id": "", "img": "img/42953.png", "label": 0, "text": "t"}', r"line 2: field 'id' is empty"),
        ('{"id": 5, "img": "../x.png", "label": 0, "text": "t"}', r"line 2: field 'img' must be a path inside"),
        ('{"id": 42953, "img": "img/42953.png", "label": 0, "text": "t"}', r"line 2: duplicate id '42953' \(first"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    _release(tmp_path, MEMES[:1])
    _write_jsonl(tmp_path / "dev_seen.jsonl", [MEMES[0], line])
    with pytest.raises(DataError, match=message) as info:
        read_hateful_memes(tmp_path, "dev_seen")
    assert str(tmp_path / "dev_seen.jsonl") in str(info.value)


def test_missing_images_report_first_and_count(tmp_path):
    _release(tmp_path)
    (tmp_path / "img" / "01235.png").unlink()
    (tmp_path / "img" / "16395.png").unlink()
    with pytest.raises(DataError, match=r"line 2: image .*01235.png not found \(2 of 4 images missing\)"):
        read_hateful_memes(tmp_path, "dev_seen")


def test_empty_split_file(tmp_path):
    _release(tmp_path)
    (tmp_path / "dev_seen.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no memes in the file"):
        read_hateful_memes(tmp_path, "dev_seen")
