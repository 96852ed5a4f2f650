"""HatefulMemes, ImageNet and CUB items from their hub copies (kosmos_eval/data/sources/), made to be the items
the official readers make (same ids, labels and image keys), so a run on a hub copy scores as one on the
official files does and the chance baseline draws the same numbers.

* HatefulMemes (neuralcatcher/hateful_memes) holds the release's own files, not a table. The split's .jsonl
  is fetched first, then only the images it lists, into the hub cache; the official reader reads them.
* ImageNet (timm/imagenet-1k-wds) is webdataset tars: `__key__` is the file stem, `json.filename` is
  `<wnid>/<stem>.JPEG` and `cls` the sorted-WNID index. The copy holds no class names: they come from
  `--task-option class_names=FILE`, as for the official files.
* CUB (bentrevett/caltech-ucsd-birds-200-2011) is CUB-200-2011 as a table (image, label as a ClassLabel named
  "192.Downy_Woodpecker", bbox). The set is drawn from it as `kosmos-eval prepare cub-descriptions` draws it
  from the CUB folder (formats/cub_builder.py): per category, a draw seeded by (seed, name) over the class's
  test images sorted by file name, so the same seed gives the same examples from either source.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from kosmos_eval.data.hub_load import fetch_files
from kosmos_eval.data.hub_source import HubCopy, HubTable
from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import trusting
from kosmos_eval.formats.cub_builder import IMAGES_FOLDER, category_slug, read_pairs
from kosmos_eval.formats.described_classes import Candidate, DescribedItem
from kosmos_eval.formats.imagenet import DOCS, ImageNetClass, ImageNetItem
from kosmos_eval.formats.imagenet_names import WNID, ClassTexts, pair_names, read_meta_lemmas, read_names_file

IMAGENET_CLASSES = 1000

# --------------------------------------------------------------------------------------------- hateful memes


def fetch_release_split(task: str, copy: HubCopy, split: str) -> tuple[Path, str]:
    """The hub snapshot folder holding `split`'s .jsonl and the images it lists (and no other image: dev_seen
    needs 500 of the release's twelve thousand), and the hub id that served it. The list of names costs ~1.5 s
    of pattern matching over the repo's files for dev_seen, still far less than fetching every image."""
    index_name = copy.splits[split].files if split in copy.splits else None
    folder, hub_id = fetch_files(task, copy, split, [index_name or f"{split}.jsonl"])
    where = f"{task}: hub {hub_id} (split {copy.splits[split].hub})"
    index = folder / (index_name or f"{split}.jsonl")
    if not index.is_file():
        raise DataError(
            f"{where}: the copy has no {index.name}; pass --task-option hub_revision=<a revision with it>, or "
            "--data-dir with the release folder"
        )
    images = _listed_images(index)
    folder, _ = fetch_files(task, copy, split, images)
    missing = [name for name in images if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{where}: {len(missing)} of the {len(images)} images {index.name} lists are not in the hub cache (first: "
            f"{missing[0]}); run once online, or pass --data-dir with the release folder"
        )
    return folder, hub_id


def _listed_images(index: Path) -> list[str]:
    """The `img` paths of a split file, as written (the reader checks them, and every other field, after)."""
    names = []
    for line in index.read_text(encoding="utf-8-sig").splitlines():
        try:
            entry = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue  # the official reader names the line
        if isinstance(entry, dict) and isinstance(entry.get("img"), str):
            names.append(str(PurePosixPath(entry["img"].replace("\\", "/"))))
    return names


@contextmanager
def trusting_hub_cache(snapshot: Path) -> Iterator[None]:
    """The hub cache keeps each file once, in the repo's blobs/ folder, and a snapshot's files are symlinks to
    it. The readers follow a symlink out of the data folder only into a trusted folder, so the repo's own cache
    folder is trusted while its snapshot is read, and only then (formats/common.trusting: no environment change)."""
    with trusting(snapshot / ".." / ".." / "blobs"):
        yield


def cached_release_file(copy: HubCopy, split: str) -> str | None:
    """The cached path of `split`'s index file, when the hub cache holds it (what a run reads offline)."""
    from huggingface_hub import try_to_load_from_cache

    spec = copy.splits.get(split)
    if spec is None or not spec.files:
        return None
    found = try_to_load_from_cache(copy.id, spec.files, revision=copy.revision, repo_type="dataset")
    return found if isinstance(found, str) else None


# --------------------------------------------------------------------------------------------------- imagenet


def imagenet_hub_items(table: HubTable, names_file: Path) -> tuple[list[ImageNetItem], list[ImageNetClass]]:
    """Validation items sorted by id and the classes their labels index, as `read_imagenet_val` makes them from
    synset folders: the id is the file stem and the image key `val/<wnid>/<stem>.JPEG`."""
    stems, metas, indices = table.values("key"), table.values("meta"), table.values("label")
    wnids = [_wnid(meta) for meta in metas]
    classes = _classes(names_file, sorted({w for w in wnids if w}))
    by_wnid = {cls.wnid: cls for cls in classes}
    full = len(classes) == IMAGENET_CLASSES  # then `cls` indexes the same list and must agree with the WNID
    items = []
    for row, (stem, wnid, index) in enumerate(zip(stems, wnids, indices, strict=True)):
        where = f"{table.describe()} row {row} ({stem})"
        if wnid is None:
            if not full:
                raise DataError(f"{where}: json.filename names no WordNet id, and {names_file} does not list all 1,000")
            wnid = classes[index].wnid
        if wnid not in by_wnid:
            raise DataError(f"{where}: class {wnid} has no name in {names_file}; pass --task-option class_names=FILE")
        label = by_wnid[wnid].index
        if full and index != label:
            raise DataError(f"{where}: cls is {index} but {wnid} is class {label} in sorted-WNID order ({DOCS})")
        key = f"val/{wnid}/{stem}.JPEG"
        items.append(ImageNetItem(id=stem, image=table.image("image", row, key), label=label))
    items.sort(key=lambda item: item.id)
    return items, classes


def _wnid(meta: Any) -> str | None:
    """The WordNet id in a row's json ("n01630670/ILSVRC2012_val_00009670.JPEG"), if it names one."""
    filename = meta.get("filename") if isinstance(meta, dict) else None
    folder = str(filename).replace("\\", "/").split("/")[0] if filename else ""
    return folder if WNID.fullmatch(folder) else None


def _classes(names_file: Path, wnids: list[str]) -> list[ImageNetClass]:
    """The classes a --class-names file defines (the devkit's meta.mat too), in sorted-WNID order; a plain
    list of names is paired with the WNIDs the copy holds, which must be as many."""
    names_file = Path(names_file)
    texts: ClassTexts | list[str]
    texts = read_meta_lemmas(names_file) if names_file.suffix.lower() == ".mat" else read_names_file(names_file)
    if isinstance(texts, list):
        if len(texts) != len(wnids):
            raise DataError(
                f"{names_file}: {len(texts)} names but the hub copy holds {len(wnids)} classes; give a "
                f"'wnid<TAB>name' file or Kaggle's LOC_synset_mapping.txt ({DOCS})"
            )
        texts = pair_names(wnids, texts, str(names_file))
    if not texts:
        raise DataError(f"{names_file}: defines no classes")
    return [ImageNetClass(i, wnid, texts[wnid][0], texts[wnid]) for i, wnid in enumerate(sorted(texts))]


# -------------------------------------------------------------------------------------------------------- cub


def cub_hub_items(table: HubTable, pairs_file: Path, per_category: int, seed: int = 1234) -> list[DescribedItem]:
    """The described set `prepare cub-descriptions` builds from CUB's test split, built from the hub rows; what
    the hub cannot give (a pair CUB lacks, a stand-in for the paper's web images) is added to the table's
    reasons for not being the paper's set. Ids are `<category slug>/<file name>`, keys `images/<slug>/<file>`."""
    names = _class_names(table)
    labels = table.values("label")
    files = _file_names(table)
    by_class: dict[str, list[tuple[str, int]]] = {name: [] for name in names}
    for row, (label, file_name) in enumerate(zip(labels, files, strict=True)):
        by_class[names[label]].append((file_name or f"{names[label]}_row{row:05d}.jpg", row))
    if not all(files):
        table.why_not_paper.append(
            "the copy's images carry no file names: ids are row numbers, and the draw is not the one "
            "`kosmos-eval prepare cub-descriptions` makes from the CUB folder"
        )
    items: list[DescribedItem] = []
    for pair in read_pairs(pairs_file):
        reasons = []
        for category in pair.categories:
            if category.cub_class is None:
                reasons.append(f"{category.name!r} is not in CUB-200-2011")
            elif category.cub_class not in by_class:
                raise DataError(
                    f"{pairs_file}: cub_class {category.cub_class!r} of {category.name!r} is not a class of "
                    f"{table.describe()} (its names look like {names[0]!r})"
                )
            elif not by_class[category.cub_class]:
                reasons.append(f"{table.describe()} has no {category.cub_class} images")
        if reasons:
            came = f"; the paper's images came from {pair.paper_images}" if pair.paper_images else ""
            table.why_not_paper.append(f"{pair.general_category}: left out ({'; '.join(reasons)}{came})")
            continue
        if pair.paper_images and "cub" not in pair.paper_images.casefold():
            table.why_not_paper.append(
                f"{pair.general_category}: the paper's images came from {pair.paper_images}; these come from CUB"
            )
        candidates = tuple(Candidate(c.name, c.description) for c in pair.categories)
        for label_index, category in enumerate(pair.categories):
            pool = sorted(by_class[str(category.cub_class)])
            rng = random.Random(f"{seed}:{category.name}")  # the builder's draw, over the same sorted list
            for file_name, row in sorted(rng.sample(pool, min(per_category, len(pool)))):
                slug = category_slug(category.name)
                image = table.image("image", row, f"{IMAGES_FOLDER}/{slug}/{file_name}")
                item_id = f"{slug}/{file_name}"
                items.append(DescribedItem(item_id, image, pair.general_category, candidates, label_index))
    if not items:
        raise DataError(f"{table.describe()}: no pair of {pairs_file} can be built from it ({table.why_not_paper})")
    return items


def _class_names(table: HubTable) -> list[str]:
    feature = table.dataset.features[table.copy.columns["label"][0]]
    names = getattr(feature, "names", None)
    if not names:
        raise DataError(
            f"{table.describe()}: column '{table.copy.columns['label'][0]}' holds no class names (a ClassLabel "
            "such as '192.Downy_Woodpecker'); pass --task-option hub_revision=<a revision with them>"
        )
    return list(names)


def _file_names(table: HubTable) -> list[str | None]:
    """Each row's image file name, read from the stored `path` without decoding (or reading) any image."""
    import pyarrow.compute as pc

    column = table.dataset.with_format("arrow")[table.copy.columns["image"][0]]
    paths = pc.struct_field(column, "path").to_pylist()
    return [PurePosixPath(path.replace("\\", "/")).name if path else None for path in paths]
