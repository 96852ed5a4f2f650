"""Readers and writers for image captioning data: Karpathy split files, COCO caption annotations, results files.

KOSMOS-1 reports COCO and Flickr30k captioning on the Karpathy test splits. Those splits are defined by
Karpathy's `dataset_coco.json` / `dataset_flickr30k.json` (from `caption_datasets.zip`), which hold the
reference sentences and the split of every image; the images themselves come from the datasets' own archives.
Predictions are exchanged in the official COCO results format, `[{"image_id": ..., "caption": ...}]`, so that a
run's predictions can be re-scored with COCOEvalCap itself.

Image ids: COCO uses the `cocoid` (an int, the id of captions_val2014.json); Flickr30k uses the integer stem of
the file name (`1000092795.jpg` -> 1000092795), the id other Flickr30k results files use. The exact on-disk
layouts are described in docs/metrics/captioning.md and at `locate`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kosmos_eval.core.files import write_text_atomic
from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.common import DataFolder, load_json

ImageId = int | str

DATASETS = ("coco", "flickr30k")
# Karpathy's "train" in papers (113,287 COCO images) is the file's "train" plus "restval".
SPLIT_MEMBERS = {"train": ("train", "restval"), "restval": ("restval",), "val": ("val",), "test": ("test",)}
FILE_SPLITS = ("train", "restval", "val", "test")


@dataclass(frozen=True)
class CaptionItem:
    """One image with its reference captions. `split` is the image's own split in the file ("restval" stays
    "restval" when it was read as part of "train")."""

    image_id: ImageId
    image: ImageInput
    file_name: str
    references: tuple[str, ...]
    split: str


@dataclass(frozen=True)
class CaptionDataLocation:
    karpathy_file: Path
    image_root: Path


def _image_input(full_path: Path, data_root: Path) -> ImageInput:
    """Keyed by the path relative to the data folder (`full_path` is inside it: `DataFolder` made it)."""
    return ImageInput.from_path(full_path, key=full_path.relative_to(data_root).as_posix())


def _check_image_root(image_root: Path, data_root: Path) -> None:
    if not image_root.is_dir():
        raise DataError(f"{image_root}: image folder does not exist (see docs/metrics/captioning.md for the layout)")
    try:
        image_root.relative_to(data_root)
    except ValueError:
        raise DataError(f"{image_root}: image folder must lie inside the data folder {data_root}") from None


def _field(entry: dict, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in entry:
        raise DataError(f"{where}: missing field '{name}'")
    value = entry[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(f"{where}: field '{name}' must be {expected}, got {type(value).__name__}")
    return value


def _karpathy_dataset(data: dict, entries: list, path: Path) -> str:
    """The file's "dataset" field; files without one are told apart by COCO's `cocoid`."""
    dataset = data.get("dataset")
    if dataset is None:
        first = entries[0] if entries and isinstance(entries[0], dict) else {}
        return "coco" if "cocoid" in first else "flickr30k"
    if dataset not in DATASETS:
        raise DataError(f"{path}: field 'dataset' is {dataset!r}; supported are {', '.join(DATASETS)}")
    return dataset


def read_karpathy(path: Path, image_root: Path, data_root: Path, split: str) -> list[CaptionItem]:
    """Images of one Karpathy split with their raw reference sentences, sorted by image id.

    `split` is "test", "val", "restval" or "train"; "train" means the file's "train" and "restval" images
    together (Karpathy's 113,287-image COCO training set). Image paths are `image_root/filepath/filename` for
    COCO (filepath is "train2014" or "val2014") and `image_root/filename` for Flickr30k. Images are not opened
    here: a missing image is reported when it is first loaded. The image root itself must exist.
    """
    if split not in SPLIT_MEMBERS:
        raise UserError(f"unknown Karpathy split {split!r}; choose one of {', '.join(SPLIT_MEMBERS)}")
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError(f"{path}: expected an object with an 'images' list (Karpathy dataset_*.json format)")
    entries = data["images"]
    dataset = _karpathy_dataset(data, entries, path)
    _check_image_root(image_root, data_root)
    folder = DataFolder(data_root)
    wanted = SPLIT_MEMBERS[split]
    items: dict[ImageId, CaptionItem] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: images[{index}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected an object, got {type(entry).__name__}")
        entry_split = _field(entry, "split", str, where)
        if entry_split not in FILE_SPLITS:
            raise DataError(f"{where}: field 'split' is {entry_split!r}, expected one of {', '.join(FILE_SPLITS)}")
        if entry_split not in wanted:
            continue
        item = _karpathy_item(entry, where, dataset, image_root, folder)
        if item.image_id in items:
            raise DataError(f"{where}: image id {item.image_id} appears twice in split {split!r}")
        items[item.image_id] = item
    if not items:
        present = sorted({e.get("split") for e in entries if isinstance(e, dict) and isinstance(e.get("split"), str)})
        raise DataError(f"{path}: no images in split {split!r} (splits present: {', '.join(present) or 'none'})")
    return [items[key] for key in sorted(items)]


def _karpathy_item(entry: dict, where: str, dataset: str, image_root: Path, folder: DataFolder) -> CaptionItem:
    filename = _field(entry, "filename", str, where)
    name = folder.relative(filename, where, "filename")
    if dataset == "coco":
        image_id: ImageId = _field(entry, "cocoid", int, where)
        subfolder = folder.relative(_field(entry, "filepath", str, where), where, "filepath", may_be_empty=True)
        full_path = folder.resolve((subfolder / name).as_posix(), where, "filepath/filename", base=image_root)
    else:
        stem = Path(filename).stem
        if not (stem.isascii() and stem.isdigit()):
            raise DataError(f"{where}: Flickr30k file name {filename!r} is not <digits>.jpg (e.g. 1000092795.jpg)")
        image_id = int(stem)
        full_path = folder.resolve(name.as_posix(), where, "filename", base=image_root)
    sentences = _field(entry, "sentences", list, where)
    if not sentences:
        raise DataError(f"{where}: field 'sentences' is empty; every image needs reference captions")
    references = []
    for i, sentence in enumerate(sentences):
        if not isinstance(sentence, dict):
            raise DataError(f"{where}.sentences[{i}]: expected an object with 'raw', got {type(sentence).__name__}")
        references.append(_field(sentence, "raw", str, f"{where}.sentences[{i}]"))
    return CaptionItem(image_id, _image_input(full_path, folder.root), filename, tuple(references), entry["split"])


def read_coco_captions(annotations: Path, image_dir: Path, data_root: Path) -> list[CaptionItem]:
    """Images and captions of a COCO-format caption annotation file (e.g. captions_val2014.json).

    Items keep the order of the file's "images" list, the order COCOEvalCap scores them in; each item's
    references keep the order of "annotations". Images without any caption are skipped (they cannot be
    scored, and COCOEvalCap fails on them); a caption whose image_id is not among "images" is an error.
    Image paths are `image_dir/file_name`. `split` is the file's stem without "captions_" ("val2014").
    """
    data = load_json(annotations)
    if not isinstance(data, dict):
        raise DataError(f"{annotations}: expected an object with 'images' and 'annotations' (COCO caption format)")
    images = _field(data, "images", list, str(annotations))
    anns = _field(data, "annotations", list, str(annotations))
    if not anns:
        raise DataError(f"{annotations}: 'annotations' is empty; this is not a caption annotation file")
    _check_image_root(image_dir, data_root)
    folder = DataFolder(data_root)
    files: dict[ImageId, tuple[str, Path]] = {}
    for index, image in enumerate(images):
        where = f"{annotations}: images[{index}]"
        if not isinstance(image, dict):
            raise DataError(f"{where}: expected an object, got {type(image).__name__}")
        image_id = _field(image, "id", (int, str), where)
        if image_id in files:
            raise DataError(f"{where}: image id {image_id} appears twice")
        name = _field(image, "file_name", str, where)
        files[image_id] = name, folder.resolve(name, where, "file_name", base=image_dir)
    captions: dict[ImageId, list[str]] = {}
    for index, ann in enumerate(anns):
        where = f"{annotations}: annotations[{index}]"
        if not isinstance(ann, dict):
            raise DataError(f"{where}: expected an object, got {type(ann).__name__}")
        image_id = _field(ann, "image_id", (int, str), where)
        if image_id not in files:
            raise DataError(f"{where}: image_id {image_id} is not listed in 'images'")
        captions.setdefault(image_id, []).append(_field(ann, "caption", str, where))
    split = annotations.stem.removeprefix("captions_")
    return [
        CaptionItem(image_id, _image_input(path, data_root), name, tuple(captions[image_id]), split)
        for image_id, (name, path) in files.items()
        if image_id in captions
    ]


def _karpathy_candidates(data_dir: Path, dataset: str) -> list[Path]:
    name = f"dataset_{dataset}.json"
    return [data_dir / name] + [data_dir / sub / name for sub in ("karpathy", "caption_datasets", "annotations")]


def _image_root_candidates(data_dir: Path, dataset: str) -> list[Path]:
    if dataset == "coco":
        return [data_dir / "images", data_dir]
    return [data_dir / "flickr30k-images", data_dir / "images", data_dir]


def _holds_images(folder: Path, dataset: str) -> bool:
    if not folder.is_dir():
        return False
    if dataset == "coco":
        return (folder / "val2014").is_dir() or (folder / "train2014").is_dir()
    with os.scandir(folder) as entries:
        return any(entry.name.lower().endswith(".jpg") and entry.is_file() for entry in entries)


def locate(data_dir: Path, dataset: str) -> CaptionDataLocation:
    """The Karpathy split file and the image root in a captioning data folder.

    The split file is looked for as `dataset_<dataset>.json` in `data_dir`, then in its `karpathy/`,
    `caption_datasets/` and `annotations/` subfolders. The image root is, for COCO, the first of
    `data_dir/images` and `data_dir` that holds `val2014/` or `train2014/`; for Flickr30k, the first of
    `data_dir/flickr30k-images`, `data_dir/images` and `data_dir` that directly holds .jpg files.
    """
    if dataset not in DATASETS:
        raise UserError(f"unknown captioning dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data folder does not exist")
    files = _karpathy_candidates(data_dir, dataset)
    karpathy = next((p for p in files if p.is_file()), None)
    if karpathy is None:
        looked = ", ".join(str(p.relative_to(data_dir)) for p in files)
        raise DataError(
            f"{data_dir}: no Karpathy split file (looked for {looked}); get dataset_{dataset}.json from "
            "Karpathy's caption_datasets.zip (see docs/metrics/captioning.md)"
        )
    roots = _image_root_candidates(data_dir, dataset)
    image_root = next((p for p in roots if _holds_images(p, dataset)), None)
    if image_root is None:
        what = "a val2014/ or train2014/ folder" if dataset == "coco" else ".jpg files"
        looked = ", ".join(str(p) for p in roots)
        raise DataError(f"{data_dir}: no {dataset} images found (looked for {what} in {looked})")
    return CaptionDataLocation(karpathy, image_root)


def _check_image_id(value: Any, where: str) -> ImageId:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DataError(f"{where}: field 'image_id' must be an int or a string, got {type(value).__name__}")
    return value


def write_caption_results(path: Path, results: Iterable[tuple[ImageId, str]]) -> None:
    """Write predictions in the official results format, one entry per line, atomically.

    Raises ValueError on a duplicate image id or a caption that is not a string: such a file could not be
    scored by COCOEvalCap either.
    """
    entries: list[dict[str, Any]] = []
    seen: set[ImageId] = set()
    for image_id, caption in results:
        if isinstance(image_id, bool) or not isinstance(image_id, (int, str)):
            raise ValueError(f"image_id must be an int or a string, got {image_id!r}")
        if not isinstance(caption, str):
            raise ValueError(f"caption for image {image_id} must be a string, got {type(caption).__name__}")
        if image_id in seen:
            raise ValueError(f"image_id {image_id} appears twice in the results")
        seen.add(image_id)
        entries.append({"image_id": image_id, "caption": caption})
    body = ",\n".join(json.dumps(entry, ensure_ascii=False) for entry in entries)
    text = f"[\n{body}\n]\n" if entries else "[]\n"
    write_text_atomic(path, text)


def read_caption_results(path: Path) -> dict[ImageId, str]:
    """Predictions from an official results file: image id -> caption, in file order.

    Extra fields (such as "id") are ignored; a missing or mistyped field and a repeated image id are errors
    naming the entry.
    """
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of {{'image_id': ..., 'caption': ...}} objects")
    predictions: dict[ImageId, str] = {}
    first_index: dict[ImageId, int] = {}
    for index, entry in enumerate(data):
        where = f"{path}: entry {index}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected an object, got {type(entry).__name__}")
        if "image_id" not in entry:
            raise DataError(f"{where}: missing field 'image_id'")
        image_id = _check_image_id(entry["image_id"], where)
        caption = _field(entry, "caption", str, where)
        if image_id in predictions:
            raise DataError(f"{where}: image_id {image_id} already appeared in entry {first_index[image_id]}")
        predictions[image_id] = caption
        first_index[image_id] = index
    return predictions
