"""Karpathy split files, COCO caption annotations and results files: tiny official-format files under tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.captions import (
    locate,
    read_caption_results,
    read_coco_captions,
    read_karpathy,
    write_caption_results,
)
from kosmos_eval.generators.pictures import make_image


def _sentences(*raws: str) -> list[dict]:
    return [
        {"raw": raw, "tokens": raw.lower().rstrip(".").split(), "imgid": 0, "sentid": i} for i, raw in enumerate(raws)
    ]


def _coco_entry(cocoid: int, split: str, folder: str = "val2014", imgid: int = 0) -> dict:
    return {
        "filepath": folder,
        "filename": f"COCO_{folder}_{cocoid:012d}.jpg",
        "imgid": imgid,
        "split": split,
        "sentences": _sentences(f"A photo number {cocoid}.", f"Picture {cocoid} of a thing"),
        "cocoid": cocoid,
    }


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def coco_dir(tmp_path) -> Path:
    """A COCO data folder: dataset_coco.json at the top, images/val2014 and images/train2014."""
    entries = [
        _coco_entry(391895, "test"),
        _coco_entry(9, "train", "train2014"),
        _coco_entry(522418, "restval"),
        _coco_entry(184613, "val"),
        _coco_entry(60623, "test"),
        _coco_entry(25, "train", "train2014"),
    ]
    _write(tmp_path / "dataset_coco.json", {"images": entries, "dataset": "coco"})
    for entry in entries:
        folder = tmp_path / "images" / entry["filepath"]
        folder.mkdir(parents=True, exist_ok=True)
        make_image(entry["cocoid"] % 50).save(folder / entry["filename"])
    return tmp_path


def test_coco_test_split_sorted_with_relative_keys(coco_dir):
    location = locate(coco_dir, "coco")
    assert location.karpathy_file == coco_dir / "dataset_coco.json"
    assert location.image_root == coco_dir / "images"
    items = read_karpathy(location.karpathy_file, location.image_root, coco_dir, "test")
    assert [item.image_id for item in items] == [60623, 391895]  # sorted by cocoid, not file order
    first = items[0]
    assert first.file_name == "COCO_val2014_000000060623.jpg"
    assert first.image.key == "images/val2014/COCO_val2014_000000060623.jpg"
    assert first.references == ("A photo number 60623.", "Picture 60623 of a thing")  # raw, untokenised
    assert first.split == "test"
    assert first.image.load().size == (48, 40)


def test_coco_train_includes_restval(coco_dir):
    items = read_karpathy(coco_dir / "dataset_coco.json", coco_dir / "images", coco_dir, "train")
    assert [(item.image_id, item.split) for item in items] == [(9, "train"), (25, "train"), (522418, "restval")]
    assert items[0].image.key == "images/train2014/COCO_train2014_000000000009.jpg"
    restval = read_karpathy(coco_dir / "dataset_coco.json", coco_dir / "images", coco_dir, "restval")
    assert [item.image_id for item in restval] == [522418]


def test_flickr30k_ids_are_file_stems(tmp_path):
    entries = [
        {"filename": "1007129816.jpg", "imgid": 1, "split": "test", "sentences": _sentences("A man in an orange hat.")},
        {"filename": "1000092795.jpg", "imgid": 0, "split": "test", "sentences": _sentences("Two young guys.", "x")},
        {"filename": "101001624.jpg", "imgid": 2, "split": "train", "sentences": _sentences("A dog.")},
    ]
    _write(tmp_path / "karpathy" / "dataset_flickr30k.json", {"images": entries, "dataset": "flickr30k"})
    (tmp_path / "flickr30k-images").mkdir()
    for entry in entries:
        make_image(1).save(tmp_path / "flickr30k-images" / entry["filename"])
    location = locate(tmp_path, "flickr30k")
    assert location.karpathy_file == tmp_path / "karpathy" / "dataset_flickr30k.json"
    assert location.image_root == tmp_path / "flickr30k-images"
    items = read_karpathy(location.karpathy_file, location.image_root, tmp_path, "test")
    assert [item.image_id for item in items] == [1000092795, 1007129816]
    assert items[0].image.key == "flickr30k-images/1000092795.jpg"
    assert items[0].references == ("Two young guys.", "x")
    with pytest.raises(DataError, match=r"no images in split 'restval' \(splits present: test, train\)"):
        read_karpathy(location.karpathy_file, location.image_root, tmp_path, "restval")


def test_missing_image_is_reported_only_when_loaded(coco_dir):
    (coco_dir / "images" / "val2014" / "COCO_val2014_000000391895.jpg").unlink()
    items = read_karpathy(coco_dir / "dataset_coco.json", coco_dir / "images", coco_dir, "test")
    with pytest.raises(DataError, match=r"images/val2014/COCO_val2014_000000391895.jpg: image file not found"):
        items[1].image.load()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("cocoid"), r"images\[0\]: missing field 'cocoid'"),
        (lambda e: e.update(split="dev"), r"images\[0\]: field 'split' is 'dev', expected one of"),
        (lambda e: e.update(sentences=[]), r"images\[0\]: field 'sentences' is empty"),
        (lambda e: e["sentences"][1].pop("raw"), r"images\[0\].sentences\[1\]: missing field 'raw'"),
        (lambda e: e.update(filename=7), r"images\[0\]: field 'filename' must be str, got int"),
        (lambda e: e.update(cocoid=True), r"images\[0\]: field 'cocoid' must be int, got bool"),
    ],
)
def test_malformed_karpathy_entry_names_file_and_field(tmp_path, change, message):
    entry = _coco_entry(1, "test")
    change(entry)
    path = _write(tmp_path / "dataset_coco.json", {"images": [entry], "dataset": "coco"})
    (tmp_path / "images").mkdir()
    with pytest.raises(DataError, match=r"dataset_coco.json: " + message):
        read_karpathy(path, tmp_path / "images", tmp_path, "test")


def test_malformed_karpathy_files(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"bad.json: not valid JSON .*line 1, column 2"):
        read_karpathy(bad, images, tmp_path, "test")
    with pytest.raises(DataError, match=r"missing.json: file not found"):
        read_karpathy(tmp_path / "missing.json", images, tmp_path, "test")
    wrong = _write(tmp_path / "wrong.json", [1, 2])
    with pytest.raises(DataError, match=r"wrong.json: expected an object with an 'images' list"):
        read_karpathy(wrong, images, tmp_path, "test")
    flickr8k = _write(tmp_path / "f8k.json", {"images": [], "dataset": "flickr8k"})
    with pytest.raises(DataError, match=r"f8k.json: field 'dataset' is 'flickr8k'"):
        read_karpathy(flickr8k, images, tmp_path, "test")
    twice = _write(tmp_path / "twice.json", {"images": [_coco_entry(5, "test"), _coco_entry(5, "test")]})
    with pytest.raises(DataError, match=r"twice.json: images\[1\]: image id 5 appears twice"):
        read_karpathy(twice, images, tmp_path, "test")
    flickr = {"filename": "abc.jpg", "split": "test", "sentences": _sentences("x")}
    named = _write(tmp_path / "named.json", {"images": [flickr], "dataset": "flickr30k"})
    with pytest.raises(DataError, match=r"images\[0\]: Flickr30k file name 'abc.jpg' is not <digits>.jpg"):
        read_karpathy(named, images, tmp_path, "test")
    with pytest.raises(DataError, match=r"nowhere: image folder does not exist"):
        read_karpathy(twice, tmp_path / "nowhere", tmp_path, "test")
    with pytest.raises(UserError, match=r"unknown Karpathy split 'dev'"):
        read_karpathy(twice, images, tmp_path, "dev")


def test_locate_lists_what_it_looked_for(tmp_path):
    with pytest.raises(DataError, match=r"looked for dataset_coco.json, karpathy/dataset_coco.json, caption_datasets/"):
        locate(tmp_path, "coco")
    _write(tmp_path / "caption_datasets" / "dataset_coco.json", {"images": []})
    with pytest.raises(DataError, match=r"no coco images found \(looked for a val2014/ or train2014/ folder in"):
        locate(tmp_path, "coco")
    (tmp_path / "val2014").mkdir()  # images directly in the data folder
    assert locate(tmp_path, "coco").image_root == tmp_path
    with pytest.raises(UserError, match="unknown captioning dataset 'nocaps'"):
        locate(tmp_path, "nocaps")


def test_coco_caption_annotations_keep_file_order_and_skip_uncaptioned(tmp_path):
    images = [
        {"id": 42, "file_name": "COCO_val2014_000000000042.jpg"},
        {"id": 7, "file_name": "COCO_val2014_000000000007.jpg"},
        {"id": 3, "file_name": "COCO_val2014_000000000003.jpg"},  # no caption: skipped
    ]
    anns = [
        {"image_id": 7, "id": 1, "caption": "Second image, first caption."},
        {"image_id": 42, "id": 2, "caption": "First image."},
        {"image_id": 7, "id": 3, "caption": "Second image, second caption."},
    ]
    path = _write(tmp_path / "annotations" / "captions_val2014.json", {"images": images, "annotations": anns})
    (tmp_path / "val2014").mkdir()
    items = read_coco_captions(path, tmp_path / "val2014", tmp_path)
    assert [item.image_id for item in items] == [42, 7]
    assert items[1].references == ("Second image, first caption.", "Second image, second caption.")
    assert items[1].image.key == "val2014/COCO_val2014_000000000007.jpg"
    assert items[0].split == "val2014"

    orphan = _write(
        tmp_path / "orphan.json", {"images": images, "annotations": [*anns, {"image_id": 9, "caption": "x"}]}
    )
    with pytest.raises(DataError, match=r"orphan.json: annotations\[3\]: image_id 9 is not listed in 'images'"):
        read_coco_captions(orphan, tmp_path / "val2014", tmp_path)
    info = _write(tmp_path / "image_info.json", {"images": images, "annotations": []})
    with pytest.raises(DataError, match=r"image_info.json: 'annotations' is empty"):
        read_coco_captions(info, tmp_path / "val2014", tmp_path)
    nocap = _write(tmp_path / "nocap.json", {"images": images, "annotations": [{"image_id": 7, "caption": None}]})
    with pytest.raises(DataError, match=r"nocap.json: annotations\[0\]: field 'caption' must be str, got NoneType"):
        read_coco_captions(nocap, tmp_path / "val2014", tmp_path)


def test_results_round_trip(tmp_path):
    path = tmp_path / "run" / "captions_results.json"
    write_caption_results(path, [(391895, "A man riding a bike."), (60623, "Ünïcode — fine"), ("x1", "")])
    assert json.loads(path.read_text()) == [
        {"image_id": 391895, "caption": "A man riding a bike."},
        {"image_id": 60623, "caption": "Ünïcode — fine"},
        {"image_id": "x1", "caption": ""},
    ]
    assert read_caption_results(path) == {391895: "A man riding a bike.", 60623: "Ünïcode — fine", "x1": ""}
    assert not (path.parent / "captions_results.json.partial").exists()
    write_caption_results(path, [])
    assert read_caption_results(path) == {}
    with pytest.raises(ValueError, match="image_id 1 appears twice"):
        write_caption_results(path, [(1, "a"), (1, "b")])
    with pytest.raises(ValueError, match="caption for image 1 must be a string"):
        write_caption_results(path, [(1, None)])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"image_id": 1, "caption": "a"}, r"expected a list of"),
        ([{"image_id": 1, "caption": "a"}, ["x"]], r"entry 1: expected an object, got list"),
        ([{"caption": "a"}], r"entry 0: missing field 'image_id'"),
        ([{"image_id": 1}], r"entry 0: missing field 'caption'"),
        ([{"image_id": 1.5, "caption": "a"}], r"entry 0: field 'image_id' must be an int or a string, got float"),
        ([{"image_id": 1, "caption": 3}], r"entry 0: field 'caption' must be str, got int"),
        (
            [{"image_id": 1, "caption": "a"}, {"image_id": 2, "caption": "b"}, {"image_id": 1, "caption": "c"}],
            r"entry 2: image_id 1 already appeared in entry 0",
        ),
    ],
)
def test_results_errors_name_entry_and_field(tmp_path, data, message):
    path = _write(tmp_path / "results.json", data)
    with pytest.raises(DataError, match=r"results.json: " + message):
        read_caption_results(path)


def test_results_extra_fields_are_ignored(tmp_path):
    path = _write(tmp_path / "r.json", [{"image_id": 5, "caption": "a cat", "id": 1}])
    assert read_caption_results(path) == {5: "a cat"}
