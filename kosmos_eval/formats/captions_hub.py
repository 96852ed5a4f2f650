"""COCO and Flickr30k caption items from their hub copies (kosmos_eval/data/sources/{coco_caption,flickr30k}.yaml):
the same `CaptionItem`s the Karpathy reader (formats/captions.py) makes, with the same image ids (COCO's cocoid,
Flickr's integer file stem) and the same raw reference sentences in the same order, sorted by image id, so a
run scores and exports them alike.

COCO's copies split what the official release keeps in one place: one copy lists Karpathy's splits with the
sentences, another holds the val2014 pixels. They are joined on the image's file name; a Karpathy image the
image copy lacks cannot be evaluated, and how many were left out is returned so the run can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kosmos_eval.core.types import ImageInput
from kosmos_eval.data.hub_source import HubTable
from kosmos_eval.errors import DataError
from kosmos_eval.formats.captions import CaptionItem, ImageId

FLICKR_IMAGE_FOLDER = "flickr30k-images"  # where the official layout keeps the images (the image keys' prefix)


@dataclass(frozen=True)
class JoinedItems:
    """COCO items joined from the two copies, and the Karpathy images the image copy did not have."""

    items: list[CaptionItem]
    missing: list[str]  # file names, in the split list's order


def flickr_hub_items(table: HubTable) -> list[CaptionItem]:
    """umaru97/flickr30k_train_val_test rows as items. The id is the file name's integer stem, as the official
    reader makes it (the copy's img_id is another numbering)."""
    names = table.values("filename")
    sentences = table.values("references")
    items: dict[ImageId, CaptionItem] = {}
    for index, name in enumerate(names):
        stem = Path(name or "").stem
        if not (stem.isascii() and stem.isdigit()):
            raise DataError(f"{table.describe()}: row {index} has filename {name!r}, not <digits>.jpg")
        image_id = int(stem)
        image = table.image("image", index, f"{FLICKR_IMAGE_FOLDER}/{name}")
        _add(items, table, index, image_id, name, sentences[index], image)
    return [items[key] for key in sorted(items)]


def coco_hub_items(karpathy: HubTable, images: HubTable) -> JoinedItems:
    """yerevann/coco-karpathy rows (id, sentences, file name) with their pixels from lmms-lab/COCO-Caption, the
    row whose file_name equals the Karpathy filename. Only the image copy's file_name column is read here;
    pixels are decoded when a backend asks. No image joined at all is an error (another image set)."""
    rows = _rows_by_name(images)
    ids = karpathy.values("image_id")
    folders = karpathy.values("filepath")
    names = karpathy.values("filename")
    sentences = karpathy.values("references")
    items: dict[ImageId, CaptionItem] = {}
    missing: list[str] = []
    for index, image_id in enumerate(ids):
        row = rows.get(names[index])
        if row is None:
            missing.append(names[index])
            continue
        image = images.image("image", row, f"{folders[index]}/{names[index]}")
        _add(items, karpathy, index, image_id, names[index], sentences[index], image)
    if not items:
        raise DataError(
            f"{karpathy.describe()}: none of its {len(ids):,} images is in {images.describe()} (joined on file "
            f"name, e.g. {names[0] if names else '?'!r}); the image copy holds other images"
        )
    return JoinedItems([items[key] for key in sorted(items)], missing)


def lost_rows_note(joined: JoinedItems, karpathy: HubTable, images: HubTable) -> str:
    """What a summary says when the join left Karpathy images out (why the run is not the paper's split)."""
    total = len(joined.items) + len(joined.missing)
    return (
        f"{len(joined.missing):,} of the {total:,} Karpathy {karpathy.split} images not in hub {images.hub_id} "
        f"(split {images.copy.splits[images.split].hub}), left out (first: {joined.missing[0]})"
    )


def _rows_by_name(images: HubTable) -> dict[str, int]:
    rows: dict[str, int] = {}
    for index, name in enumerate(images.values("file_name")):
        if name in rows:
            raise DataError(f"{images.describe()}: rows {rows[name]} and {index} both hold file_name {name!r}")
        rows[name] = index
    return rows


def _add(
    items: dict[ImageId, CaptionItem],
    table: HubTable,
    index: int,
    image_id: ImageId,
    name: str,
    sentences: Sequence[str] | None,
    image: ImageInput,
) -> None:
    """One item, checked as the official reader checks an entry (a repeated id, an image without references)."""
    if image_id in items:
        raise DataError(f"{table.describe()}: row {index} repeats image id {image_id}")
    if not sentences:
        raise DataError(f"{table.describe()}: row {index} (image {image_id}) has no reference captions")
    items[image_id] = CaptionItem(image_id, image, name, tuple(sentences), table.split)
