"""HatefulMemes, ImageNet and CUB read from their hub copies (kosmos_eval/data/sources/), offline.

Each copy is written synthetically as its repo holds it (kosmos_eval/generators/hub_copies.py): HatefulMemes as
the release's own files, ImageNet as webdataset tars, CUB as parquet in the card's schema. A chance run on each
must see the examples the official reader makes from the same data (ids, labels, image keys, hence the very
same scores), and its summary must name the copy and say when it is not the paper's data. The hub-id paths run
with `huggingface_hub` / `datasets` pointed at the local copy; failures are one line naming the id and the fix.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.data import hub_load
from kosmos_eval.data.hub_source import hub_source
from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import DATA_ROOTS_ENV
from kosmos_eval.formats.cub_builder import build_described_set, default_pairs_file
from kosmos_eval.generators.hub_copies import write_card_repo, write_hub_copy
from kosmos_eval.generators.pictures import make_image
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.hub import HubData

SAMPLES = Path(__file__).parents[1] / "kosmos_eval" / "data" / "samples"
NAMES = str(SAMPLES / "imagenet" / "LOC_synset_mapping.txt")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    return {task: write_hub_copy(task, root / task) for task in ("hateful_memes", "imagenet", "cub_descriptions")}


def _run(folder: Path, task: str, **fields: Any) -> dict[str, Any]:
    outcome = evaluate(RunConfig(task=task, backend="chance", output_dir=str(folder), **fields), progress=False)
    records = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    return {"summary": outcome.summary, "records": records}


def _same(hub: dict[str, Any], official: dict[str, Any], *fields: str) -> None:
    for field in ("id", *fields):
        assert [r[field] for r in hub["records"]] == [r[field] for r in official["records"]], field
    assert hub["summary"]["metrics"] == official["summary"]["metrics"]  # same prompts and image keys


def test_each_task_reads_its_declared_copy() -> None:
    from kosmos_eval.core.registry import TASKS

    expected = {
        "hateful_memes": "neuralcatcher/hateful_memes",
        "imagenet": "timm/imagenet-1k-wds",
        "cub_descriptions": "bentrevett/caltech-ucsd-birds-200-2011",
    }
    for task, hub_id in expected.items():
        assert hub_source(task).default.id == hub_id and issubclass(TASKS.get(task), HubData)
    assert hub_source("hateful_memes").default.splits["dev_seen"].rows == 500
    assert hub_source("imagenet").default.splits["validation"].files == "imagenet1k-validation-*.tar"


# --------------------------------------------------------------------------------------------- hateful memes


def test_a_download_of_the_memes_repo_is_the_release_layout(copies, tmp_path) -> None:
    copy = copies["hateful_memes"]
    assert not (copy / "README.md").read_text().startswith("---") and not list(copy.rglob("*.parquet"))
    hub = _run(tmp_path / "hub", "hateful_memes", data_dir=str(copy))
    official = _run(tmp_path / "official", "hateful_memes", sample=True)
    _same(hub, official, "label")
    assert len(hub["records"]) == 10 and {r["label"] for r in hub["records"]} == {0, 1}
    assert hub["summary"]["data"]["origin"] == f"--data-dir ({copy})" and "hub" not in hub["summary"]["data"]


def _fake_hub_cache(copy: Path, root: Path, calls: list[dict[str, Any]]) -> Any:
    """snapshot_download as the hub cache answers it: the files matching allow_patterns as symlinks from
    snapshots/<commit>/ into blobs/, so the reader must follow them out of the snapshot folder."""
    repo = root / "datasets--neuralcatcher--hateful_memes"
    snapshot = repo / "snapshots" / ("c" * 40)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("c" * 40)

    def snapshot_download(repo_id: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        for path in sorted(p for p in copy.rglob("*") if p.is_file()):
            name = path.relative_to(copy).as_posix()
            if any(fnmatch.fnmatch(name, pattern) for pattern in kwargs["allow_patterns"]):
                blob = repo / "blobs" / name.replace("/", "_")
                blob.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, blob)
                (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
                if not (snapshot / name).exists():
                    (snapshot / name).symlink_to(os.path.relpath(blob, (snapshot / name).parent))
        return str(snapshot)

    return snapshot_download


def test_the_memes_hub_id_fetches_the_split_file_then_only_its_images(copies, tmp_path, monkeypatch) -> None:
    import huggingface_hub

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _fake_hub_cache(copies["hateful_memes"], tmp_path, calls))
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    hub = _run(tmp_path / "hub", "hateful_memes")
    official = _run(tmp_path / "official", "hateful_memes", sample=True)
    _same(hub, official, "label")
    listed = [
        json.loads(line)["img"] for line in (SAMPLES / "hateful_memes" / "dev_seen.jsonl").read_text().splitlines()
    ]
    assert [call["allow_patterns"] for call in calls] == [["dev_seen.jsonl"], listed]
    assert all(c["repo_id"] == "neuralcatcher/hateful_memes" and c["repo_type"] == "dataset" for c in calls)
    assert all(c["local_files_only"] is True and c["revision"] is None for c in calls)  # HF_HUB_OFFLINE is set
    data = hub["summary"]["data"]
    assert data["origin"] == "hub neuralcatcher/hateful_memes" and data["dir"] is None
    assert data["hub"]["rows"] == 10 and data["paper_split"] is False
    assert data["hub"]["why_not_paper"] == ["hub split 'dev_seen' has 10 rows; the official dev_seen split has 500"]
    assert DATA_ROOTS_ENV not in os.environ  # the hub cache was trusted only while it was read

    from huggingface_hub import constants

    from kosmos_eval.tasks.ocr_free import HatefulMemesTask

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # what `kosmos-eval list` finds offline
    status = HatefulMemesTask().data_status(None)
    assert status.found and status.where.startswith("hub neuralcatcher/hateful_memes, cached copy (")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    assert not HatefulMemesTask().data_status(None).found


def test_the_official_memes_row_count_is_the_paper_split() -> None:
    copy = hub_source("hateful_memes").default
    assert hub_load.rows_table(copy, copy.id, "dev_seen", range(500)).paper_split is True
    assert hub_load.rows_table(copy, copy.id, "dev_unseen", range(540)).paper_split is True


def test_offline_with_an_empty_hub_cache_is_one_line(tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # real snapshot_download
    with pytest.raises(DataError) as caught:
        _run(tmp_path, "hateful_memes")
    message = str(caught.value)
    assert message.startswith("hateful_memes: hub neuralcatcher/hateful_memes (split dev_seen): not in the ")
    assert "the hub cannot be reached (offline?)" in message and "--data-dir" in message and "\n" not in message


def test_a_repo_without_the_split_file_is_one_line(tmp_path, monkeypatch) -> None:
    import huggingface_hub

    empty = tmp_path / "snapshot"
    empty.mkdir()
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kwargs: str(empty))
    with pytest.raises(DataError) as caught:
        _run(tmp_path, "hateful_memes", task_options={"hub_revision": "v0"})
    message = str(caught.value)  # the runner adds how to try the pipeline without data; still one line
    assert message.startswith(
        "hateful_memes: hub neuralcatcher/hateful_memes (split dev_seen): the copy has no dev_seen.jsonl; pass "
        "--task-option hub_revision=<a revision with it>, or --data-dir with the release folder"
    )
    assert "\n" not in message


class GatedRepoError(Exception):
    """Named as huggingface_hub names it: the loader recognises the kind by name."""


@pytest.mark.parametrize(
    ("task", "patched", "hub_id", "split"),
    [
        ("hateful_memes", "huggingface_hub.snapshot_download", "neuralcatcher/hateful_memes", "dev_seen"),
        ("imagenet", "datasets.load_dataset", "timm/imagenet-1k-wds", "validation"),
    ],
)
def test_a_gated_copy_says_accept_the_terms_and_log_in(task, patched, hub_id, split, tmp_path, monkeypatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise GatedRepoError(f"403 Client Error. Cannot access gated repo for url .../{hub_id}.\nAccess restricted")

    monkeypatch.setattr(patched, refuse)
    with pytest.raises(DataError) as caught:
        _run(tmp_path, task, task_options={"class_names": NAMES} if task == "imagenet" else {})
    message = str(caught.value)
    assert message.startswith(
        f"{task}: hub {hub_id} (split {split}) is gated: accept its terms at https://huggingface.co/datasets/"
        f"{hub_id} and log in (`hf auth login`, or set HF_TOKEN), then run again"
    )
    assert "\n" not in message


# -------------------------------------------------------------------------------------------------- imagenet


def test_imagenet_runs_on_its_webdataset_copy_as_on_synset_folders(copies, tmp_path) -> None:
    copy = copies["imagenet"]
    assert sorted(p.name for p in copy.glob("*.tar")) == [
        "imagenet1k-validation-00.tar",
        "imagenet1k-validation-01.tar",
    ]
    hub = _run(tmp_path / "hub", "imagenet", data_dir=str(copy), task_options={"class_names": NAMES})
    official = _run(tmp_path / "official", "imagenet", sample=True)
    _same(hub, official, "label", "label_name", "wnid")
    assert len({r["label_name"] for r in hub["records"]}) == 10  # every class of the sample, by name
    data = hub["summary"]["data"]
    assert data["origin"] == f"hub timm/imagenet-1k-wds (local copy {copy})"
    assert data["hub"]["split"] == "validation" and data["hub"]["rows"] == len(hub["records"]) == 11
    assert data["paper_split"] is False  # 11 rows, not the official 50,000
    assert any(
        note.startswith("data: hub timm/imagenet-1k-wds (validation) is not") for note in hub["summary"]["notes"]
    )


def test_imagenet_from_the_hub_is_named_with_the_bundled_wordnet_lemmas(copies, tmp_path) -> None:
    """The copy holds WordNet ids only; without --task-option class_names the 1,000 synsets' first WordNet
    lemmas shipped with the package name the classes (the lines of ILSVRC's LOC_synset_mapping.txt)."""
    from kosmos_eval.tasks.imagenet import bundled_synsets

    lines = bundled_synsets().read_text().splitlines()
    assert len(lines) == 1000 and lines[0] == "n01440764 tench, Tinca tinca"
    first_lemma = {line.split(" ", 1)[0]: line.split(" ", 1)[1].split(",")[0] for line in lines}
    hub = _run(tmp_path, "imagenet", data_dir=str(copies["imagenet"]))
    assert hub["records"] and all(r["label_name"] == first_lemma[r["wnid"]] for r in hub["records"])


@pytest.mark.parametrize(
    ("task", "hub_id", "asked", "options"),
    [
        ("imagenet", "timm/imagenet-1k-wds", {"validation": "imagenet1k-validation-*.tar"}, {"class_names": NAMES}),
        ("cub_descriptions", "bentrevett/caltech-ucsd-birds-200-2011", {"test": "data/test-*"}, {}),
    ],
)
def test_the_hub_id_is_read_for_its_split_files_only(task, hub_id, asked, options, copies, tmp_path, monkeypatch):
    import datasets

    real, calls = datasets.load_dataset, []

    def from_the_copy(path: str, name=None, split=None, revision=None, data_files=None, **kwargs: Any) -> Any:
        calls.append((path, split, revision, data_files))
        builder, files = hub_load.local_data_files(copies[task], name, split, data_files[split])
        return real(builder, data_files={split: files}, split=split)

    monkeypatch.setattr(datasets, "load_dataset", from_the_copy)
    hub = _run(tmp_path, task, task_options=options)
    assert calls == [(hub_id, next(iter(asked)), None, asked)]  # not the training shards / parquet files
    assert hub["summary"]["data"]["origin"] == f"hub {hub_id}" and hub["records"]


# ------------------------------------------------------------------------------------------------------- cub


def _test_rows(copy: Path) -> Any:
    """The copy's test split with undecoded images ({bytes, path}), read by its files: `datasets` would cache
    two folders both named data/ as one."""
    import datasets

    files = sorted(str(path) for path in (copy / "data").glob("test-*.parquet"))
    table = datasets.load_dataset("parquet", data_files={"test": files}, split="test")
    return table.cast_column("image", datasets.Image(decode=False))


def _more_birds(copy: Path, folder: Path, names_per_image: int) -> Path:
    """The CUB copy with each picture under `names_per_image` file names, so a class has more images than
    the draw takes."""
    table = _test_rows(copy)
    rows = []
    for row in table.to_list():
        stem = Path(row["image"]["path"]).stem
        for k in range(names_per_image):
            rows.append({**row, "image": {"bytes": row["image"]["bytes"], "path": f"{stem}_{k:02d}.jpg"}})
    write_card_repo(folder, table.features.copy(), {"test": rows})
    return folder


def _cub_folder(copy: Path, folder: Path) -> Path:
    """The official CUB_200_2011 layout (images.txt, classes.txt, ...) holding exactly the copy's images."""
    table = _test_rows(copy)
    names = table.features["label"].names
    lines: dict[str, list[str]] = {"images.txt": [], "image_class_labels.txt": [], "train_test_split.txt": []}
    for number, row in enumerate(table.to_list(), start=1):
        relative = f"{names[row['label']]}/{row['image']['path']}"
        (folder / "images" / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / "images" / relative).write_bytes(row["image"]["bytes"])
        lines["images.txt"].append(f"{number} {relative}")
        lines["image_class_labels.txt"].append(f"{number} {row['label'] + 1}")
        lines["train_test_split.txt"].append(f"{number} 0")
    lines["classes.txt"] = [f"{number} {name}" for number, name in enumerate(names, start=1)]
    for name, text in lines.items():
        (folder / name).write_text("\n".join(text) + "\n")
    return folder


def test_cub_from_the_hub_draws_what_prepare_cub_descriptions_draws(copies, tmp_path) -> None:
    copy = _more_birds(copies["cub_descriptions"], tmp_path / "copy", names_per_image=3)  # 6 per class
    built = tmp_path / "built"
    build_described_set(_cub_folder(copy, tmp_path / "CUB_200_2011"), default_pairs_file(), built, per_category=3)
    hub = _run(tmp_path / "hub", "cub_descriptions", data_dir=str(copy), task_options={"per_category": "3"})
    official = _run(tmp_path / "official", "cub_descriptions", data_dir=str(built))
    _same(hub, official, "label", "label_name", "names")
    assert len(hub["records"]) == 12  # woodpeckers and sparrows, 3 of 6 each; CUB has no penguins
    assert {r["id"].split("/")[0] for r in hub["records"]} == {
        "three_toed_woodpecker",
        "downy_woodpecker",
        "black_throated_sparrow",
        "fox_sparrow",
    }
    data = hub["summary"]["data"]
    assert data["hub"]["id"] == "bentrevett/caltech-ucsd-birds-200-2011" and data["paper_split"] is False
    why = data["hub"]["why_not_paper"]
    assert why[0].startswith("the paper's 120 images (3 groups x 2 classes x 20) were never released")
    assert "penguin: left out ('Gentoo penguin' is not in CUB-200-2011; 'royal penguin' is not in CUB-200-2011; " in (
        "".join(why)
    )
    assert any(
        note.startswith("data: hub bentrevett/caltech-ucsd-birds-200-2011 (test) is not the official data")
        for note in hub["summary"]["notes"]
    )


def test_cub_from_the_hub_labels_the_bundled_birds_alike(copies, tmp_path) -> None:
    hub = _run(tmp_path / "hub", "cub_descriptions", data_dir=str(copies["cub_descriptions"]))
    sample = _run(tmp_path / "sample", "cub_descriptions", sample=True)
    cub_birds = [r for r in sample["records"] if "penguin" not in r["id"]]
    assert [(r["id"], r["label"], r["label_name"]) for r in hub["records"]] == [
        (r["id"], r["label"], r["label_name"]) for r in cub_birds
    ]


def test_a_retyped_column_is_one_line(copies, tmp_path) -> None:
    import datasets

    table = _test_rows(copies["cub_descriptions"])
    features = table.features.copy()
    features["label"] = datasets.Value("string")
    names = table.features["label"].names
    rows = [{**row, "label": names[row["label"]]} for row in table.to_list()]
    changed = tmp_path / "changed"
    write_card_repo(changed, features, {"test": rows})
    with pytest.raises(DataError) as caught:
        _run(tmp_path / "runs", "cub_descriptions", data_dir=str(changed))
    assert str(caught.value) == (
        f"local copy {changed} of hub bentrevett/caltech-ucsd-birds-200-2011 (split test): column 'label' (for label) "
        "is string, expected int; the copy's card may have changed: pass --task-option hub_revision=<a revision of "
        "the expected schema>"
    )


def test_a_folder_trusted_for_one_read_is_trusted_there_only_and_never_via_the_environment(tmp_path, monkeypatch):
    """The hub cache's blobs/ (behind a snapshot's symlinks) is trusted while its snapshot is read: inside the
    block a link into it is followed, after it refused, and $KOSMOS_EVAL_DATA_ROOTS is never touched."""
    import threading

    from kosmos_eval.formats.common import DataFolder, DataPathError, trusting

    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    blobs, data = tmp_path / "blobs", tmp_path / "snapshot"
    blobs.mkdir()
    data.mkdir()
    make_image(1).save(blobs / "abc123", format="PNG")  # the cache names a blob by its hash
    (data / "img.png").symlink_to(blobs / "abc123")
    seen_elsewhere = []
    with trusting(blobs):
        assert DataFolder(data).resolve("img.png", "row 0", "img") == data / "img.png"
        assert DATA_ROOTS_ENV not in os.environ
        other = threading.Thread(target=lambda: seen_elsewhere.append(_refused(DataFolder(data), DataPathError)))
        other.start()
        other.join()
    assert seen_elsewhere == [True]  # another thread's read was not widened
    assert _refused(DataFolder(data), DataPathError)


def _refused(folder, error) -> bool:
    try:
        folder.resolve("img.png", "row 0", "img")
    except error:
        return True
    return False
