"""Synthetic hub copies of HatefulMemes (the release's own files), ImageNet (webdataset tars) and CUB,
in their cards' schemas (see kosmos_eval/generators/hub_copies.py)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from PIL import Image

from kosmos_eval.generators.hub_copies import copy_writer, image_cell


@copy_writer("hateful_memes", None)
def hateful_memes_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """neuralcatcher/hateful_memes: the release's own files at the repo root (the split .jsonl files, img/, a
    README without a YAML header), not a table, so a download of it is the release's layout."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(sample.glob("*.jsonl")):
        shutil.copyfile(path, folder / path.name)
    shutil.copytree(sample / "img", folder / "img", dirs_exist_ok=True)
    (folder / "README.md").write_text("The Hateful Memes Challenge README (a synthetic copy for kosmos-eval's tests)\n")
    return {}


# the ImageNet-1k index (position among the sorted 1,000 WNIDs) of the bundled sample's classes: timm's `cls`
_IMAGENET_INDEX = {
    "n02206856": 309,
    "n02948072": 470,
    "n04254680": 805,
    "n04409515": 852,
    "n04507155": 879,
    "n06874185": 920,
    "n07734744": 947,
    "n07747607": 950,
    "n07749582": 951,
    "n09472597": 980,
}
_IMAGENET_SHARDS = 2
_IMAGENET_CARD = """---
license: other
license_name: imagenet
task_categories:
- image-classification
pretty_name: ImageNet
extra_gated_prompt: By clicking on "Access repository" below, you also agree to ImageNet Terms of Access.
tags:
- webdataset
---

A synthetic copy of timm/imagenet-1k-wds for kosmos-eval's tests: imagenet1k-validation-NN.tar shards.
"""


def _tar_member(tar: Any, name: str, data: bytes) -> None:

    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), 0
    tar.addfile(info, io.BytesIO(data))


@copy_writer("imagenet", None)
def imagenet_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """timm/imagenet-1k-wds: validation webdataset tars at the repo root, each sample's members together:
    <stem>.jpg, <stem>.cls (the class index as text) and <stem>.json ({filename: "<wnid>/<stem>.JPEG", label,
    width, height}); a card with a YAML header and no `configs:` (the shards are found by their names)."""

    folder.mkdir(parents=True, exist_ok=True)
    images = sorted((sample / "val").glob("n*/*.JPEG"))
    for shard in range(_IMAGENET_SHARDS):
        with tarfile.open(folder / f"imagenet1k-validation-{shard:02d}.tar", "w") as tar:
            for path in images[shard::_IMAGENET_SHARDS]:
                wnid, index = path.parent.name, _IMAGENET_INDEX[path.parent.name]
                with Image.open(path) as image:
                    width, height = image.size
                meta = {"filename": f"{wnid}/{path.name}", "label": index, "width": width, "height": height}
                _tar_member(tar, f"{path.stem}.jpg", path.read_bytes())
                _tar_member(tar, f"{path.stem}.cls", str(index).encode())
                _tar_member(tar, f"{path.stem}.json", json.dumps(meta).encode())
    (folder / "README.md").write_text(_IMAGENET_CARD, encoding="utf-8")
    return {}


def _cub_class_names() -> list[str]:
    """CUB's 200 class folder names, numbered as the card's ClassLabel is; the classes of the shipped pairs file
    carry their real names, the others stand-ins ("005.Class_005") this synthetic copy never needs."""
    from kosmos_eval.formats.cub_builder import default_pairs_file, read_pairs

    real = {
        int(c.cub_class.split(".")[0]): c.cub_class
        for pair in read_pairs(default_pairs_file())
        for c in pair.categories
        if c.cub_class
    }
    return [real.get(number, f"{number:03d}.Class_{number:03d}") for number in range(1, 201)]


def _cub_features() -> Any:
    import datasets

    return datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=_cub_class_names()),
            "bbox": datasets.Sequence(datasets.Value("float32")),
        }
    )


@copy_writer("cub_descriptions", _cub_features)
def cub_descriptions_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """bentrevett/caltech-ucsd-birds-200-2011: one row per CUB image (image bytes with the file name as its
    path, the class, a box). The sample's birds of CUB classes go to test; its penguins, which CUB lacks, stand
    in for another class (001) in train, so the copy also holds rows no pair draws from."""
    from kosmos_eval.formats.cub_builder import default_pairs_file, read_pairs

    names = _cub_class_names()
    classes = {c.name: c.cub_class for pair in read_pairs(default_pairs_file()) for c in pair.categories}
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    for line in (sample / "descriptions.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        cub_class = classes.get(record["label"])
        with Image.open(sample / record["image"]) as image:
            width, height = image.size
        cell = {**image_cell(sample / record["image"]), "path": Path(record["image"]).name}
        row = {"image": cell, "label": names.index(cub_class) if cub_class else 0, "bbox": [1, 1, width, height]}
        splits["test" if cub_class else "train"].append(row)
    return splits
