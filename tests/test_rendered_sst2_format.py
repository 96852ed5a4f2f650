"""Rendered SST-2 readers: the CLIP release folders, save_to_disk folders and hub copies (never the network)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import datasets
import pytest
from PIL import Image

from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.rendered_sst2 import (
    LABELS,
    detect_layout,
    load_rendered_sst2_hub,
    read_rendered_sst2,
)

# Two images per class per split; each file's colour is unique so pixels show which file an item opened.
CLIP_FILES = {
    "train": {"negative": ["n2", "n1"], "positive": ["p1", "p2"]},
    "valid": {"negative": ["v0", "v1"], "positive": ["v2", "v3"]},
    "test": {"negative": ["10", "9"], "positive": ["a", "b"]},
}


def _colour(index: int) -> tuple[int, int, int]:
    return (index * 40 % 256, 255 - index * 30 % 256, index * 7 % 256)


def _png(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 4), colour).save(path)


@pytest.fixture
def clip_parent(tmp_path) -> Path:
    """<tmp>/rendered-sst2/{train,valid,test}/{negative,positive}/*.png plus non-image clutter."""
    base = tmp_path / "rendered-sst2"
    index = 0
    for folder, classes in CLIP_FILES.items():
        for label, stems in classes.items():
            for stem in stems:
                _png(base / folder / label / f"{stem}.png", _colour(index))
                index += 1
    (base / "test" / "negative" / ".DS_Store").write_bytes(b"\0")
    (base / "test" / "positive" / "notes.txt").write_text("not an image")
    return tmp_path


def test_clip_test_split_ids_labels_and_keys(clip_parent):
    items = read_rendered_sst2(clip_parent / "rendered-sst2", "test")
    # Sorted by id as strings: "negative/10" < "negative/9" (character '1' < '9'); negatives before positives.
    # .DS_Store and notes.txt are not images, so they are skipped.
    assert [item.id for item in items] == ["negative/10", "negative/9", "positive/a", "positive/b"]
    assert [item.label for item in items] == [0, 0, 1, 1]
    assert [item.image.key for item in items] == [
        "test/negative/10.png",
        "test/negative/9.png",
        "test/positive/a.png",
        "test/positive/b.png",
    ]
    # test/negative/10.png was the 9th file written (train 4 + valid 4 -> index 8): colour (64, 15, 56).
    assert items[0].image.load().getpixel((0, 0)) == _colour(8) == (64, 15, 56)


def test_clip_parent_root_and_other_splits(clip_parent):
    from_parent = read_rendered_sst2(clip_parent, "test")
    from_folder = read_rendered_sst2(clip_parent / "rendered-sst2", "test")
    # Keys are relative to the rendered-sst2 folder, so both roots give identical items.
    assert [(i.id, i.label, i.image.key) for i in from_parent] == [(i.id, i.label, i.image.key) for i in from_folder]
    assert detect_layout(clip_parent) == detect_layout(clip_parent / "rendered-sst2") == "clip-folders"
    validation = read_rendered_sst2(clip_parent, "validation")
    assert [(i.id, i.label) for i in validation] == [
        ("negative/v0", 0),
        ("negative/v1", 0),
        ("positive/v2", 1),
        ("positive/v3", 1),
    ]
    assert validation[0].image.key == "valid/negative/v0.png"
    assert [i.id for i in read_rendered_sst2(clip_parent, "valid")] == [i.id for i in validation]
    assert [i.id for i in read_rendered_sst2(clip_parent, "train")] == [
        "negative/n1",
        "negative/n2",
        "positive/p1",
        "positive/p2",
    ]


def test_clip_errors(clip_parent, tmp_path):
    base = clip_parent / "rendered-sst2"
    with pytest.raises(UserError, match="unknown split 'dev2'; use one of train, validation, test"):
        read_rendered_sst2(clip_parent, "dev2")
    for image in (base / "valid" / "negative").iterdir():
        image.unlink()
    with pytest.raises(DataError, match=r"valid/negative: no images"):
        read_rendered_sst2(clip_parent, "validation")
    (base / "valid" / "negative").rmdir()
    with pytest.raises(DataError, match=r"valid/negative: class folder missing"):
        read_rendered_sst2(clip_parent, "validation")
    for path in sorted((base / "valid").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (base / "valid").rmdir()
    with pytest.raises(DataError, match=r"no folder 'valid' for split 'validation' \(found: test, train\)"):
        read_rendered_sst2(clip_parent, "validation")
    (base / "test" / "neutral").mkdir()
    with pytest.raises(DataError, match="unexpected class folder"):
        read_rendered_sst2(clip_parent, "test")
    _png(base / "train" / "negative" / "n1.jpg", (0, 0, 0))
    with pytest.raises(DataError, match="two images share the name 'n1'"):
        read_rendered_sst2(clip_parent, "train")
    (tmp_path / "empty").mkdir()
    assert detect_layout(tmp_path / "empty") is None
    with pytest.raises(DataError, match="not a Rendered SST-2 folder"):
        read_rendered_sst2(tmp_path / "empty", "test")
    with pytest.raises(DataError, match="folder does not exist"):
        read_rendered_sst2(tmp_path / "missing", "test")


def _plain_dataset(names: list[str]) -> datasets.Dataset:
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    images = [Image.new("RGB", (5, 3), (10, 20, 30)), Image.new("RGB", (5, 3), (200, 100, 0))]
    return datasets.Dataset.from_dict({"image": images, "label": [1, 0]}, features=features)


def test_saved_dataset_round_trip(tmp_path):
    _plain_dataset(["negative", "positive"]).save_to_disk(str(tmp_path / "single"))
    assert detect_layout(tmp_path / "single") == "saved-dataset"
    items = read_rendered_sst2(tmp_path / "single", "test")
    # No key column -> ids are row indices; keys are "<split>/<id>"; labels as stored (1, 0).
    assert [(i.id, i.image.key, i.label) for i in items] == [("0", "test/0", 1), ("1", "test/1", 0)]
    assert items[1].image.load().getpixel((4, 2)) == (200, 100, 0)
    assert items[0].image.load().size == (5, 3)


def test_saved_dataset_dict_and_split_folder(tmp_path):
    dataset = _plain_dataset(["negative", "positive"])
    datasets.DatasetDict({"train": dataset, "valid": dataset}).save_to_disk(str(tmp_path / "dict"))
    validation = read_rendered_sst2(tmp_path / "dict", "validation")  # hub name "valid" maps to our "validation"
    assert [(i.id, i.image.key, i.label) for i in validation] == [("0", "validation/0", 1), ("1", "validation/1", 0)]
    with pytest.raises(DataError, match=r"has no split 'test' \(it has train, valid\)"):
        read_rendered_sst2(tmp_path / "dict", "test")
    dataset.save_to_disk(str(tmp_path / "bysplit" / "test"))
    assert detect_layout(tmp_path / "bysplit") == "saved-dataset"
    assert [i.label for i in read_rendered_sst2(tmp_path / "bysplit", "test")] == [1, 0]
    with pytest.raises(DataError, match=r"no saved dataset for split 'train' .*found: test"):
        read_rendered_sst2(tmp_path / "bysplit", "train")


def test_class_label_names_map_by_name(tmp_path):
    # Stored indices [1, 0] with names [positive, negative] mean negative, positive -> our labels 0, 1.
    _plain_dataset(["positive", "negative"]).save_to_disk(str(tmp_path / "swapped"))
    assert [i.label for i in read_rendered_sst2(tmp_path / "swapped", "test")] == [0, 1]
    _plain_dataset(["neg", "pos"]).save_to_disk(str(tmp_path / "odd"))
    with pytest.raises(DataError, match=r"has classes \['neg', 'pos'\]"):
        read_rendered_sst2(tmp_path / "odd", "test")


def _webdataset_like() -> datasets.Dataset:
    """The columns the datasets WebDataset builder gives clip-benchmark/wds_renderedsst2: png, cls, __key__."""
    features = datasets.Features(
        {
            "cls": datasets.Value("int64"),
            "png": datasets.Image(),
            "__key__": datasets.Value("string"),
            "__url__": datasets.Value("string"),
        }
    )
    images = [Image.new("RGB", (3, 3), (i * 50, 0, 0)) for i in range(3)]
    rows = {"cls": [0, 1, 1], "png": images, "__key__": ["s000", "s001", "s002"], "__url__": ["0.tar"] * 3}
    return datasets.Dataset.from_dict(rows, features=features)


def _fake_load_dataset(monkeypatch, answers: dict[str, object]) -> list[tuple]:
    """datasets.load_dataset answering per split from `answers` (a Dataset or an exception); unknown splits
    fail as datasets does. Returns the list of recorded calls."""
    calls: list[tuple] = []

    def load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, split))
        answer = answers.get(split, ValueError(f'Unknown split "{split}". Should be one of {list(answers)}.'))
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_hub_webdataset_schema(monkeypatch):
    calls = _fake_load_dataset(monkeypatch, {"train": _webdataset_like(), "test": _webdataset_like()})
    items = load_rendered_sst2_hub("clip-benchmark/wds_renderedsst2", "test")
    assert calls == [("clip-benchmark/wds_renderedsst2", "test")]
    # ids come from __key__; cls 0/1 index LABELS (negative, positive).
    assert [(i.id, i.image.key, LABELS[i.label]) for i in items] == [
        ("s000", "test/s000", "negative"),
        ("s001", "test/s001", "positive"),
        ("s002", "test/s002", "positive"),
    ]
    assert items[2].image.load().getpixel((1, 1)) == (100, 0, 0)  # third image: red = 2 * 50


def test_hub_split_fallbacks_and_errors(monkeypatch):
    calls = _fake_load_dataset(monkeypatch, {"train": _webdataset_like(), "test": _webdataset_like()})
    with pytest.raises(DataError) as error:
        load_rendered_sst2_hub("clip-benchmark/wds_renderedsst2", "validation")
    message = str(error.value)
    assert "\n" not in message
    assert "has no split 'validation' (tried validation, valid, val, dev" in message
    assert [split for _, split in calls] == ["validation", "valid", "val", "dev"]

    _fake_load_dataset(monkeypatch, {"valid": _webdataset_like()})
    assert [i.id for i in load_rendered_sst2_hub("some/copy", "validation")] == ["s000", "s001", "s002"]

    offline = ConnectionError("Couldn't reach 'clip-benchmark/wds_renderedsst2' on the Hub (OfflineModeIsEnabled)")
    _fake_load_dataset(monkeypatch, {"test": offline})
    with pytest.raises(DataError) as error:
        load_rendered_sst2_hub("clip-benchmark/wds_renderedsst2", "test")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("Rendered SST-2: cannot load hub clip-benchmark/wds_renderedsst2 (split test): ")
    assert "the hub cannot be reached and no cached copy exists; run once online" in message

    no_image = datasets.Dataset.from_dict({"sentence": ["good"], "label": [1]})
    _fake_load_dataset(monkeypatch, {"test": no_image})
    with pytest.raises(DataError, match=r"no image column .*has sentence, label"):
        load_rendered_sst2_hub("glue-like/sst2", "test")


def test_unlabelled_rows_and_duplicate_keys(monkeypatch):
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    image = Image.new("RGB", (2, 2))
    unlabelled = datasets.Dataset.from_dict({"image": [image], "label": [-1]}, features=features)
    _fake_load_dataset(monkeypatch, {"test": unlabelled})
    with pytest.raises(DataError, match=r"row 0: 'label' is -1; expected 0 \(negative\) or 1 \(positive\)"):
        load_rendered_sst2_hub("x/y", "test")
    # Repeated __key__ values would not be unique ids, so the row index is used instead.
    duplicated = datasets.Dataset.from_dict(
        {"image": [image, image], "label": ["Positive", "negative"], "__key__": ["k", "k"]}
    )
    _fake_load_dataset(monkeypatch, {"test": duplicated})
    assert [(i.id, i.label) for i in load_rendered_sst2_hub("x/y", "test")] == [("0", 1), ("1", 0)]


def test_local_webdataset_through_real_loader(tmp_path, monkeypatch):
    """The real datasets WebDataset builder on tar shards laid out like the clip-benchmark repository."""

    def shard(path: Path, rows: list[tuple[str, int, tuple[int, int, int]]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w") as tar:
            for key, cls, colour in rows:
                png = io.BytesIO()
                Image.new("RGB", (4, 3), colour).save(png, format="PNG")
                for name, data in ((f"{key}.cls", str(cls).encode()), (f"{key}.png", png.getvalue())):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))

    shard(tmp_path / "repo" / "test" / "0.tar", [("s0000000", 0, (255, 0, 0)), ("s0000001", 1, (0, 0, 255))])
    shard(tmp_path / "repo" / "train" / "0.tar", [("s0000000", 1, (0, 255, 0))])
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    items = load_rendered_sst2_hub(str(tmp_path / "repo"), "test")
    assert [(i.id, i.label) for i in items] == [("s0000000", 0), ("s0000001", 1)]
    assert items[1].image.load().getpixel((3, 2)) == (0, 0, 255)
    with pytest.raises(DataError, match="has no split 'validation'"):
        load_rendered_sst2_hub(str(tmp_path / "repo"), "validation")
    # A split saved with save_to_disk remembers its name; reading it as another split is refused.
    datasets.load_dataset(str(tmp_path / "repo"), split="test").save_to_disk(str(tmp_path / "saved"))
    assert [i.id for i in read_rendered_sst2(tmp_path / "saved", "test")] == ["s0000000", "s0000001"]
    with pytest.raises(DataError, match="this saved dataset is the 'test' split, not 'train'"):
        read_rendered_sst2(tmp_path / "saved", "train")


def test_images_decode_only_when_opened(monkeypatch):
    # A corrupt image does not stop the read (nothing is decoded then); opening it is a DataError naming the row.
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    broken = datasets.Dataset.from_dict({"image": [{"bytes": b"not a png", "path": None}], "label": [0]}, features)
    _fake_load_dataset(monkeypatch, {"test": broken})
    (item,) = load_rendered_sst2_hub("x/y", "test")
    assert (item.id, item.label) == ("0", 0)
    with pytest.raises(DataError, match=r"^hub x/y \(split test\) row 0: cannot read image"):
        item.image.load()
