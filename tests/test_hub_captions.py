"""COCO and Flickr30k captioning read from their hub copies (kosmos_eval/data/sources/{coco_caption,flickr30k}.yaml),
offline, on synthetic copies in the cards' schemas made from the bundled samples.

A run on a copy evaluates what a run on the official Karpathy files does: the same image ids, references,
image keys and prompts, and the same COCO results export. COCO's two copies are joined on the file name: an
image the image copy lacks is left out and the run says how many, in the summary, as not the paper's data.
What cannot be served (COCO's train2014 demonstration pool), a column a card no longer has and a local copy
laid out otherwise are each one line naming the copy, the split and what to do."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.errors import DataError
from kosmos_eval.generators.hub_copies import write_card_repo, write_hub_copy
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.captioning import IMAGE_COPY_FOLDER, CocoCaptionTask, Flickr30kTask

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="caption scoring needs Java")
HUB_IDS = {
    "coco_caption": "yerevann/coco-karpathy + lmms-lab/COCO-Caption",
    "flickr30k": "umaru97/flickr30k_train_val_test",
}


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    return {task: write_hub_copy(task, root / task) for task in HUB_IDS}


def _run(out: Path, task: str, **fields) -> dict:
    config = RunConfig(task=task, backend="chance", output_dir=str(out), **fields)
    outcome = evaluate(config, progress=False)
    records = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    (export,) = outcome.summary["exports"].values()
    return {"summary": outcome.summary, "records": records, "export": json.loads(Path(export).read_text())}


def _rewrite(repo: Path, split: str, into: Path, change) -> None:
    """`repo`'s `split` with `change(features, rows) -> (features, rows)` applied, as a repo in `into`."""
    import datasets

    table = datasets.load_dataset(str(repo), split=split)
    features, rows = change(table.features.copy(), table.to_list())
    write_card_repo(into, features, {split: rows})


@pytest.mark.slow
@needs_java
@pytest.mark.parametrize("task", sorted(HUB_IDS))
def test_a_hub_copy_runs_as_the_official_karpathy_files(task, copies, tmp_path) -> None:
    hub = _run(tmp_path / "hub", task, data_dir=str(copies[task]), limit=4)
    official = _run(tmp_path / "official", task, sample=True, limit=4)
    for field in ("id", "image_id", "references", "images", "prompt"):
        assert [r[field] for r in hub["records"]] == [r[field] for r in official["records"]], field
    assert len(hub["records"]) == 4 and all(len(r["references"]) == 5 for r in hub["records"])
    assert hub["export"] == official["export"]  # the COCO results file: same image ids, same captions
    assert hub["summary"]["metrics"] == official["summary"]["metrics"]
    data = hub["summary"]["data"]
    assert data["hub"]["id"] == HUB_IDS[task] and data["hub"]["split"] == "test"
    assert data["origin"] == f"hub {HUB_IDS[task]} (local copy {copies[task]})"
    assert data["paper_split"] is False  # 8 test rows, not Karpathy's 5,000 / 1,000
    official_rows = {"coco_caption": "5,000", "flickr30k": "1,000"}[task]
    assert data["hub"]["why_not_paper"] == [f"hub split 'test' has 8 rows; the official test split has {official_rows}"]
    assert hub["summary"]["identity"]["hub"] == f"{HUB_IDS[task]}@default"


def test_coco_records_both_copies(copies) -> None:
    task = CocoCaptionTask()
    examples = task.load("val", copies["coco_caption"])
    assert [e.id for e in examples] == [e.id for e in CocoCaptionTask().load("val", _sample("coco_caption"))]
    hub = task.hub_provenance("val")
    assert hub["split"] == "validation" and hub["rows"] == 2 and hub["local_copy"] == str(copies["coco_caption"])
    images = hub["images"]
    assert images["id"] == "lmms-lab/COCO-Caption" and images["split"] == "val"
    assert images["rows"] == 13  # every val2014 image of the sample: test 8, val 2, restval 3
    assert images["local_copy"] == str(copies["coco_caption"] / IMAGE_COPY_FOLDER)
    assert examples[0].image("image").load().size == (96, 72)  # the pixels come from the image copy


def _sample(task: str) -> Path:
    return Path(__file__).parents[1] / "kosmos_eval" / "data" / "samples" / task


def _coco_without(copies: dict[str, Path], into: Path, drop) -> Path:
    """The COCO pair with the image copy's rows for which `drop(row)` holds removed (or changed by it)."""
    shutil.copytree(copies["coco_caption"], into, ignore=shutil.ignore_patterns(IMAGE_COPY_FOLDER))
    _rewrite(copies["coco_caption"] / IMAGE_COPY_FOLDER, "val", into / IMAGE_COPY_FOLDER, drop)
    return into


@pytest.mark.slow
@needs_java
def test_a_join_that_loses_rows_is_counted_and_not_the_paper_split(copies, tmp_path) -> None:
    official = CocoCaptionTask().load("test", _sample("coco_caption"))
    test_ids, lost_name = [e.id for e in official], official[1].image("image").key.split("/")[-1]
    pair = _coco_without(
        copies, tmp_path / "pair", lambda f, rows: (f, [r for r in rows if r["file_name"] != lost_name])
    )
    run = _run(tmp_path / "runs", "coco_caption", data_dir=str(pair))
    assert [r["id"] for r in run["records"]] == [i for i in test_ids if i != test_ids[1]]
    reason = (
        f"1 of the 8 Karpathy test images not in hub lmms-lab/COCO-Caption (split val), left out (first: {lost_name})"
    )
    hub = run["summary"]["data"]["hub"]
    assert reason in hub["why_not_paper"] and run["summary"]["data"]["paper_split"] is False
    assert any(reason in note and "is not the official data" in note for note in run["summary"]["notes"])


def test_a_join_that_finds_no_image_is_one_line(copies, tmp_path) -> None:
    def renamed(features, rows):
        return features, [{**row, "file_name": "COCO_train2014_" + row["file_name"][-16:]} for row in rows]

    pair = _coco_without(copies, tmp_path / "pair", renamed)
    with pytest.raises(DataError) as caught:
        CocoCaptionTask().load("test", pair)
    message = str(caught.value)
    assert message.startswith(f"local copy {pair} of hub yerevann/coco-karpathy (split test): none of its 8 images")
    assert "lmms-lab/COCO-Caption" in message and "\n" not in message


def _drop(column: str):
    def change(features, rows):
        del features[column]
        return features, [{k: v for k, v in row.items() if k != column} for row in rows]

    return change


def _retype(column: str):
    def change(features, rows):
        import datasets

        features[column] = datasets.Value("string")
        return features, [{**row, column: json.dumps(row[column])} for row in rows]

    return change


@pytest.mark.parametrize(
    ("task", "repo", "split", "change", "expected"),
    [
        (
            "coco_caption",
            "",
            "test",
            _drop("sentences"),
            "hub yerevann/coco-karpathy (split test): no column 'sentences'",
        ),
        (
            "coco_caption",
            IMAGE_COPY_FOLDER,
            "val",
            _drop("file_name"),
            "hub lmms-lab/COCO-Caption (split val): no column 'file_name' (for file_name)",
        ),
        (
            "flickr30k",
            "",
            "test",
            _retype("caption"),
            "hub umaru97/flickr30k_train_val_test (split test): column 'caption' (for references) is string, "
            "expected list<string>",
        ),
        ("flickr30k", "", "test", _drop("filename"), "(split test): no column 'filename' (for filename)"),
    ],
)
def test_a_column_the_card_no_longer_has_is_one_line(task, repo, split, change, expected, copies, tmp_path) -> None:
    changed, source = tmp_path / "changed", copies[task]
    replaced = {repo} if repo else {"README.md", "data"}  # the repo rewritten; the other of a pair is kept
    shutil.copytree(
        source, changed, ignore=lambda folder, names: replaced & set(names) if Path(folder) == source else []
    )
    _rewrite(source / repo, split, changed / repo, change)
    with pytest.raises(DataError) as caught:
        evaluate(
            RunConfig(task=task, backend="chance", data_dir=str(changed), output_dir=str(tmp_path)), progress=False
        )
    assert expected in str(caught.value) and f"local copy {changed / repo} of" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_coco_few_shot_from_the_hub_is_refused_in_one_line_before_any_split_is_opened(
    copies, tmp_path, monkeypatch
) -> None:
    from kosmos_eval.tasks.hub import HubData

    opened = []
    monkeypatch.setattr(HubData, "open_hub", lambda self, split, data_dir: opened.append(split))
    config = RunConfig(
        task="coco_caption", backend="chance", shots=2, data_dir=str(copies["coco_caption"]), output_dir=str(tmp_path)
    )
    with pytest.raises(DataError) as caught:
        evaluate(config, progress=False)
    message = str(caught.value)
    assert message.startswith(
        "coco_caption --shots 2: hub yerevann/coco-karpathy has no 'train' split for demos: "
        "Karpathy's train split (train + restval) is mostly train2014 images"
    )
    assert "--data-dir" in message and "\n" not in message
    assert opened == []  # refused before the test split (minutes of download on the real hub) is opened


@pytest.mark.slow
@needs_java
def test_flickr30k_few_shot_draws_demos_from_the_copys_train_split(copies, tmp_path) -> None:
    hub = _run(tmp_path / "hub", "flickr30k", shots=2, data_dir=str(copies["flickr30k"]), limit=3)
    official = _run(tmp_path / "official", "flickr30k", shots=2, sample=True, limit=3)
    train = {e.id for e in Flickr30kTask().load("train", _sample("flickr30k"))}
    demo_ids = [r["demo_ids"] for r in hub["records"]]
    assert all(len(ids) == 2 and set(ids) <= train for ids in demo_ids)
    assert demo_ids == [r["demo_ids"] for r in official["records"]]  # the same pool, drawn alike
    assert [r["prompt"] for r in hub["records"]] == [r["prompt"] for r in official["records"]]
    assert [r["images"] for r in hub["records"]] == [r["images"] for r in official["records"]]


def test_the_hub_is_read_when_no_folder_is_given(copies, tmp_path, monkeypatch) -> None:
    import datasets

    real, asked = datasets.load_dataset, []
    folders = {
        "yerevann/coco-karpathy": copies["coco_caption"],
        "lmms-lab/COCO-Caption": copies["coco_caption"] / IMAGE_COPY_FOLDER,
    }

    def from_the_copies(path, name=None, split=None, revision=None, **kwargs):
        asked.append((path, split, revision))
        return real(str(folders[path]), name=name, split=split)

    monkeypatch.setattr(datasets, "load_dataset", from_the_copies)
    task = CocoCaptionTask()
    examples = task.load("test", None)
    assert asked == [("yerevann/coco-karpathy", "test", None), ("lmms-lab/COCO-Caption", "val", None)]
    assert len(examples) == 8 and task.hub_provenance("test")["local_copy"] is None


def test_a_local_copy_laid_out_otherwise_is_one_line(copies, tmp_path) -> None:
    alone = tmp_path / "alone"
    shutil.copytree(copies["coco_caption"], alone, ignore=shutil.ignore_patterns(IMAGE_COPY_FOLDER))
    with pytest.raises(DataError, match=rf"{re.escape(str(alone))}: no COCO-Caption/ with the images; a local copy"):
        CocoCaptionTask().load("test", alone)
    assert not CocoCaptionTask().data_status(alone).found

    siblings = tmp_path / "siblings"
    shutil.copytree(
        copies["coco_caption"], siblings / "coco-karpathy", ignore=shutil.ignore_patterns(IMAGE_COPY_FOLDER)
    )
    shutil.copytree(copies["coco_caption"] / IMAGE_COPY_FOLDER, siblings / IMAGE_COPY_FOLDER)
    with pytest.raises(DataError, match=r"downloaded into the folder and lmms-lab/COCO-Caption into its COCO-Caption/"):
        CocoCaptionTask().load("test", siblings)
    status = CocoCaptionTask().data_status(copies["coco_caption"])
    assert status.found and str(copies["coco_caption"] / IMAGE_COPY_FOLDER) in status.where
