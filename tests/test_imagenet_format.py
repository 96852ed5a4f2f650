"""ImageNet validation readers on tiny hand-made copies of every layout (synset folders, devkit, Kaggle).

The fixture world: three classes and six images.

    ILSVRC2012_ID  WNID        words                     canonical index (sorted WNID)
    1              n02119789   kit fox, Vulpes macrotis  2
    2              n02100735   English setter            1
    3              n01440764   tench, Tinca tinca        0
    1001           n00001740   entity  (an inner node: not a class)

Ground truth, one ILSVRC2012_ID per image 1..6: 3 1 2 2 3 1
-> WNIDs tench, kit fox, setter, setter, tench, kit fox -> labels 0 2 1 1 0 2 (the same in every layout).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from kosmos_eval.errors import DataError
from kosmos_eval.formats.imagenet import (
    ImageNetClass,
    detect_layout,
    duplicate_names,
    normalise_class_name,
    read_class_names,
    read_imagenet_val,
    read_meta,
)
from kosmos_eval.generators.pictures import make_image

META_ROWS = [
    (1, "n02119789", "kit fox, Vulpes macrotis"),
    (2, "n02100735", "English setter"),
    (3, "n01440764", "tench, Tinca tinca"),
    (1001, "n00001740", "entity"),
]
GROUND_TRUTH_IDS = [3, 1, 2, 2, 3, 1]
ID_TO_WNID = {row[0]: row[1] for row in META_ROWS}
EXPECTED_LABELS = [0, 2, 1, 1, 0, 2]
IDS = [f"ILSVRC2012_val_{n:08d}" for n in range(1, 7)]
MAPPING = "n01440764 tench, Tinca tinca\nn02100735 English setter\nn02119789 kit fox, Vulpes macrotis\n"


def _jpeg(path: Path, index: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_image(index).save(path, format="JPEG")


def _flat_images(folder: Path) -> None:
    for number, image_id in enumerate(IDS, start=1):
        _jpeg(folder / f"{image_id}.JPEG", number)


def _synset_images(folder: Path) -> None:
    for number, (image_id, class_id) in enumerate(zip(IDS, GROUND_TRUTH_IDS, strict=True), start=1):
        _jpeg(folder / ID_TO_WNID[class_id] / f"{image_id}.JPEG", number)


def _write_meta(path: Path, style: str, rows: list[tuple[int, str, str]] = META_ROWS) -> None:
    """meta.mat as the devkit has it ("records": a (N, 1) struct array whose fields hold 1x1 arrays and
    children as an empty 1x0 array for leaves), or as savemat writes simpler Python structures ("cells": a list
    of dicts, "columns": one struct of columns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if style == "records":
        fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height"]
        synsets = np.empty((len(rows), 1), dtype=[(name, object) for name in fields])
        for i, (class_id, wnid, words) in enumerate(rows):
            leaf = class_id <= 1000
            children = np.zeros((1, 0)) if leaf else np.array([[1, 2, 3]])
            values = [[[class_id]], [wnid], [words], ["a gloss"], [[0 if leaf else 3]], children, [[0]]]
            for name, value in zip(fields, values, strict=True):
                synsets[i, 0][name] = np.array(value)
    elif style == "cells":
        synsets = [{"ILSVRC2012_ID": c, "WNID": w, "words": t} for c, w, t in rows]
    else:
        synsets = {"ILSVRC2012_ID": [r[0] for r in rows], "WNID": [r[1] for r in rows], "words": [r[2] for r in rows]}
    scipy.io.savemat(path, {"synsets": synsets})


def _devkit_root(tmp_path: Path, style: str = "records") -> Path:
    root = tmp_path / "imagenet"
    _flat_images(root / "val")
    data = root / "ILSVRC2012_devkit_t12" / "data"
    _write_meta(data / "meta.mat", style)
    data.joinpath("ILSVRC2012_validation_ground_truth.txt").write_text("\n".join(map(str, GROUND_TRUTH_IDS)) + "\n")
    return root


def _kaggle_root(tmp_path: Path) -> Path:
    root = tmp_path / "kaggle"
    _flat_images(root / "ILSVRC" / "Data" / "CLS-LOC" / "val")
    rows = [
        f"{image_id},{ID_TO_WNID[c]} 10 20 30 40 {ID_TO_WNID[c]} 1 2 3 4 "
        for image_id, c in zip(IDS, GROUND_TRUTH_IDS, strict=True)
    ]
    rows = rows[3:] + rows[:3]  # Kaggle's file is not in image order
    (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows) + "\n")
    (root / "LOC_synset_mapping.txt").write_text(MAPPING)
    return root


def _synset_root(tmp_path: Path) -> Path:
    root = tmp_path / "folders"
    _synset_images(root / "val")
    (root / "LOC_synset_mapping.txt").write_text(MAPPING)
    return root


# ----------------------------------------------------------------------------------------------- layouts


def test_synset_folders_with_mapping_file(tmp_path):
    root = _synset_root(tmp_path)
    assert detect_layout(root) == "synset-folders"
    items, classes = read_imagenet_val(root)
    assert [c.wnid for c in classes] == ["n01440764", "n02100735", "n02119789"]
    assert classes[0] == ImageNetClass(0, "n01440764", "tench", ("tench", "Tinca tinca"))
    assert [c.name for c in classes] == ["tench", "English setter", "kit fox"]
    assert [item.id for item in items] == IDS
    assert [item.label for item in items] == EXPECTED_LABELS
    assert items[1].image.key == "val/n02119789/ILSVRC2012_val_00000002.JPEG"  # relative to the data root
    assert items[1].image.load().size == (48, 40)


def test_root_itself_may_be_the_folder_of_synset_folders(tmp_path):
    root = tmp_path / "val"
    _synset_images(root)
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"n01440764": "tench", "n02100735": "English setter", "n02119789": "kit fox"}))
    items, classes = read_imagenet_val(root, names)
    assert [item.label for item in items] == EXPECTED_LABELS
    assert items[0].image.key == "n01440764/ILSVRC2012_val_00000001.JPEG"
    assert classes[2].lemmas == ("kit fox",)  # a user's name is taken verbatim, not split


@pytest.mark.parametrize("style", ["records", "cells", "columns"])
def test_devkit_ground_truth_is_translated_through_meta_mat(tmp_path, style):
    root = _devkit_root(tmp_path, style)
    assert detect_layout(root) == "devkit"
    items, classes = read_imagenet_val(root)
    # ILSVRC2012_ID order (kit fox, setter, tench) is not the canonical order (tench, setter, kit fox)
    assert [c.name for c in classes] == ["tench", "English setter", "kit fox"]
    assert [item.label for item in items] == EXPECTED_LABELS
    assert items[0].image.key == "val/ILSVRC2012_val_00000001.JPEG"


def test_meta_mat_keeps_only_leaf_ids_and_handles_a_single_record(tmp_path):
    _write_meta(tmp_path / "all.mat", "records")
    assert read_meta(tmp_path / "all.mat") == {
        1: ("n02119789", "kit fox, Vulpes macrotis"),
        2: ("n02100735", "English setter"),
        3: ("n01440764", "tench, Tinca tinca"),
    }  # 1001 (entity) is an inner node
    _write_meta(tmp_path / "one.mat", "records", META_ROWS[2:3])  # loadmat squeezes a 1x1 struct to one dict
    assert read_meta(tmp_path / "one.mat") == {3: ("n01440764", "tench, Tinca tinca")}


def test_kaggle_flat_folder_with_solution_csv(tmp_path):
    root = _kaggle_root(tmp_path)
    assert detect_layout(root) == "kaggle"
    items, classes = read_imagenet_val(root)
    assert [item.id for item in items] == IDS
    assert [item.label for item in items] == EXPECTED_LABELS
    assert items[5].image.key == "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000006.JPEG"
    assert classes[1].lemmas == ("English setter",)


def test_devkit_wins_over_kaggle_when_both_are_present(tmp_path):
    root = _devkit_root(tmp_path)
    (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n")
    assert detect_layout(root) == "devkit"


# ----------------------------------------------------------------------------------------------- class-name files


def test_plain_list_takes_wnids_from_the_synset_folders(tmp_path):
    root = tmp_path / "d"
    _synset_images(root / "val")
    names = tmp_path / "names.txt"
    names.write_text("tench\nEnglish setter\nkit fox, Vulpes macrotis\n\n")  # trailing blank line is fine
    classes = read_class_names(root, names)
    assert [(c.index, c.wnid, c.name) for c in classes] == [
        (0, "n01440764", "tench"),
        (1, "n02100735", "English setter"),
        (2, "n02119789", "kit fox, Vulpes macrotis"),  # verbatim: a plain list is not split into lemmas
    ]


def test_plain_list_with_wrong_count_or_no_wnids_is_refused(tmp_path):
    root = _synset_root(tmp_path)
    names = tmp_path / "names.txt"
    names.write_text("tench\nkit fox\n")
    with pytest.raises(DataError, match=r"names.txt: 2 names but 3 classes in .*LOC_synset_mapping.txt"):
        read_class_names(root, names)
    with pytest.raises(DataError, match=r"a plain list of names needs the WNIDs"):
        read_class_names(None, names)
    names.with_suffix(".json").write_text(json.dumps(["tench", " ", "kit fox"]))
    with pytest.raises(DataError, match=r"names.json, entry 2: no name given for n02100735"):
        read_class_names(root, names.with_suffix(".json"))
    names.write_text("tench\n\nkit fox\n")
    with pytest.raises(DataError, match=r"names.txt, line 2: empty name"):
        read_class_names(root, names)


TENCH, FOX = "n01440764", "n02119789"
FOX_WORDS = "kit fox, Vulpes macrotis"
VERBATIM = (FOX_WORDS, (FOX_WORDS,))  # CSV/TSV/Keras names are used as given ...
SPLIT = ("kit fox", ("kit fox", "Vulpes macrotis"))  # ... LOC-style text lines and JSON lists are lemma lists
MAPPING_FILES = {  # file -> (contents, [(name, lemmas) of tench, of kit fox]): canonical order puts tench first
    "loc.txt": (f"{FOX} {FOX_WORDS}\n{TENCH} tench, Tinca tinca", [("tench", ("tench", "Tinca tinca")), SPLIT]),
    "tabs.txt": (f"{FOX}\t{FOX_WORDS}\n\n{TENCH}\ttench\n", [("tench", ("tench",)), SPLIT]),
    "header.tsv": (f"wnid\tname\n{FOX}\t{FOX_WORDS}\n{TENCH}\ttench\n", [("tench", ("tench",)), VERBATIM]),
    "quoted.csv": (f'{TENCH},"tench, Tinca"\n{FOX},{FOX_WORDS}\n', [("tench, Tinca", ("tench, Tinca",)), VERBATIM]),
    "lemmas.json": (json.dumps({FOX: ["kit fox", "Vulpes macrotis"], TENCH: "tench"}), [("tench", ("tench",)), SPLIT]),
    "keras.json": (json.dumps({"0": [TENCH, "tench"], "1": [FOX, FOX_WORDS]}), [("tench", ("tench",)), VERBATIM]),
}


@pytest.mark.parametrize("filename", sorted(MAPPING_FILES))
def test_mapping_files(tmp_path, filename):
    text, expected = MAPPING_FILES[filename]
    path = tmp_path / filename
    path.write_text(text)
    classes = read_class_names(None, path)
    assert [(c.index, c.wnid) for c in classes] == [(0, TENCH), (1, FOX)]
    assert [(c.name, c.lemmas) for c in classes] == expected


def test_bad_names_files(tmp_path):
    keras = tmp_path / "k.json"
    keras.write_text(json.dumps({"0": ["n02119789", "kit fox"], "1": ["n01440764", "tench"]}))
    with pytest.raises(DataError, match=r"k.json: class indices are not in sorted-WNID order"):
        read_class_names(None, keras)
    bad = tmp_path / "b.txt"
    bad.write_text("n01440764 tench\nn0144 goldfish\n")
    with pytest.raises(DataError, match=r"b.txt, line 2: 'n0144' is not a WordNet id"):
        read_class_names(None, bad)
    bad.write_text("n01440764 tench\nn01440764 goldfish\n")
    with pytest.raises(DataError, match=r"b.txt, line 2: n01440764 is defined twice"):
        read_class_names(None, bad)
    with pytest.raises(DataError, match=r"missing.tsv: class names file not found"):
        read_class_names(None, tmp_path / "missing.tsv")


# ----------------------------------------------------------------------------------------------- error cases


def test_flat_images_without_ground_truth(tmp_path):
    root = tmp_path / "r"
    _flat_images(root / "val")
    (root / "LOC_synset_mapping.txt").write_text(MAPPING)
    assert detect_layout(root) is None
    with pytest.raises(DataError, match=r"val: flat validation images but no ground truth"):
        read_imagenet_val(root)
    assert detect_layout(tmp_path / "empty") is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no ImageNet validation images"):
        read_imagenet_val(tmp_path / "empty")


def test_devkit_without_meta_mat(tmp_path):
    root = _devkit_root(tmp_path)
    (root / "ILSVRC2012_devkit_t12" / "data" / "meta.mat").unlink()
    (root / "LOC_synset_mapping.txt").write_text(MAPPING)  # names alone do not translate ILSVRC2012_IDs
    with pytest.raises(DataError, match=r"meta.mat: file not found"):
        read_imagenet_val(root)


def test_image_count_must_match_ground_truth_lines(tmp_path):
    root = _devkit_root(tmp_path)
    (root / "val" / "ILSVRC2012_val_00000004.JPEG").unlink()
    with pytest.raises(DataError, match=r"val: 5 images but .*ground_truth.txt labels 6 \(first missing: .*00000004\)"):
        read_imagenet_val(root)
    items, _ = read_imagenet_val(root, require_complete=False)  # a deliberate subset
    assert [item.label for item in items] == [0, 2, 1, 0, 2]
    _jpeg(root / "val" / "ILSVRC2012_val_00000007.JPEG", 7)
    with pytest.raises(DataError, match=r"00000007.JPEG: image number 7 has no line in .*\(6 lines\)"):
        read_imagenet_val(root, require_complete=False)


def test_unknown_ids_and_wnids(tmp_path):
    root = _devkit_root(tmp_path)
    gt = root / "ILSVRC2012_devkit_t12" / "data" / "ILSVRC2012_validation_ground_truth.txt"
    gt.write_text("3\n1\n1001\n2\n3\n1\n")  # 1001 is in meta.mat but not a leaf class
    with pytest.raises(DataError, match=r"ground_truth.txt, line 3: '1001' is not an ILSVRC2012_ID of the leaf"):
        read_imagenet_val(root)

    kaggle = _kaggle_root(tmp_path)
    solution = kaggle / "LOC_val_solution.csv"
    solution.write_text(solution.read_text().replace("n02100735 10", "n09999999 10"))
    with pytest.raises(DataError, match=r"LOC_val_solution.csv, line \d: class n09999999 has no name in .*mapping"):
        read_imagenet_val(kaggle)
    solution.write_text("ImageId,PredictionString\nILSVRC2012_val_00000001,dog 1 2 3 4\n")
    with pytest.raises(DataError, match=r"LOC_val_solution.csv, line 2: expected 'ImageId,WNID"):
        read_imagenet_val(kaggle)
    solution.write_text("ImageId,PredictionString\n" + "\n".join(f"{i},n01440764 1 2 3 4" for i in IDS[:5]))
    with pytest.raises(DataError, match=r"00000006.JPEG: no row for ILSVRC2012_val_00000006 in"):
        read_imagenet_val(kaggle)


def test_synset_folder_without_a_class_name(tmp_path):
    root = _synset_root(tmp_path)
    (root / "LOC_synset_mapping.txt").write_text("n01440764 tench\nn02100735 English setter\n")
    with pytest.raises(DataError, match=r"val/n02119789: class n02119789 has no name in .*LOC_synset_mapping.txt"):
        read_imagenet_val(root)
    (root / "LOC_synset_mapping.txt").unlink()
    with pytest.raises(DataError, match=r"no class names found .*pass --class-names"):
        read_imagenet_val(root)


def test_corrupt_meta_mat(tmp_path):
    (tmp_path / "meta.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DataError, match=r"meta.mat: cannot read as a MATLAB file"):
        read_meta(tmp_path / "meta.mat")
    scipy.io.savemat(tmp_path / "other.mat", {"something": np.zeros(3)})
    with pytest.raises(DataError, match=r"other.mat: no 'synsets' variable"):
        read_meta(tmp_path / "other.mat")


# ----------------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Tench.  ", "tench"),  # case, surrounding space, trailing period
        ("great_white_shark", "great white shark"),  # "_" stands for a space
        ("three-toed sloth", "three-toed sloth"),  # hyphens are kept ...
        ("three toed  sloth", "three toed sloth"),  # ... so these two stay different
        ("potter\u2019s\twheel ..", "potter's wheel"),  # typographic apostrophe, tab, trailing dots and space
        ("R.V.", "r.v"),  # only trailing periods go
        ("", ""),
    ],
)
def test_normalise_class_name(text, expected):
    assert normalise_class_name(text) == expected


def test_duplicate_names_compare_normalised_names():
    classes = [
        ImageNetClass(0, "n02012849", "crane", ("crane",)),
        ImageNetClass(1, "n02113186", "Cardigan", ("Cardigan", "Cardigan Welsh corgi")),
        ImageNetClass(2, "n02963159", "cardigan", ("cardigan",)),
        ImageNetClass(3, "n03126707", "crane", ("crane",)),
        ImageNetClass(4, "n03710637", "maillot", ("maillot",)),
    ]
    assert duplicate_names(classes) == {"crane": ["n02012849", "n03126707"], "cardigan": ["n02113186", "n02963159"]}
