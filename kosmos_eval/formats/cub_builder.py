"""Build a "classification with descriptions" set (KOSMOS-1 §4.7.1, Table 11) from CUB-200-2011.

The paper's 120-image set (3 pairs x 2 categories x 20 images) was never released. This builder makes the
closest reproducible stand-in: for each pair of a pairs file (default: the paper's three pairs and Table 11
descriptions, `kosmos_eval/data/cub_pairs.yaml`) it draws a seeded sample of images per category from a CUB
class, or from a folder of the user's own images where CUB has no such class (the paper's penguins), copies
them into the output folder and writes `descriptions.jsonl` in the format of
`kosmos_eval.formats.described_classes`, so the set is self-contained and machine-independent.

CUB-200-2011 metadata, all "<id> <value>" per line, ids from 1:
  images.txt             image id -> path under images/ ("1 001.Black_footed_Albatross/Black_..._18.jpg")
  classes.txt            class id -> class folder name ("1 001.Black_footed_Albatross")
  image_class_labels.txt image id -> class id
  train_test_split.txt   image id -> 1 (train) or 0 (test)
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.common import DataFolder
from kosmos_eval.formats.described_classes import DEFAULT_FILE_NAME, Candidate, make_record

SPLITS = ("test", "train", "all")
CUB_FOLDER = "CUB_200_2011"
CUB_FILES = ("images.txt", "classes.txt", "image_class_labels.txt", "train_test_split.txt")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")
BUILD_INFO_FILE = "build_info.json"
IMAGES_FOLDER = "images"


@dataclass(frozen=True)
class PairCategory:
    name: str
    description: str
    cub_class: str | None


@dataclass(frozen=True)
class CategoryPair:
    general_category: str
    categories: tuple[PairCategory, ...]
    paper_images: str | None = None  # where the paper's own images came from (informational)


@dataclass(frozen=True)
class CategoryCount:
    name: str
    general_category: str
    source: str  # "CUB-200-2011 192.Downy_Woodpecker (test split)" or "extra images <folder>"
    available: int
    written: int


@dataclass(frozen=True)
class SkippedPair:
    general_category: str
    names: tuple[str, ...]
    reason: str


@dataclass
class BuildReport:
    """What a build wrote (per category) and what it left out and why; the CLI prints it."""

    descriptions_file: Path
    examples: int
    categories: list[CategoryCount] = field(default_factory=list)
    skipped: list[SkippedPair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {c.name: c.written for c in self.categories}


def default_pairs_file() -> Path:
    """The shipped pairs file with the paper's three pairs and Table 11 descriptions."""
    return Path(str(resources.files("kosmos_eval.data").joinpath("cub_pairs.yaml")))


def category_slug(name: str) -> str:
    """The folder/id form of a category name: "Gentoo penguin" -> "gentoo_penguin"."""
    return re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")


def _field(mapping: Any, key: str, where: str, path: Path, optional: bool = False) -> str | None:
    if not isinstance(mapping, dict):
        raise DataError(f"{path}: {where} must be a mapping")
    value = mapping.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}: {where}.{key} must be a non-empty string, is {value!r}")
    return value.strip()


def read_pairs(path: Path) -> list[CategoryPair]:
    """The groups of a pairs file (YAML: `pairs: [{general_category, paper_images?, categories: [{name,
    description, cub_class}]}]`); category names must be distinct across the file, since each gets a folder."""
    if not path.is_file():
        raise DataError(f"{path}: pairs file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    raw_pairs = data.get("pairs") if isinstance(data, dict) else None
    if not isinstance(raw_pairs, list) or not raw_pairs:
        raise DataError(f"{path}: expected a top-level 'pairs:' list (see kosmos_eval/data/cub_pairs.yaml)")
    pairs, seen = [], {}
    for p, raw in enumerate(raw_pairs):
        where = f"pairs[{p}]"
        general = _field(raw, "general_category", where, path)
        raw_categories = raw.get("categories")
        if not isinstance(raw_categories, list) or len(raw_categories) < 2:
            raise DataError(f"{path}: {where}.categories must list at least 2 categories")
        categories = []
        for c, entry in enumerate(raw_categories):
            inner = f"{where}.categories[{c}]"
            category = PairCategory(
                name=_field(entry, "name", inner, path),
                description=_field(entry, "description", inner, path),
                cub_class=_field(entry, "cub_class", inner, path, optional=True),
            )
            slug = category_slug(category.name)
            if not slug or slug in seen:
                raise DataError(
                    f"{path}: {inner}.name {category.name!r} clashes with {seen.get(slug)!r}; use distinct names"
                )
            seen[slug] = category.name
            categories.append(category)
        paper_images = _field(raw, "paper_images", where, path, optional=True)
        pairs.append(CategoryPair(general, tuple(categories), paper_images))
    return pairs


def find_cub_dir(cub_root: Path) -> Path:
    """The CUB_200_2011 folder: `cub_root` itself or its CUB_200_2011/ child (where the archive unpacks)."""
    for candidate in (cub_root, cub_root / CUB_FOLDER):
        if (candidate / "images.txt").is_file():
            return candidate
    raise DataError(
        f"--cub {cub_root}: no images.txt there nor in {CUB_FOLDER}/; point --cub at the unpacked CUB_200_2011.tgz "
        "(the folder holding images.txt, classes.txt, image_class_labels.txt, train_test_split.txt and images/)"
    )


def _id_lines(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise DataError(f"{path}: file not found (part of CUB_200_2011; re-extract the archive)")
    rows: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(f"{path}:{number}: expected '<id> <value>', got {line.strip()!r}")
        if parts[0] in rows:
            raise DataError(f"{path}:{number}: id {parts[0]} appears twice")
        rows[parts[0]] = parts[1].strip()
    return rows


def read_cub_index(cub_dir: Path) -> dict[str, list[tuple[str, bool]]]:
    """Class folder name -> [(image path under images/, is_train)] for every class of classes.txt. The paths
    come from images.txt and are copied into the built set, so one that leaves images/ is refused."""
    images, classes, labels, splits = (_id_lines(cub_dir / name) for name in CUB_FILES)
    inside = DataFolder(cub_dir / IMAGES_FOLDER)
    index: dict[str, list[tuple[str, bool]]] = {name: [] for name in classes.values()}
    for image_id, relative in images.items():
        inside.resolve(relative, f"{cub_dir / 'images.txt'}: image id {image_id}", "path")
        class_id, is_train = labels.get(image_id), splits.get(image_id)
        if class_id is None or class_id not in classes:
            raise DataError(
                f"{cub_dir / 'image_class_labels.txt'}: no valid class for image id {image_id} ({relative})"
            )
        if is_train not in ("0", "1"):
            raise DataError(f"{cub_dir / 'train_test_split.txt'}: image id {image_id} needs 0 or 1, has {is_train!r}")
        index[classes[class_id]].append((relative, is_train == "1"))
    return index


def _extra_folder(extra_images: Path, name: str) -> Path | None:
    """extra_images/<name>/, or the one child folder whose name means the same ("gentoo_penguin")."""
    exact = extra_images / name
    if exact.is_dir():
        return exact
    matches = [p for p in sorted(extra_images.iterdir()) if p.is_dir() and category_slug(p.name) == category_slug(name)]
    if len(matches) > 1:
        raise UserError(
            f"--extra-images {extra_images}: folders {[m.name for m in matches]} all mean {name!r}; keep one"
        )
    return matches[0] if matches else None


def _sources(
    category: PairCategory, index: dict[str, list[tuple[str, bool]]], cub_dir: Path, split: str, extra: Path | None
) -> tuple[list[Path], str, str | None]:
    """(available image files sorted, source label, reason when none)."""
    if category.cub_class is not None:
        files = [
            cub_dir / IMAGES_FOLDER / rel
            for rel, is_train in index[category.cub_class]
            if split == "all" or is_train == (split == "train")
        ]
        source = f"CUB-200-2011 {category.cub_class} ({split} split)"
        reason = None if files else f"{category.cub_class} has no images in the {split} split"
        return sorted(files), source, reason
    if extra is None:
        return [], "", f"{category.name!r} is not in CUB-200-2011; pass --extra-images DIR with DIR/{category.name}/"
    folder = _extra_folder(extra, category.name)
    if folder is None:
        return [], "", f"{category.name!r} is not in CUB-200-2011 and {extra / category.name} does not exist"
    inside = DataFolder(extra)  # a listed image may be a symlink: it must not lead out of --extra-images
    files = sorted(inside.check(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    reason = None if files else f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})"
    return files, f"extra images {folder}", reason


def _prepare_output(out_dir: Path, overwrite: bool) -> None:
    owned = [out_dir / DEFAULT_FILE_NAME, out_dir / BUILD_INFO_FILE, out_dir / IMAGES_FOLDER]
    existing = [p for p in owned if p.exists()]
    if existing and not overwrite:
        raise UserError(
            f"--output {out_dir}: already holds a built set ({existing[0].name}); pass --overwrite or pick a new folder"
        )
    for path in existing:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def build_described_set(
    cub_root: Path,
    pairs_file: Path,
    out_dir: Path,
    per_category: int = 20,
    split: str = "test",
    seed: int = 1234,
    extra_images: Path | None = None,
    overwrite: bool = False,
) -> BuildReport:
    """Write out_dir/descriptions.jsonl and out_dir/images/<category>/ (copies) and return what was written.

    Per category: `per_category` images drawn with a generator seeded by (seed, category name), so one
    category's draw does not depend on the others, then sorted by path. A pair is skipped (with the reason in
    the report) when any of its categories has no images; a category with fewer than asked gives all it has
    (noted). Examples are written pair by pair, category by category, in the pairs file's order; each
    example lists the pair's categories in that order as candidates.
    """
    if per_category < 1:
        raise UserError(f"--per-category must be at least 1, is {per_category}")
    if split not in SPLITS:
        raise UserError(f"--split {split!r} is not one of {', '.join(SPLITS)} (CUB's train_test_split.txt: 1 = train)")
    if extra_images is not None and not extra_images.is_dir():
        raise UserError(f"--extra-images {extra_images}: folder does not exist")
    pairs = read_pairs(pairs_file)
    cub_dir = find_cub_dir(cub_root)
    index = read_cub_index(cub_dir)
    for pair in pairs:
        for category in pair.categories:
            if category.cub_class is not None and category.cub_class not in index:
                raise DataError(
                    f"{pairs_file}: cub_class {category.cub_class!r} of {category.name!r} is not in "
                    f"{cub_dir / 'classes.txt'} (names look like '192.Downy_Woodpecker')"
                )

    chosen: list[tuple[CategoryPair, PairCategory, list[Path]]] = []
    report = BuildReport(out_dir / DEFAULT_FILE_NAME, 0)
    for pair in pairs:
        found = [(c, *_sources(c, index, cub_dir, split, extra_images)) for c in pair.categories]
        reasons = [reason for _, _, _, reason in found if reason]
        names = tuple(c.name for c in pair.categories)
        if reasons:
            report.skipped.append(SkippedPair(pair.general_category, names, "; ".join(reasons)))
            continue
        for category, files, source, _ in found:
            rng = random.Random(f"{seed}:{category.name}")
            picked = sorted(rng.sample(files, min(per_category, len(files))), key=lambda p: p.as_posix())
            if len(picked) < per_category:
                report.notes.append(
                    f"{category.name}: only {len(picked)} images available ({source}), not {per_category}"
                )
            report.categories.append(
                CategoryCount(category.name, pair.general_category, source, len(files), len(picked))
            )
            chosen.append((pair, category, picked))
        if (
            pair.paper_images
            and "cub" not in pair.paper_images.casefold()
            and any(c.cub_class for c in pair.categories)
        ):
            report.notes.append(
                f"{pair.general_category}: the paper's images came from {pair.paper_images}; "
                "these come from CUB-200-2011"
            )
    if not chosen:
        reasons = "; ".join(f"{s.general_category}: {s.reason}" for s in report.skipped)
        raise DataError(f"nothing to write, every pair was skipped ({reasons})")
    missing = [p for _, _, files in chosen for p in files if not p.is_file()]
    if missing:
        raise DataError(f"{missing[0]}: image file not found ({len(missing)} selected images missing); re-extract CUB")

    _prepare_output(out_dir, overwrite)
    lines = []
    for pair, category, files in chosen:
        slug = category_slug(category.name)
        (out_dir / IMAGES_FOLDER / slug).mkdir(parents=True, exist_ok=True)
        candidates = [Candidate(c.name, c.description) for c in pair.categories]
        for source_file in files:
            relative = f"{IMAGES_FOLDER}/{slug}/{source_file.name}"
            shutil.copyfile(source_file, out_dir / relative)
            record = make_record(
                f"{slug}/{source_file.name}", relative, pair.general_category, candidates, category.name
            )
            lines.append(json.dumps(record, ensure_ascii=False))
    report.descriptions_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report.examples = len(lines)
    info = {
        "pairs_file": str(pairs_file),
        "cub_dir": str(cub_dir),
        "split": split,
        "seed": seed,
        "per_category": per_category,
        "extra_images": str(extra_images) if extra_images else None,
        "examples": report.examples,
        "categories": [asdict(c) for c in report.categories],
        "skipped": [asdict(s) for s in report.skipped],
        "notes": report.notes,
    }
    (out_dir / BUILD_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return report
