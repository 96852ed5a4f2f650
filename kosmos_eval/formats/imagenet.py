"""Reader for the ILSVRC2012 (ImageNet-1k) validation set, used for zero-shot classification (KOSMOS-1 §4.6.1).

Its job: find the validation images in the user's folder, label each with a class, and build the class list those
labels index. Parsing the files that name the classes (LOC_synset_mapping.txt, meta.mat, --class-names files) is
`kosmos_eval.formats.imagenet_names`; the names callers imported from here before the split still resolve here.

Nothing is downloaded: the user points at the copy they have. Three layouts are recognised (docs/data_imagenet.md):

* ``synset-folders``: one folder per class named by its WordNet id (``val/n01440764/ILSVRC2012_val_00000293.JPEG``);
  the label is the folder.
* ``devkit``: a flat folder of ``ILSVRC2012_val_NNNNNNNN.JPEG`` labelled by the official development kit. Its
  ``ILSVRC2012_validation_ground_truth.txt`` holds one ILSVRC2012_ID per image, in image-number order, and those
  ids are translated to WordNet ids through ``meta.mat``. ILSVRC2012_IDs are NOT the canonical class indices.
* ``kaggle``: the same flat folder labelled by Kaggle's ``LOC_val_solution.csv``, whose PredictionString starts
  with the WordNet id of the image's class.

Canonical class order: the index of a class is its position among the sorted WordNet ids, the 0..999 numbering
torchvision and CLIP use. Kaggle's ``LOC_synset_mapping.txt`` lists the 1,000 ids in exactly that order (checked
on a public copy of the file); we sort anyway, so a reordered file cannot shift labels.

Display names: ImageNet describes each class by a WordNet lemma list ("tench, Tinca tinca"); the name we show and
compare against is the first lemma ("tench"). First lemmas are not unique in ImageNet (two "crane"s, two
"maillot"s, and "Cardigan" the corgi vs "cardigan" the sweater once case is ignored); `duplicate_names` reports
them so a task can warn; the reader never renames a class.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import DataFolder
from kosmos_eval.formats.imagenet_names import (
    DOCS,
    WNID,
    ClassTexts,
    pair_names,
    read_meta,
    read_meta_lemmas,
    read_names_file,
    read_synset_mapping,
    read_text_lines,
)
from kosmos_eval.formats.imagenet_names import LEAF_IDS as LEAF_IDS  # re-exported: public here before the split
from kosmos_eval.formats.imagenet_names import split_lemmas as split_lemmas  # re-exported likewise

SYNSET_FOLDERS, DEVKIT, KAGGLE = "synset-folders", "devkit", "kaggle"
VAL_STEM = re.compile(r"ILSVRC2012_val_(\d{8})")
IMAGE_SUFFIXES = frozenset({".jpeg", ".jpg", ".png"})
# Where the images may be, relative to the data root, in the order they are tried.
IMAGE_DIRS = ("val", ".", "ILSVRC/Data/CLS-LOC/val", "ILSVRC2012_img_val")
DEVKIT_DIRS = ("ILSVRC2012_devkit_t12/data", ".")
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
META = "meta.mat"
KAGGLE_SOLUTION = "LOC_val_solution.csv"
KAGGLE_MAPPING = "LOC_synset_mapping.txt"


@dataclass(frozen=True)
class ImageNetClass:
    """One class: `index` in canonical (sorted-WNID) order, its WordNet id, display name and all lemmas."""

    index: int
    wnid: str
    name: str
    lemmas: tuple[str, ...]


@dataclass(frozen=True)
class ImageNetItem:
    """One validation image; `id` is the file stem, `label` indexes the class list returned with it."""

    id: str
    image: ImageInput
    label: int


def normalise_class_name(text: str) -> str:
    """The form in which a generated answer and a class name are compared.

    Only surface differences a generator produces without meaning anything are removed: case, surrounding and
    repeated whitespace, trailing periods, "_" used for spaces (WordNet-style "great_white_shark") and the
    typographic apostrophe. Hyphens and all other characters are kept: the paper counts an answer as right only
    when it equals the class name, so "three toed sloth" does not match "three-toed sloth".
    """
    text = text.replace("\u2019", "'").replace("_", " ").lower()
    return " ".join(text.split()).rstrip(".").rstrip()


def duplicate_names(classes: Iterable[ImageNetClass]) -> dict[str, list[str]]:
    """Normalised names shared by several classes -> their WNIDs (in class order). Such classes cannot be told
    apart by an exact-match answer; the caller decides whether to warn or to use other names."""
    by_name: dict[str, list[str]] = {}
    for cls in classes:
        by_name.setdefault(normalise_class_name(cls.name), []).append(cls.wnid)
    return {name: wnids for name, wnids in by_name.items() if len(wnids) > 1}


# ----------------------------------------------------------------------------------------------- layout detection


def _is_image(entry: os.DirEntry[str]) -> bool:
    return entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES


def _image_files(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return sorted(Path(entry.path) for entry in entries if _is_image(entry))


def _synset_dirs(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir() and WNID.fullmatch(e.name))


def _has_val_images(folder: Path) -> bool:
    """True at the first ILSVRC2012_val_* image, so detection stays cheap on a 50,000-file folder."""
    with os.scandir(folder) as entries:
        return any(_is_image(e) and VAL_STEM.fullmatch(os.path.splitext(e.name)[0]) for e in entries)


def _devkit_file(root: Path, name: str) -> Path | None:
    return next((root / d / name for d in DEVKIT_DIRS if (root / d / name).is_file()), None)


def _locate(root: Path) -> tuple[str | None, Path | None]:
    """(layout, image folder). The layout is None when no images, or flat images without labels, were found;
    the folder is then the flat image folder, if any, for the error message."""
    for relative in IMAGE_DIRS:
        folder = root / relative
        if not folder.is_dir():
            continue
        if _synset_dirs(folder):
            return SYNSET_FOLDERS, folder
        if _has_val_images(folder):
            if _devkit_file(root, GROUND_TRUTH):
                return DEVKIT, folder
            if (root / KAGGLE_SOLUTION).is_file():
                return KAGGLE, folder
            return None, folder
    return None, None


def detect_layout(root: Path) -> str | None:
    """The layout of `root` ("synset-folders", "devkit" or "kaggle"); None when it holds no labelled images."""
    return _locate(Path(root))[0] if Path(root).is_dir() else None


# ----------------------------------------------------------------------------------------------- class list


def _root_texts(root: Path | None) -> tuple[ClassTexts, str] | None:
    """Names shipped with the data: LOC_synset_mapping.txt, else the devkit's meta.mat."""
    if root is None:
        return None
    if (root / KAGGLE_MAPPING).is_file():
        return read_synset_mapping(root / KAGGLE_MAPPING), str(root / KAGGLE_MAPPING)
    meta = _devkit_file(root, META)
    return None if meta is None else (read_meta_lemmas(meta), str(meta))


def _wnids_for_list(root: Path | None, names_file: Path, count: int) -> list[str]:
    """The WNIDs a plain list of names refers to: those of the data's own mapping, else its synset folders."""
    shipped = _root_texts(root)
    if shipped:
        wnids, source = sorted(shipped[0]), shipped[1]
    else:
        layout, folder = _locate(root) if root is not None and root.is_dir() else (None, None)
        if layout != SYNSET_FOLDERS or folder is None:
            raise DataError(
                f"{names_file}: a plain list of names needs the WNIDs from {KAGGLE_MAPPING}, meta.mat or synset "
                f"folders in the data folder; give a 'wnid<TAB>name' file instead ({DOCS})"
            )
        wnids, source = [p.name for p in _synset_dirs(folder)], f"the synset folders in {folder}"
    if len(wnids) != count:
        raise DataError(
            f"{names_file}: {count} names but {len(wnids)} classes in {source}; give one name per class in "
            f"sorted-WNID order, or a 'wnid<TAB>name' file"
        )
    return wnids


def _load_classes(root: Path | None, class_names_file: Path | None) -> tuple[list[ImageNetClass], str]:
    if class_names_file is not None:
        source = str(class_names_file)
        parsed = read_names_file(Path(class_names_file))
        if isinstance(parsed, list):
            texts = pair_names(_wnids_for_list(root, Path(class_names_file), len(parsed)), parsed, source)
        else:
            texts = parsed
    else:
        shipped = _root_texts(root)
        if shipped is None:
            raise DataError(
                f"{root}: no class names found ({KAGGLE_MAPPING} or ILSVRC2012_devkit_t12/data/{META}); put one "
                f"of them in the data folder or pass --class-names FILE ({DOCS})"
            )
        texts, source = shipped
    if not texts:
        raise DataError(f"{source}: defines no classes")
    classes = [ImageNetClass(i, wnid, texts[wnid][0], texts[wnid]) for i, wnid in enumerate(sorted(texts))]
    return classes, source


def read_class_names(root: Path | None, class_names_file: Path | None = None) -> list[ImageNetClass]:
    """The classes in canonical order, from `class_names_file` if given, else from the names shipped with the
    data in `root` (LOC_synset_mapping.txt, then the devkit's meta.mat). Any number of classes is accepted;
    readers check that every labelled WNID has one. File formats: docs/data_imagenet.md."""
    return _load_classes(Path(root) if root is not None else None, class_names_file)[0]


# ----------------------------------------------------------------------------------------------- images and labels

Labelled = tuple[str, Path, str, str]  # (id, image path, wnid, where the label came from)


def _read_synset_folders(folder: Path) -> list[Labelled]:
    found: list[Labelled] = []
    seen: dict[str, Path] = {}
    for synset in _synset_dirs(folder):
        for path in _image_files(synset):
            if path.stem in seen:
                raise DataError(f"{path}: image id {path.stem} also in {seen[path.stem]}; keep one copy")
            seen[path.stem] = path
            found.append((path.stem, path, synset.name, str(synset)))
    return found


def _numbered_images(folder: Path) -> dict[str, Path]:
    images: dict[str, Path] = {}
    for path in _image_files(folder):
        if not VAL_STEM.fullmatch(path.stem):
            raise DataError(f"{path}: not named ILSVRC2012_val_NNNNNNNN; move other images out of {folder}")
        if path.stem in images:
            raise DataError(f"{path}: image id {path.stem} also in {images[path.stem]}; keep one copy")
        images[path.stem] = path
    return images


def _check_complete(images: dict[str, Path], labelled_ids: list[str], folder: Path, source: Path) -> None:
    missing = sorted(set(labelled_ids) - set(images))
    if missing:
        raise DataError(
            f"{folder}: {len(images)} images but {source} labels {len(labelled_ids)} (first missing: "
            f"{missing[0]}); extract all of ILSVRC2012_img_val.tar, or pass --task-option complete=false"
        )


def _read_devkit(root: Path, folder: Path, require_complete: bool) -> list[Labelled]:
    ground_truth = _devkit_file(root, GROUND_TRUTH)
    assert ground_truth is not None  # _locate found it
    id_to_wnid = read_meta(ground_truth.parent / META)
    lines = read_text_lines(ground_truth)
    while lines and not lines[-1].strip():
        lines.pop()
    images = _numbered_images(folder)
    found: list[Labelled] = []
    for stem, path in images.items():
        number = int(VAL_STEM.fullmatch(stem).group(1))  # type: ignore[union-attr]
        if not 1 <= number <= len(lines):
            raise DataError(f"{path}: image number {number} has no line in {ground_truth} ({len(lines)} lines)")
        text = lines[number - 1].strip()
        if not text.isdigit() or int(text) not in id_to_wnid:
            raise DataError(
                f"{ground_truth}, line {number}: {text!r} is not an ILSVRC2012_ID of the leaf classes in "
                f"{ground_truth.parent / META}; use the devkit's own files"
            )
        found.append((stem, path, id_to_wnid[int(text)][0], f"{ground_truth}, line {number}"))
    if require_complete:
        _check_complete(images, [f"ILSVRC2012_val_{n:08d}" for n in range(1, len(lines) + 1)], folder, ground_truth)
    return found


def _read_kaggle(root: Path, folder: Path, require_complete: bool) -> list[Labelled]:
    solution = root / KAGGLE_SOLUTION
    reader = csv.DictReader(read_text_lines(solution))
    if not {"ImageId", "PredictionString"} <= set(reader.fieldnames or ()):
        raise DataError(f"{solution}: expected the columns ImageId,PredictionString; use Kaggle's own file")
    labels: dict[str, tuple[str, int]] = {}
    for number, row in enumerate(reader, start=2):
        image_id, tokens = (row["ImageId"] or "").strip(), (row["PredictionString"] or "").split()
        if not image_id or not tokens or not WNID.fullmatch(tokens[0]):
            raise DataError(f"{solution}, line {number}: expected 'ImageId,WNID x y x y ...'")
        if image_id in labels:
            raise DataError(
                f"{solution}, line {number}: {image_id} is listed twice (first on line {labels[image_id][1]})"
            )
        labels[image_id] = (tokens[0], number)
    images = _numbered_images(folder)
    found: list[Labelled] = []
    for stem, path in images.items():
        if stem not in labels:
            raise DataError(f"{path}: no row for {stem} in {solution}; use the solution file of these images")
        wnid, number = labels[stem]
        found.append((stem, path, wnid, f"{solution}, line {number}"))
    if require_complete:
        _check_complete(images, list(labels), folder, solution)
    return found


def read_imagenet_val(
    root: Path, class_names_file: Path | None = None, *, require_complete: bool = True
) -> tuple[list[ImageNetItem], list[ImageNetClass]]:
    """Validation items sorted by id, and the classes their labels index, for any recognised layout.

    Image keys are paths relative to `root`. With flat layouts, every labelled image must be present unless
    `require_complete` is False (a deliberate subset); an image without a label is always an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: ImageNet folder not found; pass the folder holding val/ ({DOCS})")
    layout, folder = _locate(root)
    if layout is None or folder is None:
        if folder is not None:
            raise DataError(
                f"{folder}: flat validation images but no ground truth; put ILSVRC2012_devkit_t12/ (from "
                f"ILSVRC2012_devkit_t12.tar.gz) or Kaggle's {KAGGLE_SOLUTION} in {root} ({DOCS})"
            )
        raise DataError(f"{root}: no ImageNet validation images (synset folders or ILSVRC2012_val_*.JPEG) ({DOCS})")
    classes, names_source = _load_classes(root, class_names_file)
    if layout == SYNSET_FOLDERS:
        labelled = _read_synset_folders(folder)
    elif layout == DEVKIT:
        labelled = _read_devkit(root, folder, require_complete)
    else:
        labelled = _read_kaggle(root, folder, require_complete)
    if not labelled:
        raise DataError(f"{folder}: no images found ({DOCS})")
    by_wnid = {cls.wnid: cls for cls in classes}
    inside = DataFolder(root)  # a listed image may be a symlink: it must not lead out of the folder
    items: list[ImageNetItem] = []
    for item_id, path, wnid, where in labelled:
        if wnid not in by_wnid:
            raise DataError(f"{where}: class {wnid} has no name in {names_source}; pass --class-names with every class")
        inside.check(path)
        image = ImageInput.from_path(path, key=path.relative_to(root).as_posix())
        items.append(ImageNetItem(id=item_id, image=image, label=by_wnid[wnid].index))
    items.sort(key=lambda item: item.id)
    return items, classes
