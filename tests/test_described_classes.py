"""Classification with descriptions (paper Table 11): the JSONL reader, the CUB builder and its CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from kosmos_eval.cli.prepare import prepare_app
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.cub_builder import (
    build_described_set,
    default_pairs_file,
    find_cub_dir,
    read_cub_index,
    read_pairs,
)
from kosmos_eval.formats.described_classes import Candidate, find_descriptions_file, read_described_classes

CLASSES = [
    "001.Black_footed_Albatross",
    "114.Black_throated_Sparrow",
    "120.Fox_Sparrow",
    "187.American_Three_toed_Woodpecker",
    "192.Downy_Woodpecker",
]
TRAIN_NUMBERS = (1, 4)  # of the 5 images per class; 2, 3 and 5 are test images

THREE_TOED = ("three toed woodpecker", "It has black and white stripes throughout the body and a yellow crown.")
DOWNY = ("downy woodpecker", "It has white spots on its black wings and some red on its crown.")
BLACK_THROATED = ("black throated sparrow", "It has white underparts and a distinctive black bib on the throat.")
FOX = ("fox sparrow", "It has a reddish-brown plumage and a streaked breast.")
GENTOO = ("Gentoo penguin", "It has a black head and white patch above its eyes.")
ROYAL = ("royal penguin", "It has a white face and a yellow crown.")


def make_cub(root: Path) -> Path:
    """A fake CUB_200_2011 folder under root: 5 classes x 5 tiny JPEGs, image ids 1..25 in class order, so
    class k (1-based) holds ids 5k-4 .. 5k; image n of a class is named <Class>_000n_<id>.jpg."""
    cub = root / "CUB_200_2011"
    images, labels, splits = [], [], []
    image_id = 0
    for class_id, name in enumerate(CLASSES, start=1):
        (cub / "images" / name).mkdir(parents=True)
        for n in range(1, 6):
            image_id += 1
            relative = f"{name}/{name.split('.', 1)[1]}_{n:04d}_{image_id}.jpg"
            Image.new("RGB", (8, 8), (image_id * 9, 40, 200)).save(cub / "images" / relative, "JPEG")
            images.append(f"{image_id} {relative}")
            labels.append(f"{image_id} {class_id}")
            splits.append(f"{image_id} {1 if n in TRAIN_NUMBERS else 0}")
    (cub / "images.txt").write_text("\n".join(images) + "\n")
    (cub / "classes.txt").write_text("\n".join(f"{i} {n}" for i, n in enumerate(CLASSES, start=1)) + "\n")
    (cub / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (cub / "train_test_split.txt").write_text("\n".join(splits) + "\n")
    return cub


def record(slug: str, file: str, general: str, pair: tuple, label: str) -> dict:
    return {
        "id": f"{slug}/{file}",
        "image": f"images/{slug}/{file}",
        "general_category": general,
        "candidates": [{"name": n, "description": d} for n, d in pair],
        "label": label,
    }


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------- pairs file and CUB metadata


def test_default_pairs_file_holds_table_11():
    pairs = read_pairs(default_pairs_file())
    assert [p.general_category for p in pairs] == ["woodpecker", "penguin", "sparrow"]
    assert [[(c.name, c.description) for c in p.categories] for p in pairs] == [
        [THREE_TOED, DOWNY],
        [GENTOO, ROYAL],
        [BLACK_THROATED, FOX],
    ]
    assert [[c.cub_class for c in p.categories] for p in pairs] == [
        ["187.American_Three_toed_Woodpecker", "192.Downy_Woodpecker"],
        [None, None],
        ["114.Black_throated_Sparrow", "120.Fox_Sparrow"],
    ]
    assert [p.paper_images for p in pairs] == ["CUB-200-2011", "websites", "websites"]


def test_cub_dir_is_found_from_either_folder(tmp_path):
    cub = make_cub(tmp_path)
    assert find_cub_dir(tmp_path) == cub
    assert find_cub_dir(cub) == cub
    with pytest.raises(DataError, match=r"no images\.txt"):
        find_cub_dir(tmp_path / "elsewhere")


def test_cub_index_groups_images_by_class_with_split(tmp_path):
    index = read_cub_index(make_cub(tmp_path))
    # class 5 = 192.Downy_Woodpecker holds ids 21..25; n = 1 and 4 (ids 21, 24) are train
    assert index["192.Downy_Woodpecker"] == [
        (f"192.Downy_Woodpecker/Downy_Woodpecker_{n:04d}_{20 + n}.jpg", n in TRAIN_NUMBERS) for n in range(1, 6)
    ]


def test_bad_cub_metadata_names_file_and_line(tmp_path):
    cub = make_cub(tmp_path)
    (cub / "classes.txt").write_text("1 001.Black_footed_Albatross\nbroken\n")
    with pytest.raises(DataError, match=r"classes.txt:2: expected '<id> <value>'"):
        read_cub_index(cub)


# ---------------------------------------------------------------- builder


def test_build_train_split_exact_content(tmp_path):
    make_cub(tmp_path / "cub")
    out = tmp_path / "out"
    report = build_described_set(tmp_path / "cub", default_pairs_file(), out, per_category=2, split="train")
    # train images are n = 1 and 4: three toed (class 4) ids 16, 19; downy (5) 21, 24; black throated (2) 6, 9;
    # fox (3) 11, 14. Exactly 2 per class, so the draw takes all of them. Penguins are not in CUB: skipped.
    woodpeckers, sparrows = (THREE_TOED, DOWNY), (BLACK_THROATED, FOX)
    assert lines_of(out / "descriptions.jsonl") == [
        record(
            "three_toed_woodpecker",
            "American_Three_toed_Woodpecker_0001_16.jpg",
            "woodpecker",
            woodpeckers,
            THREE_TOED[0],
        ),
        record(
            "three_toed_woodpecker",
            "American_Three_toed_Woodpecker_0004_19.jpg",
            "woodpecker",
            woodpeckers,
            THREE_TOED[0],
        ),
        record("downy_woodpecker", "Downy_Woodpecker_0001_21.jpg", "woodpecker", woodpeckers, DOWNY[0]),
        record("downy_woodpecker", "Downy_Woodpecker_0004_24.jpg", "woodpecker", woodpeckers, DOWNY[0]),
        record("black_throated_sparrow", "Black_throated_Sparrow_0001_6.jpg", "sparrow", sparrows, BLACK_THROATED[0]),
        record("black_throated_sparrow", "Black_throated_Sparrow_0004_9.jpg", "sparrow", sparrows, BLACK_THROATED[0]),
        record("fox_sparrow", "Fox_Sparrow_0001_11.jpg", "sparrow", sparrows, FOX[0]),
        record("fox_sparrow", "Fox_Sparrow_0004_14.jpg", "sparrow", sparrows, FOX[0]),
    ]
    assert report.examples == 8
    assert report.counts == {
        "three toed woodpecker": 2,
        "downy woodpecker": 2,
        "black throated sparrow": 2,
        "fox sparrow": 2,
    }
    assert [(s.general_category, s.names) for s in report.skipped] == [("penguin", ("Gentoo penguin", "royal penguin"))]
    assert "not in CUB-200-2011" in report.skipped[0].reason and "--extra-images" in report.skipped[0].reason
    assert report.notes == ["sparrow: the paper's images came from websites; these come from CUB-200-2011"]
    # the copies are byte-identical and the set reads back
    original = tmp_path / "cub/CUB_200_2011/images/192.Downy_Woodpecker/Downy_Woodpecker_0004_24.jpg"
    assert (out / "images/downy_woodpecker/Downy_Woodpecker_0004_24.jpg").read_bytes() == original.read_bytes()
    items = read_described_classes(find_descriptions_file(out))
    assert [i.label for i in items[:4]] == ["three toed woodpecker"] * 2 + ["downy woodpecker"] * 2
    assert items[2].image.key == "images/downy_woodpecker/Downy_Woodpecker_0001_21.jpg"
    assert json.loads((out / "build_info.json").read_text())["split"] == "train"


def test_seeded_draw_is_reproducible_and_respects_the_split(tmp_path):
    make_cub(tmp_path / "cub")
    pairs = default_pairs_file()
    build_described_set(tmp_path / "cub", pairs, tmp_path / "a", per_category=2, split="test", seed=7)
    build_described_set(tmp_path / "cub", pairs, tmp_path / "b", per_category=2, split="test", seed=7)
    first = (tmp_path / "a/descriptions.jsonl").read_text()
    assert first == (tmp_path / "b/descriptions.jsonl").read_text()
    downy = [r["id"] for r in lines_of(tmp_path / "a/descriptions.jsonl") if r["label"] == "downy woodpecker"]
    # test images of downy are n = 2, 3, 5 (ids 22, 23, 25); the documented draw is
    # random.Random("<seed>:<category name>").sample(sorted paths, k), then sorted
    test_files = [f"Downy_Woodpecker_{n:04d}_{20 + n}.jpg" for n in (2, 3, 5)]
    expected = sorted(random.Random("7:downy woodpecker").sample(test_files, 2))
    assert downy == [f"downy_woodpecker/{name}" for name in expected]
    # every drawn image of every category is a test image (n not in 1, 4)
    for row in lines_of(tmp_path / "a/descriptions.jsonl"):
        assert int(row["image"].split("_")[-2]) not in TRAIN_NUMBERS


def test_split_all_and_shortfall_note(tmp_path):
    make_cub(tmp_path / "cub")
    report = build_described_set(tmp_path / "cub", default_pairs_file(), tmp_path / "all", per_category=5, split="all")
    assert report.counts["fox sparrow"] == 5  # all 5 images of the class
    short = build_described_set(
        tmp_path / "cub", default_pairs_file(), tmp_path / "short", per_category=3, split="train"
    )
    assert short.counts["fox sparrow"] == 2  # only n = 1, 4 are train
    assert "fox sparrow: only 2 images available (CUB-200-2011 120.Fox_Sparrow (train split)), not 3" in short.notes


def test_penguins_come_from_extra_images(tmp_path):
    make_cub(tmp_path / "cub")
    extra = tmp_path / "mine"
    for folder, count in (("Gentoo penguin", 2), ("royal_penguin", 3)):  # exact name, and the slug form
        (extra / folder).mkdir(parents=True)
        for n in range(count):
            Image.new("RGB", (6, 6), (n * 50, 0, 0)).save(extra / folder / f"p{n}.png")
    (extra / "royal_penguin" / "notes.txt").write_text("not an image")
    report = build_described_set(
        tmp_path / "cub", default_pairs_file(), tmp_path / "out", per_category=2, split="train", extra_images=extra
    )
    assert report.skipped == []
    assert report.counts["Gentoo penguin"] == 2 and report.counts["royal penguin"] == 2
    penguins = [r for r in lines_of(tmp_path / "out/descriptions.jsonl") if r["general_category"] == "penguin"]
    assert [r["id"] for r in penguins[:2]] == ["gentoo_penguin/p0.png", "gentoo_penguin/p1.png"]
    assert penguins[0]["candidates"] == [{"name": n, "description": d} for n, d in (GENTOO, ROYAL)]
    assert report.examples == 12  # 3 pairs x 2 categories x 2 images


def test_build_refuses_bad_options_and_existing_output(tmp_path):
    make_cub(tmp_path / "cub")
    pairs = default_pairs_file()
    with pytest.raises(UserError, match="--split 'val'"):
        build_described_set(tmp_path / "cub", pairs, tmp_path / "o", split="val")
    with pytest.raises(UserError, match="--per-category must be at least 1"):
        build_described_set(tmp_path / "cub", pairs, tmp_path / "o", per_category=0)
    build_described_set(tmp_path / "cub", pairs, tmp_path / "o", per_category=1)
    with pytest.raises(UserError, match="pass --overwrite"):
        build_described_set(tmp_path / "cub", pairs, tmp_path / "o", per_category=1)
    report = build_described_set(tmp_path / "cub", pairs, tmp_path / "o", per_category=2, overwrite=True)
    assert report.examples == 8
    assert len(list((tmp_path / "o/images/fox_sparrow").iterdir())) == 2


def test_unknown_cub_class_in_pairs_file(tmp_path):
    make_cub(tmp_path / "cub")
    pairs = tmp_path / "pairs.yaml"
    pairs.write_text(
        "pairs:\n  - general_category: wren\n    categories:\n"
        "      - {name: cactus wren, description: d1, cub_class: 194.Cactus_Wren}\n"
        "      - {name: rock wren, description: d2, cub_class: null}\n"
    )
    with pytest.raises(DataError, match=r"cub_class '194.Cactus_Wren' of 'cactus wren' is not in .*classes.txt"):
        build_described_set(tmp_path / "cub", pairs, tmp_path / "o")


def test_everything_skipped_is_an_error(tmp_path):
    make_cub(tmp_path / "cub")
    pairs = tmp_path / "pairs.yaml"
    pairs.write_text(
        "pairs:\n  - general_category: penguin\n    categories:\n"
        "      - {name: a, description: d1, cub_class: null}\n      - {name: b, description: d2}\n"
    )
    with pytest.raises(DataError, match="nothing to write, every pair was skipped"):
        build_described_set(tmp_path / "cub", pairs, tmp_path / "o")
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- reader


def write_set(folder: Path, rows: list, images: tuple[str, ...] = ("a.jpg", "b.jpg")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in images:
        Image.new("RGB", (4, 4)).save(folder / name, "JPEG")
    path = folder / "descriptions.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def row(**changes) -> dict:
    base = {
        "id": "x1",
        "image": "a.jpg",
        "general_category": "woodpecker",
        "candidates": [
            {"name": "three toed woodpecker", "description": "d1"},
            {"name": "downy woodpecker", "description": "d2"},
        ],
        "label": "downy woodpecker",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_reader_returns_items(tmp_path):
    path = write_set(tmp_path, [row(), "", row(id=2, image="b.jpg", label="three toed woodpecker")])
    items = read_described_classes(path)
    assert [(i.id, i.image.key, i.label_index, i.label) for i in items] == [
        ("x1", "a.jpg", 1, "downy woodpecker"),
        ("2", "b.jpg", 0, "three toed woodpecker"),
    ]
    assert items[0].candidates == (Candidate("three toed woodpecker", "d1"), Candidate("downy woodpecker", "d2"))
    assert items[0].general_category == "woodpecker"
    assert items[0].image.load().size == (4, 4)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            row(label="red bellied woodpecker"),
            "descriptions.jsonl:2: field 'label' 'red bellied woodpecker' is not one",
        ),
        (
            row(general_category=None),
            "descriptions.jsonl:2: field 'general_category' must be a non-empty string, is missing",
        ),
        (
            row(candidates=[{"name": "a", "description": "d"}]),
            "descriptions.jsonl:2: field 'candidates' must be a list of at least 2",
        ),
        (
            row(candidates=[{"name": "a", "description": "d"}, {"name": "b"}], label="a"),
            "descriptions.jsonl:2: field 'candidates\\[1\\].description' must be a non-empty string",
        ),
        (
            row(
                candidates=[{"name": "Downy", "description": "d"}, {"name": "downy", "description": "e"}], label="Downy"
            ),
            "descriptions.jsonl:2: field 'candidates': names 'Downy' and 'downy' are the same",
        ),
        (row(image="/abs/a.jpg"), "descriptions.jsonl:2: field 'image' must be relative"),
        (row(id="x0"), "descriptions.jsonl:2: id 'x0' is already used on line 1"),
        ("{not json", "descriptions.jsonl:2: not valid JSON"),
        ("[1, 2]", "descriptions.jsonl:2: expected a JSON object, got list"),
    ],
)
def test_reader_errors_name_line_and_field(tmp_path, bad, message):
    path = write_set(tmp_path, [row(id="x0"), bad])
    with pytest.raises(DataError, match=message):
        read_described_classes(path)


def test_reader_reports_all_missing_images_up_front(tmp_path):
    path = write_set(tmp_path, [row(), row(id="x2", image="gone1.jpg"), row(id="x3", image="sub/gone2.jpg")])
    with pytest.raises(DataError, match=r"2 image file\(s\) not found under .* \(first: line 2, 'gone1.jpg'\)"):
        read_described_classes(path)


def test_reader_rejects_empty_file(tmp_path):
    path = write_set(tmp_path, ["", "  "])
    with pytest.raises(DataError, match="no examples found"):
        read_described_classes(path)


def test_find_descriptions_file(tmp_path):
    with pytest.raises(DataError, match=r"no descriptions\.jsonl"):
        find_descriptions_file(tmp_path)
    (tmp_path / "mine.jsonl").write_text("")
    assert find_descriptions_file(tmp_path) == tmp_path / "mine.jsonl"
    assert find_descriptions_file(tmp_path / "mine.jsonl") == tmp_path / "mine.jsonl"
    (tmp_path / "other.jsonl").write_text("")
    with pytest.raises(DataError, match=r"several .jsonl files \(mine.jsonl, other.jsonl\)"):
        find_descriptions_file(tmp_path)
    (tmp_path / "descriptions.jsonl").write_text("")
    assert find_descriptions_file(tmp_path) == tmp_path / "descriptions.jsonl"
    with pytest.raises(DataError, match="does not exist"):
        find_descriptions_file(tmp_path / "nowhere")


# ---------------------------------------------------------------- CLI


def test_cli_prints_written_and_skipped(tmp_path):
    make_cub(tmp_path / "cub")
    out = tmp_path / "out"
    args = ["cub-descriptions", "--cub", str(tmp_path / "cub"), "--output", str(out), "--per-category", "2"]
    result = CliRunner().invoke(prepare_app, [*args, "--split", "train", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert f"wrote 8 examples to {out / 'descriptions.jsonl'}" in result.output
    assert (
        "downy woodpecker" in result.output
        and "2 images  from CUB-200-2011 192.Downy_Woodpecker (train split)" in result.output
    )
    assert "skipped penguin (Gentoo penguin / royal penguin): 'Gentoo penguin' is not in CUB-200-2011" in result.output
    assert "note: sparrow: the paper's images came from websites" in result.output
    again = CliRunner().invoke(prepare_app, args)
    assert again.exit_code == 2
    assert "pass --overwrite" in again.output


def test_cli_help_teaches(tmp_path):
    result = CliRunner().invoke(prepare_app, ["cub-descriptions", "--help"])
    assert result.exit_code == 0
    for text in ("--extra-images", "--per-category", "Table 11", "train_test_split.txt"):
        assert text in result.output
