"""Image paths named in data files stay inside the task's data folder (issue 27).

A data folder may come from elsewhere, and what its files name is opened, decoded and, with `--model openai`,
uploaded. So an absolute path, a `..` escape and a symlink out of the folder are refused by every reader, by
`data verify` and by `run` (one line, exit 2, naming the file, the record and the field) before any image is
read; a symlink that stays inside is fine, and one that leads out is followed only into a folder listed in
$KOSMOS_EVAL_DATA_ROOTS. The folders are copies of the bundled samples (the official formats), tampered with.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.core.registry import TASKS
from kosmos_eval.data.locate import SAMPLE_MARKER, bundled_sample
from kosmos_eval.errors import DataError
from kosmos_eval.generators.pictures import make_image

ROOTS_ENV = "KOSMOS_EVAL_DATA_ROOTS"  # the documented opt-in (docs/data.md)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_trusted_roots(monkeypatch):
    monkeypatch.delenv(ROOTS_ENV, raising=False)


def _outside(tmp_path: Path) -> Path:
    """A real image outside every data folder: what a hostile record would like to have read."""
    secret = tmp_path / "outside" / "1234.jpg"
    secret.parent.mkdir(parents=True, exist_ok=True)
    make_image(7).save(secret)
    return secret


def _copy(task: str, tmp_path: Path) -> Path:
    folder = shutil.copytree(bundled_sample(task), tmp_path / "data" / task)
    (folder / SAMPLE_MARKER).unlink()
    return folder


def _link(path: Path, target: Path | str) -> None:
    """Replace the file or folder at `path` with a symlink to `target`."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target)


def _edit_json(path: Path, change: Callable[[object], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _edit_first_jsonl(path: Path, field: str, value: str) -> str:
    lines = path.read_text().splitlines()
    record = json.loads(lines[0])
    old, record[field] = record[field], value
    lines[0] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    return old


# ------------------------------------------------------------------------------------------- tampering, per task
# Each takes (data folder, mode, outside image) and returns nothing; mode is one of "absolute", "dotdot",
# "symlink-out", "symlink-in".


def _vizwiz(folder: Path, mode: str, secret: Path) -> None:
    entries = json.loads((folder / "val.json").read_text())
    image = folder / "val" / entries[0]["image"]
    if mode == "absolute":
        entries[0]["image"] = str(secret)
    elif mode == "dotdot":
        entries[0]["image"] = os.path.relpath(secret, folder / "val")
    elif mode == "symlink-out":
        _link(image, secret)
    else:
        _link(image, entries[1]["image"])
    (folder / "val.json").write_text(json.dumps(entries))


def _first_test(data: object) -> dict:
    return next(entry for entry in data["images"] if entry["split"] == "test")  # type: ignore[index]


def _karpathy_filepath(folder: Path, mode: str, secret: Path) -> None:
    def change(data: object) -> None:
        entry = _first_test(data)
        entry["filename"] = secret.name
        entry["filepath"] = str(secret.parent) if mode == "absolute" else os.path.relpath(secret.parent, folder)

    if mode in ("absolute", "dotdot"):
        _edit_json(folder / "dataset_coco.json", change)
    elif mode == "symlink-out":  # the common real setup: val2014 -> /datasets/coco/val2014
        moved = shutil.move(folder / "val2014", secret.parent / "val2014")
        (folder / "val2014").symlink_to(moved)
    else:
        shutil.move(folder / "val2014", folder / "real-val2014")
        (folder / "val2014").symlink_to("real-val2014")


def _karpathy_filename(folder: Path, mode: str, secret: Path) -> None:
    def change(data: object) -> None:
        entry = _first_test(data)
        absolute = mode == "absolute"
        entry["filename"] = str(secret) if absolute else os.path.relpath(secret, folder / entry["filepath"])

    if mode in ("absolute", "dotdot"):
        _edit_json(folder / "dataset_coco.json", change)
    else:
        entry = _first_test(json.loads((folder / "dataset_coco.json").read_text()))
        image = folder / entry["filepath"] / entry["filename"]
        other = next(p for p in image.parent.iterdir() if p != image)
        _link(image, secret if mode == "symlink-out" else other)


def _flickr(folder: Path, mode: str, secret: Path) -> None:
    images = folder / "flickr30k-images"
    entry = _first_test(json.loads((folder / "dataset_flickr30k.json").read_text()))
    if mode in ("absolute", "dotdot"):
        name = str(secret) if mode == "absolute" else os.path.relpath(secret, images)
        _edit_json(folder / "dataset_flickr30k.json", lambda data: _first_test(data).update(filename=name))
    else:
        image = images / entry["filename"]
        _link(image, secret if mode == "symlink-out" else next(p for p in images.iterdir() if p != image))


def _hateful_memes(folder: Path, mode: str, secret: Path) -> None:
    split = folder / "dev_seen.jsonl"
    if mode in ("absolute", "dotdot"):
        _edit_first_jsonl(split, "img", str(secret) if mode == "absolute" else os.path.relpath(secret, folder))
    else:
        image = folder / json.loads(split.read_text().splitlines()[0])["img"]
        _link(image, secret if mode == "symlink-out" else next(p for p in image.parent.iterdir() if p != image))


def _cub(folder: Path, mode: str, secret: Path) -> None:
    file = folder / "descriptions.jsonl"
    if mode in ("absolute", "dotdot"):
        _edit_first_jsonl(file, "image", str(secret) if mode == "absolute" else os.path.relpath(secret, folder))
    else:
        image = folder / json.loads(file.read_text().splitlines()[0])["image"]
        _link(image, secret if mode == "symlink-out" else next(p for p in image.parent.iterdir() if p != image))


def _vqav2(folder: Path, mode: str, secret: Path) -> None:
    questions = folder / "v2_OpenEnded_mscoco_val2014_questions.json"
    if mode == "dotdot":  # the one field that becomes part of a file name
        escape = os.path.relpath(secret.parent, folder / "val2014")
        _edit_json(questions, lambda data: data.update(data_subtype=f"x/../{escape}/y"))  # type: ignore[union-attr]
    elif mode == "symlink-out":
        moved = shutil.move(folder / "val2014", secret.parent / "val2014")
        (folder / "val2014").symlink_to(moved)
    else:
        shutil.move(folder / "val2014", folder / "images-real")
        (folder / "val2014").symlink_to(folder / "images-real")  # an absolute target, still inside


def _websrc(folder: Path, mode: str, secret: Path) -> None:
    for pages in folder.glob("*/*/processed_data"):
        if mode == "symlink-out":
            moved = shutil.move(pages, secret.parent / f"{pages.parent.parent.name}-{pages.parent.name}")
            pages.symlink_to(moved)
        else:
            shutil.move(pages, pages.parent / "pages")
            pages.symlink_to("pages")


def _listed(pattern: str) -> Callable[[Path, str, Path], None]:
    """For readers that list folders (no path in a data file): the first listed image becomes a symlink."""

    def tamper(folder: Path, mode: str, secret: Path) -> None:
        first, other = sorted(folder.glob(pattern))[:2]
        _link(first, secret if mode == "symlink-out" else other)

    return tamper


@dataclass(frozen=True)
class Case:
    task: str
    split: str
    names: str  # what the refusal names: the data file (or, for listed images, the image)
    field: str | None  # the field it names; None for listed images
    tamper: Callable[[Path, str, Path], None]
    modes: tuple[str, ...] = ("absolute", "dotdot", "symlink-out")

    def __str__(self) -> str:
        return f"{self.task}-{self.field or 'listed'}"


CASES = [
    Case("vizwiz", "val", "val.json: entry 0", "image", _vizwiz),
    Case("coco_caption", "test", "dataset_coco.json: images[", "filepath", _karpathy_filepath),
    Case("coco_caption", "test", "dataset_coco.json: images[", "filename", _karpathy_filename),
    Case("flickr30k", "test", "dataset_flickr30k.json: images[", "filename", _flickr),
    Case("hateful_memes", "dev_seen", "dev_seen.jsonl: line 1", "img", _hateful_memes),
    Case("cub_descriptions", "test", "descriptions.jsonl:1", "image", _cub),
    Case("vqav2", "val", "v2_OpenEnded_mscoco_val2014_questions.json", "data_subtype", _vqav2, ("dotdot",)),
    Case("vqav2", "val", "v2_OpenEnded_mscoco_val2014_questions.json: questions[", "image_id", _vqav2, ()),
    Case("websrc", "dev", "dataset.csv line ", "id", _websrc, ()),
    Case("imagenet", "validation", "ILSVRC2012_val_", None, _listed("val/*/*.JPEG"), ()),
    Case("raven", "test", "query-1.png", None, _listed("exp-1/query-*.png"), ()),
    Case("rendered_sst2", "test", "rendered-sst2/test/negative/", None, _listed("*/test/negative/*.png"), ()),
]
REFUSED = [pytest.param(case, mode, id=f"{case}-{mode}") for case in CASES for mode in case.modes]
SYMLINKED = [pytest.param(case, id=str(case)) for case in CASES if case.field != "data_subtype"]
REFUSED += [pytest.param(case, "symlink-out", id=f"{case}-symlink-out") for case in CASES if not case.modes]


def _crafted(case: Case, mode: str, tmp_path: Path) -> Path:
    folder = _copy(case.task, tmp_path)
    case.tamper(folder, mode, _outside(tmp_path))
    return folder


def _load(case: Case, folder: Path) -> list:
    return TASKS.get(case.task)().load(case.split, folder)


def _verify(case: Case, folder: Path):
    args = ["data", "verify", case.task, "--data-dir", str(folder), "--split", case.split, "--no-progress"]
    return runner.invoke(app, args)


def _assert_one_line(text: str, case: Case, mode: str) -> None:
    assert case.names in text
    if case.field is not None:
        assert f"field '{case.field}'" in text or f"field '{case.field}/" in text or f"/{case.field}'" in text
    if mode == "symlink-out":
        assert f"export {ROOTS_ENV}=" in text  # the one step that opts in
    else:
        assert "inside the data folder" in text or "relative to the data folder" in text


@pytest.mark.parametrize(("case", "mode"), REFUSED)
def test_the_loader_refuses_a_path_leaving_the_folder(case, mode, tmp_path):
    folder = _crafted(case, mode, tmp_path)
    with pytest.raises(DataError) as info:
        _load(case, folder)
    message = str(info.value)
    assert "\n" not in message
    _assert_one_line(message, case, mode)


@pytest.mark.parametrize(("case", "mode"), REFUSED)
def test_data_verify_refuses_with_one_line_and_exit_2(case, mode, tmp_path):
    result = _verify(case, _crafted(case, mode, tmp_path))
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    _assert_one_line(lines[0], case, mode)


@pytest.mark.parametrize("case", SYMLINKED)
def test_a_symlink_that_stays_inside_the_folder_is_read(case, tmp_path):
    folder = _crafted(case, "symlink-in", tmp_path)
    assert _load(case, folder)
    result = _verify(case, folder)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("case", SYMLINKED)
def test_a_symlink_out_is_read_once_its_target_is_trusted(case, tmp_path, monkeypatch):
    folder = _crafted(case, "symlink-out", tmp_path)
    monkeypatch.setenv(ROOTS_ENV, os.pathsep.join(["/nonexistent-root", str(tmp_path / "outside")]))
    assert _load(case, folder)
    result = _verify(case, folder)
    assert result.exit_code == 0, result.output


def test_the_refusal_suggests_the_folder_the_symlink_points_to(tmp_path, monkeypatch):
    case = next(c for c in CASES if c.field == "filepath")
    folder = _crafted(case, "symlink-out", tmp_path)
    with pytest.raises(DataError) as info:
        _load(case, folder)
    target = os.path.realpath(tmp_path / "outside" / "val2014")
    assert f"`export {ROOTS_ENV}={target}` and rerun" in str(info.value)
    monkeypatch.setenv(ROOTS_ENV, target)
    assert _load(case, folder)


def test_a_trusted_root_does_not_cover_a_sibling_folder(tmp_path, monkeypatch):
    """/data/out is trusted, /data/outside is not: the check compares whole path components."""
    case = CASES[0]
    folder = _crafted(case, "symlink-out", tmp_path)
    monkeypatch.setenv(ROOTS_ENV, str(tmp_path / "out"))
    with pytest.raises(DataError, match=f"export {ROOTS_ENV}="):
        _load(case, folder)


def test_a_data_folder_reached_through_a_symlink_is_trusted_as_a_whole(tmp_path):
    """The folder the user names is vouched for wherever it really lives (--data-dir ~/data/x -> /mnt/x)."""
    case = CASES[0]
    folder = _crafted(case, "symlink-in", tmp_path)
    alias = tmp_path / "alias"
    alias.symlink_to(folder)
    assert _load(case, alias)


def test_coco_caption_annotations_file_names_are_confined(tmp_path):
    from kosmos_eval.formats.captions import read_coco_captions

    secret = _outside(tmp_path)
    folder = tmp_path / "ann"
    (folder / "val2014").mkdir(parents=True)
    make_image(1).save(folder / "val2014" / "a.jpg")
    for name, field_value in (("absolute", str(secret)), ("dotdot", os.path.relpath(secret, folder / "val2014"))):
        annotations = folder / f"captions_{name}.json"
        images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": field_value}]
        anns = [{"image_id": 1, "caption": "a"}, {"image_id": 2, "caption": "b"}]
        annotations.write_text(json.dumps({"images": images, "annotations": anns}))
        with pytest.raises(DataError, match=r"captions_\w+\.json: images\[1\]: field 'file_name'"):
            read_coco_captions(annotations, folder / "val2014", folder)


def test_cub_images_txt_paths_are_confined(tmp_path):
    from kosmos_eval.formats.cub_builder import read_cub_index

    secret = _outside(tmp_path)
    cub = tmp_path / "CUB_200_2011"
    (cub / "images" / "001.A").mkdir(parents=True)
    make_image(1).save(cub / "images" / "001.A" / "a.jpg")
    for escape in (str(secret), os.path.relpath(secret, cub / "images")):
        (cub / "images.txt").write_text(f"1 001.A/a.jpg\n2 {escape}\n")
        (cub / "classes.txt").write_text("1 001.A\n")
        (cub / "image_class_labels.txt").write_text("1 1\n2 1\n")
        (cub / "train_test_split.txt").write_text("1 0\n2 0\n")
        with pytest.raises(DataError, match=r"images\.txt: image id 2: field 'path'"):
            read_cub_index(cub)


def test_a_run_refuses_before_any_image_is_read(tmp_path, monkeypatch):
    """`run` with the chance backend (which opens every image) stops at data load: no image opened, no run
    folder, one line naming the file and the field."""
    import PIL.Image

    opened: list[str] = []
    real_open = PIL.Image.open

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    folder = _crafted(CASES[0], "absolute", tmp_path)
    monkeypatch.setattr(PIL.Image, "open", spy)
    output = tmp_path / "runs"
    args = ["run", "vizwiz", "--model", "chance", "--data-dir", str(folder), "--split", "val"]
    result = runner.invoke(app, [*args, "--output", str(output), "--no-progress"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "val.json: entry 0: field 'image'" in lines[0], result.output
    assert opened == []
    assert not output.exists() or not any(output.iterdir())


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("C:\\images\\x.jpg", "is the absolute path"),
        ("c:x.jpg", "is the absolute path"),
        ("\\\\server\\share\\x.jpg", "is the absolute path"),
        ("img\\..\\..\\x.jpg", "climbs out with '..'"),
        ("img/x\x00.jpg", "contains a NUL character"),
        ("./", "must name a file"),
    ],
)
def test_windows_forms_nul_and_empty_names_are_refused_too(name, problem, tmp_path):
    from kosmos_eval.formats.common import resolve_inside

    with pytest.raises(DataError, match=rf"^f\.json: entry 3: field 'img' .*{problem}.*; fix the file"):
        resolve_inside(tmp_path, name, "f.json: entry 3", "img")
    assert resolve_inside(tmp_path, "img\\.\\x.jpg", "f.json", "img") == tmp_path / "img" / "x.jpg"
