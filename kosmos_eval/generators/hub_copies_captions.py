"""Synthetic hub copies of COCO captions (the Karpathy split list and the copy holding the images) and Flickr30k,
in their cards' schemas (see kosmos_eval/generators/hub_copies.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from kosmos_eval.generators.hub_copies import copy_writer, image_cell, write_card_repo


def _string_list() -> Any:
    import datasets

    list_of = getattr(datasets, "List", None)  # datasets >= 4; before, Sequence spelled a list feature
    return list_of(datasets.Value("string")) if list_of is not None else datasets.Sequence(datasets.Value("string"))


def _coco_karpathy_features() -> Any:
    """yerevann/coco-karpathy's parquet columns in their order (its card has no dataset_info): the sentences are
    the raw reference strings, the url where COCO serves the image; no pixels."""
    import datasets

    list_of = getattr(datasets, "List", None)
    ints = list_of(datasets.Value("int64")) if list_of is not None else datasets.Sequence(datasets.Value("int64"))
    return datasets.Features(
        {
            "filepath": datasets.Value("string"),
            "sentids": ints,
            "filename": datasets.Value("string"),
            "imgid": datasets.Value("int64"),
            "split": datasets.Value("string"),
            "sentences": _string_list(),
            "cocoid": datasets.Value("int64"),
            "url": datasets.Value("string"),
        }
    )


def _coco_caption_images_features() -> Any:
    """lmms-lab/COCO-Caption's columns (as lmms-eval's coco2014 task and users' code read them): question_id is
    the image's file name, answer its reference captions."""
    import datasets

    return datasets.Features(
        {
            "question_id": datasets.Value("string"),
            "image": datasets.Image(),
            "question": datasets.Value("string"),
            "answer": _string_list(),
            "id": datasets.Value("int64"),
            "license": datasets.Value("int8"),
            "file_name": datasets.Value("string"),
            "coco_url": datasets.Value("string"),
            "height": datasets.Value("int32"),
            "width": datasets.Value("int32"),
            "date_captured": datasets.Value("string"),
        }
    )


COCO_IMAGE_COPY_FOLDER = "COCO-Caption"  # kosmos_eval/tasks/captioning.py reads the image copy from here


@copy_writer("coco_caption", _coco_karpathy_features)
def coco_caption_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The pair coco_caption joins: yerevann/coco-karpathy's four splits (returned, written into `folder`), and
    lmms-lab/COCO-Caption's val split (every val2014 image of the sample) written into folder/COCO-Caption."""
    entries = json.loads((sample / "dataset_coco.json").read_text())["images"]
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "restval": [], "validation": [], "test": []}
    images = []
    for entry in entries:
        url = f"http://images.cocodataset.org/{entry['filepath']}/{entry['filename']}"
        raw = [sentence["raw"] for sentence in entry["sentences"]]
        hub_split = "validation" if entry["split"] == "val" else entry["split"]
        splits[hub_split].append(
            {
                "filepath": entry["filepath"],
                "sentids": entry["sentids"],
                "filename": entry["filename"],
                "imgid": entry["imgid"],
                "split": entry["split"],
                "sentences": raw,
                "cocoid": entry["cocoid"],
                "url": url,
            }
        )
        if entry["filepath"] != "val2014":
            continue
        path = sample / entry["filepath"] / entry["filename"]
        with Image.open(path) as picture:
            width, height = picture.size
        images.append(
            {
                "question_id": entry["filename"],
                "image": image_cell(path),
                "question": "Provide a one-sentence caption for the provided image.",
                "answer": raw,
                "id": entry["cocoid"],
                "license": 1,
                "file_name": entry["filename"],
                "coco_url": url,
                "height": height,
                "width": width,
                "date_captured": "2013-11-14 16:28:13",
            }
        )
    write_card_repo(folder / COCO_IMAGE_COPY_FOLDER, _coco_caption_images_features(), {"val": images})
    return splits


def _flickr30k_features() -> Any:
    """umaru97/flickr30k_train_val_test's dataset_info, in its order (sentids and img_id are strings there)."""
    import datasets

    return datasets.Features(
        {
            "image": datasets.Image(),
            "caption": _string_list(),
            "sentids": _string_list(),
            "split": datasets.Value("string"),
            "img_id": datasets.Value("string"),
            "filename": datasets.Value("string"),
        }
    )


@copy_writer("flickr30k", _flickr30k_features)
def flickr30k_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """umaru97/flickr30k_train_val_test: Karpathy's train / val / test, the raw sentences as `caption`."""
    entries = json.loads((sample / "dataset_flickr30k.json").read_text())["images"]
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
    for entry in entries:
        splits[entry["split"]].append(
            {
                "image": image_cell(sample / "flickr30k-images" / entry["filename"]),
                "caption": [sentence["raw"] for sentence in entry["sentences"]],
                "sentids": [str(sentid) for sentid in entry["sentids"]],
                "split": entry["split"],
                "img_id": str(entry["imgid"]),
                "filename": entry["filename"],
            }
        )
    return splits


# Raven (kosmos_eval/data/sources/raven.yaml) and WebSRC (kosmos_eval/data/sources/websrc.yaml)
