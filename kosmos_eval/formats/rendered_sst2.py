"""Readers for Rendered SST-2: SST-2 sentences rendered as images, labelled negative or positive.

Two sources are understood:

* The CLIP release (`openai/CLIP` data/rendered-sst2.md, archive rendered-sst2.tgz): one folder per split
  (`train`, `valid`, `test`), each with a `negative/` and a `positive/` folder of PNG files. The class is the
  folder; nothing else carries the label. `root` may be the `rendered-sst2` folder or the folder holding it.
* A Hugging Face `datasets` copy: a hub id (e.g. the WebDataset repository clip-benchmark/wds_renderedsst2,
  whose rows have a `png` image, an integer `cls` and a `__key__`; it has train and test splits only), or a
  folder written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk`. Plain `image`/`label` schemas work too.

Label convention: 0 = negative, 1 = positive. This is the order of clip-benchmark's classnames.txt
("negative" then "positive", checked on the hub page of clip-benchmark/wds_renderedsst2), which its integer
`cls` indexes, and the alphabetical order of the CLIP release's class folders. A `ClassLabel` column is mapped
by its names, so a copy that orders them the other way round still gets the right labels.

Split names are ours: "train", "validation" (the CLIP release's `valid` folder) and "test". KOSMOS-1 reports
on the test split ("Rendered SST-2 test set").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kosmos_eval.core.types import ImageInput
from kosmos_eval.data.hub_source import to_pil  # the image forms a datasets column holds
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.common import DataFolder
from kosmos_eval.formats.language_sources import _first_line

LABELS = ("negative", "positive")
SPLITS = ("train", "validation", "test")
DEFAULT_SPLIT = "test"
# Folder names of the CLIP release, and the split names hub copies use, for each of our splits.
CLIP_SPLIT_FOLDERS = {"train": "train", "validation": "valid", "test": "test"}
HUB_SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "valid", "val", "dev"), "test": ("test",)}
SPLIT_ALIASES = {"valid": "validation", "val": "validation", "dev": "validation"}
CLIP_FOLDER_NAME = "rendered-sst2"
# Files with other suffixes in a class folder (.DS_Store, Thumbs.db, notes) are ignored, not reported.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
IMAGE_COLUMNS = ("image", "img", "png", "jpg", "jpeg", "webp")
LABEL_COLUMNS = ("label", "cls", "labels")
KEY_COLUMNS = ("__key__", "id", "idx")
REMEDY = (
    "download https://openaipublic.azureedge.net/clip/data/rendered-sst2.tgz and pass the extracted folder, "
    "or a datasets.save_to_disk folder"
)


@dataclass(frozen=True)
class SentimentItem:
    """One rendered sentence: `label` indexes LABELS (0 = negative, 1 = positive)."""

    id: str
    image: ImageInput
    label: int


def canonical_split(split: str) -> str:
    """Our split name for `split`; the CLIP folder name and common short names are accepted too."""
    name = SPLIT_ALIASES.get(split, split)
    if name not in SPLITS:
        raise UserError(f"Rendered SST-2: unknown split '{split}'; use one of {', '.join(SPLITS)}")
    return name


def detect_layout(root: Path) -> str | None:
    """'saved-dataset' for a save_to_disk folder (or one holding a saved split), 'clip-folders' for the CLIP
    release (the rendered-sst2 folder or its parent), None otherwise."""
    if _is_saved(root) or any(_is_saved(root / name) for names in HUB_SPLIT_NAMES.values() for name in names):
        return "saved-dataset"
    if clip_root(root) is not None:
        return "clip-folders"
    return None


def clip_root(root: Path) -> Path | None:
    """The folder that directly holds the split folders: `root` itself or its `rendered-sst2` child."""
    for candidate in (root, root / CLIP_FOLDER_NAME):
        for folder in CLIP_SPLIT_FOLDERS.values():
            if any((candidate / folder / label).is_dir() for label in LABELS):
                return candidate
    return None


def read_rendered_sst2(root: Path, split: str = DEFAULT_SPLIT) -> list[SentimentItem]:
    """The items of `split` from a local folder in either layout; see the module docstring."""
    split = canonical_split(split)
    layout = detect_layout(root)
    if layout == "saved-dataset":
        return _read_saved(root, split)
    if layout == "clip-folders":
        return _read_clip_split(clip_root(root), split)  # type: ignore[arg-type]
    if not root.is_dir():
        raise DataError(f"{root}: Rendered SST-2 folder does not exist; {REMEDY}")
    raise DataError(
        f"{root}: not a Rendered SST-2 folder (expected {CLIP_FOLDER_NAME}/{{train,valid,test}}/"
        f"{{negative,positive}}/*.png or a datasets.save_to_disk folder); {REMEDY}"
    )


def _read_clip_split(base: Path, split: str) -> list[SentimentItem]:
    """Items sorted by id "<label>/<stem>"; image keys are paths relative to the rendered-sst2 folder, so they
    are the same whichever of it or its parent was given."""
    split_dir = base / CLIP_SPLIT_FOLDERS[split]
    if not split_dir.is_dir():
        present = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        raise DataError(
            f"{base}: no folder '{split_dir.name}' for split '{split}' (found: {', '.join(present) or 'none'}); "
            f"re-extract rendered-sst2.tgz or choose another split"
        )
    extra = sorted(
        p.name for p in split_dir.iterdir() if p.is_dir() and p.name not in LABELS and not p.name.startswith(".")
    )
    if extra:
        raise DataError(
            f"{split_dir}: unexpected class folder(s) {', '.join(extra)}; expected only negative/ and positive/"
        )
    inside = DataFolder(base)  # a listed image may be a symlink: it must not lead out of the folder
    items: dict[str, SentimentItem] = {}
    for label, name in enumerate(LABELS):
        class_dir = split_dir / name
        if not class_dir.is_dir():
            raise DataError(f"{class_dir}: class folder missing; re-extract rendered-sst2.tgz")
        images = sorted(p for p in class_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DataError(f"{class_dir}: no images ({'/'.join(IMAGE_SUFFIXES)}); re-extract rendered-sst2.tgz")
        for path in images:
            item_id = f"{name}/{path.stem}"
            if item_id in items:
                raise DataError(f"{path}: two images share the name '{path.stem}'; keep only one of them")
            key = path.relative_to(base).as_posix()
            items[item_id] = SentimentItem(item_id, ImageInput.from_path(inside.check(path), key=key), label)
    return [items[item_id] for item_id in sorted(items)]


def _is_saved(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_file() for name in ("state.json", "dataset_dict.json"))


def _read_saved(root: Path, split: str) -> list[SentimentItem]:
    """A saved DatasetDict (its member for `split`), a saved Dataset, or a saved Dataset in `root/<split>`."""
    import datasets

    if _is_saved(root):
        folder = root
    else:
        folder = next((root / name for name in HUB_SPLIT_NAMES[split] if _is_saved(root / name)), None)
    if folder is None:
        present = sorted(p.name for p in root.iterdir() if _is_saved(p))
        raise DataError(
            f"{root}: no saved dataset for split '{split}' (expected a folder named "
            f"{' or '.join(HUB_SPLIT_NAMES[split])}; found: {', '.join(present) or 'none'})"
        )
    try:
        saved = datasets.load_from_disk(str(folder))
    except Exception as exc:
        reason = f"{exc.__class__.__name__}: {_first_line(exc)}"
        raise DataError(f"{folder}: cannot read the saved dataset ({reason})") from exc
    if isinstance(saved, datasets.DatasetDict):
        member = next((name for name in HUB_SPLIT_NAMES[split] if name in saved), None)
        if member is None:
            raise DataError(f"{folder}: saved DatasetDict has no split '{split}' (it has {', '.join(saved)})")
        return items_from_dataset(saved[member], split, f"{folder} [{member}]")
    recorded = str(saved.split) if saved.split is not None else None
    if recorded is not None and SPLIT_ALIASES.get(recorded, recorded) != split:
        raise DataError(f"{folder}: this saved dataset is the '{recorded}' split, not '{split}'; pass the right folder")
    return items_from_dataset(saved, split, str(folder))


def load_rendered_sst2_hub(hub_id: str, split: str = DEFAULT_SPLIT) -> list[SentimentItem]:
    """The items of `split` of a hub copy via `datasets.load_dataset` (the local cache when offline). Each of the
    hub names for the split is tried in turn; any other failure is one DataError line."""
    import datasets

    split = canonical_split(split)
    unknown: list[str] = []
    for hub_split in HUB_SPLIT_NAMES[split]:
        source = f"hub {hub_id} (split {hub_split})"
        try:
            loaded = datasets.load_dataset(hub_id, split=hub_split)
        except ValueError as exc:
            if "Unknown split" not in str(exc):
                raise DataError(_hub_failure(source, exc)) from exc
            unknown.append(_first_line(exc))
            continue
        except Exception as exc:
            raise DataError(_hub_failure(source, exc)) from exc
        return items_from_dataset(loaded, split, source)
    raise DataError(
        f"Rendered SST-2: hub {hub_id} has no split '{split}' (tried {', '.join(HUB_SPLIT_NAMES[split])}: "
        f"{unknown[-1]}); choose another split"
    )


def _hub_failure(source: str, exc: Exception) -> str:
    if isinstance(exc, ConnectionError):  # datasets' answer when offline (HF_HUB_OFFLINE=1) and not cached
        reason = "the hub cannot be reached and no cached copy exists"
    elif isinstance(exc, FileNotFoundError):
        reason = f"not found ({_first_line(exc)})"
    else:
        reason = f"{exc.__class__.__name__}: {_first_line(exc)}"
    return f"Rendered SST-2: cannot load {source}: {reason}; run once online so the copy is cached, or {REMEDY}"


def items_from_dataset(dataset: Any, split: str, source: str) -> list[SentimentItem]:
    """Items in row order from a `datasets.Dataset`. Only the label and key columns are read here; each image
    is decoded by its opener, when a backend needs the pixels."""
    columns = list(dataset.column_names)
    image_column = _image_column(dataset)
    if image_column is None:
        raise DataError(
            f"{source}: no image column (looked for {', '.join(IMAGE_COLUMNS)}; has {', '.join(columns)}); "
            "rename the image column to 'image'"
        )
    label_column = next((name for name in LABEL_COLUMNS if name in columns), None)
    if label_column is None:
        raise DataError(
            f"{source}: no label column (looked for {', '.join(LABEL_COLUMNS)}; has {', '.join(columns)}); "
            "rename the label column to 'label'"
        )
    if len(dataset) == 0:
        raise DataError(f"{source}: split '{split}' has no rows")
    labels = _labels(list(dataset[label_column]), dataset.features[label_column], source, label_column)
    row_ids = _row_ids(dataset, columns)
    images = dataset.select_columns([image_column])
    return [
        SentimentItem(row_id, _lazy_image(f"{split}/{row_id}", images, index, image_column, source), label)
        for index, (row_id, label) in enumerate(zip(row_ids, labels, strict=True))
    ]


def _image_column(dataset: Any) -> str | None:
    """The first known image column name present; else the first column typed as a datasets Image."""
    import datasets

    for name in IMAGE_COLUMNS:
        if name in dataset.column_names:
            return name
    return next((name for name, feature in dataset.features.items() if isinstance(feature, datasets.Image)), None)


def _labels(values: list[Any], feature: Any, source: str, column: str) -> list[int]:
    """Label indices into LABELS. A ClassLabel is mapped through its names; bare integers are taken as the
    clip-benchmark class index; strings must name a class."""
    import datasets

    names = [name.lower() for name in feature.names] if isinstance(feature, datasets.ClassLabel) else None
    if names is not None and not set(names) <= set(LABELS):
        raise DataError(f"{source}: column '{column}' has classes {feature.names}; expected {list(LABELS)}")
    labels = []
    for row, value in enumerate(values):
        if isinstance(value, str):
            name = value.strip().lower()
        elif isinstance(value, int) and names is not None and 0 <= value < len(names):
            name = names[value]
        elif isinstance(value, int) and 0 <= value < len(LABELS):
            name = LABELS[value]
        else:
            name = None
        if name not in LABELS:
            raise DataError(
                f"{source}: row {row}: '{column}' is {value!r}; expected 0 (negative) or 1 (positive) "
                "(a test split without labels cannot be scored)"
            )
        labels.append(LABELS.index(name))
    return labels


def _row_ids(dataset: Any, columns: list[str]) -> list[str]:
    """The first key column whose values are all distinct and non-empty (WebDataset's __key__); else the row
    index, so ids are always unique within a split."""
    for name in KEY_COLUMNS:
        if name in columns:
            keys = [str(value) for value in dataset[name]]
            if all(keys) and len(set(keys)) == len(keys):
                return keys
    return [str(index) for index in range(len(dataset))]


def _lazy_image(key: str, images: Any, index: int, column: str, source: str) -> ImageInput:
    return ImageInput(key=key, opener=lambda: to_pil(images[index][column]), origin=f"{source} row {index}")
