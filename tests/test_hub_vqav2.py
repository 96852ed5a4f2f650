"""VQAv2 from its hub copy (kosmos_eval/data/sources/vqav2.yaml), on a synthetic copy in the card's schema made
from the bundled sample: the items, records and server submission equal the official reader's; a copy of
another size is labelled as not the official data and one of the paper's size is not; a changed schema and a
few-shot run each stop with one line; without --data-dir the declared id is read, then its fallback."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.data import hub_load
from kosmos_eval.data.hub_load import open_split
from kosmos_eval.data.hub_source import HubSource, hub_source
from kosmos_eval.errors import DataError
from kosmos_eval.formats.vqa import locate_vqav2, read_vqav2
from kosmos_eval.formats.vqa_hub import vqav2_hub_items
from kosmos_eval.generators.hub_copies import write_hub_copy
from kosmos_eval.generators.samples import write_sample
from kosmos_eval.runner.run import RunOutcome, evaluate

SOURCE = hub_source("vqav2")
assert SOURCE is not None
COPY = SOURCE.default
SPLITS = ("test-dev", "val")  # the copy's splits: the sample has no test2015 questions
SAMPLE_ROWS = 9  # the sample's questions per split (3 images x 3 questions)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    return write_hub_copy("vqav2", tmp_path_factory.mktemp("hub") / "VQAv2")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sample") / "vqav2"
    write_sample("vqav2", folder)
    return folder


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory, sample) -> dict[str, RunOutcome]:
    """Runs on the sample as the real release is laid out: the sample's own test-dev answers (which neither
    the real files nor the hub copy have) removed."""
    out, released = tmp_path_factory.mktemp("sample-runs"), tmp_path_factory.mktemp("released") / "vqav2"
    shutil.copytree(sample, released)
    (released / "v2_mscoco_test-dev2015_annotations.json").unlink()
    return {split: run(out, split, released) for split in SPLITS}


def run(out: Path, split: str, data: Path | None = None, **overrides: Any) -> RunOutcome:
    config = RunConfig(
        task="vqav2", backend="chance", split=split, data_dir=str(data) if data else None, output_dir=str(out)
    )
    return evaluate(replace(config, **overrides), progress=False)


def records(outcome: RunOutcome) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]


def submission(outcome: RunOutcome) -> list[dict[str, Any]]:
    return json.loads(Path(outcome.summary["exports"]["submission (VQAv2 server format)"]).read_text())


@pytest.mark.parametrize("split", SPLITS)
def test_hub_items_equal_the_official_readers(copy, sample, split) -> None:
    questions, annotations, images = locate_vqav2(sample, split)
    # the real test-dev has no annotation file: the sample's own test-dev answers stay out of the copy too
    official = read_vqav2(questions, annotations if split == "val" else None, images, sample)
    hub = vqav2_hub_items(open_split("vqav2", split, {}, local_copy=copy))
    assert len(hub) == len(official) == SAMPLE_ROWS
    assert hub == official  # ids, COCO image names and keys, questions, the ten answers, types
    assert all(isinstance(item.question_id, int) for item in hub)  # the server's key stays an int
    assert all(item.answers for item in hub) == (split == "val")
    assert hub[0].image.load().size == official[0].image.load().size


@pytest.mark.parametrize("split", SPLITS)
def test_a_run_on_the_copy_equals_the_sample_run(copy, sample_runs, split, tmp_path) -> None:
    outcome = run(tmp_path, split, copy)
    reference = sample_runs[split]
    assert records(outcome) == records(reference)  # same questions, ids, answers, image keys, prompts
    assert len(records(outcome)) == SAMPLE_ROWS
    assert submission(outcome) == submission(reference)
    assert [entry["question_id"] for entry in submission(outcome)] == sorted(
        int(record["id"]) for record in records(reference)
    )
    hub = outcome.summary["data"]["hub"]
    assert hub["id"] == COPY.id
    assert hub["split"] == COPY.splits[split].hub
    assert hub["local_copy"] == str(copy)
    assert hub["rows"] == SAMPLE_ROWS
    assert outcome.summary["data"]["paper_split"] is False
    rows = f"{COPY.splits[split].rows:,}"
    assert hub["why_not_paper"] == [
        f"hub split '{COPY.splits[split].hub}' has {SAMPLE_ROWS} rows; the official {split} split has {rows}"
    ]
    assert outcome.summary["notes"][0].startswith(f"data: hub {COPY.id} ({split}) is not the official data")
    if split == "val":
        assert outcome.summary["metrics"]["accuracy"] == reference.summary["metrics"]["accuracy"]
    else:
        assert "accuracy" not in outcome.summary["metrics"]


def with_rows(rows: int) -> HubSource:
    """The declaration, with every split's row count set to `rows` (the synthetic copy's size)."""
    splits = {name: replace(split, rows=rows) for name, split in COPY.splits.items()}
    return replace(SOURCE, copies=(replace(COPY, splits=splits), *SOURCE.copies[1:]))


@pytest.mark.parametrize("split", SPLITS)
def test_a_copy_of_the_papers_size_is_the_paper_split(copy, split, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(hub_load, "hub_source", lambda task: with_rows(SAMPLE_ROWS))
    outcome = run(tmp_path, split, copy)
    assert outcome.summary["data"]["paper_split"] is True
    assert outcome.summary["data"]["hub"]["why_not_paper"] == []
    assert not any("not the official data" in note for note in outcome.summary["notes"])


def rewrite_validation(copy: Path, folder: Path, change) -> Path:
    """A copy of `copy` whose validation parquet file is `change(dataset)`."""
    import datasets

    changed = shutil.copytree(copy, folder / "VQAv2")
    path = changed / "data" / "validation-00000-of-00001.parquet"
    table = change(datasets.Dataset.from_parquet(str(path), keep_in_memory=True))
    table.to_parquet(str(path))
    return changed


def test_a_copy_without_a_declared_column_stops_with_one_line(copy, tmp_path) -> None:
    changed = rewrite_validation(copy, tmp_path, lambda table: table.remove_columns("answers"))
    with pytest.raises(DataError) as error:
        run(tmp_path / "out", "val", changed)
    message = str(error.value)
    assert "\n" not in message
    assert f"hub {COPY.id} (split validation): no column 'answers' (for answers)" in message
    assert "hub_revision" in message


def test_a_copy_with_a_retyped_column_stops_with_one_line(copy, tmp_path) -> None:
    import datasets

    changed = rewrite_validation(
        copy, tmp_path, lambda table: table.cast_column("question_id", datasets.Value("string"))
    )
    with pytest.raises(DataError) as error:
        run(tmp_path / "out", "val", changed)
    message = str(error.value)
    assert "\n" not in message
    assert f"hub {COPY.id} (split validation): column 'question_id' (for question_id) is string, expected int" in (
        message
    )


def test_few_shot_from_the_copy_says_where_demos_come_from(copy, tmp_path) -> None:
    with pytest.raises(DataError) as error:
        run(tmp_path, "val", copy, shots=2)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"vqav2 --shots 2: hub {COPY.id} has no 'train' split for demos: ")
    assert COPY.demos is not None and message.endswith(COPY.demos)
    assert "HuggingFaceM4/the_cauldron" in COPY.demos


class DatasetNotFoundError(Exception):
    """Named as `datasets` names the error for an id the hub does not have."""


def redirect_hub(monkeypatch, copy: Path, served: set[str]) -> list[tuple[str, str, Any]]:
    """`datasets.load_dataset` for hub ids: the ids in `served` read `copy`, any other is not found."""
    import datasets

    real = datasets.load_dataset
    calls: list[tuple[str, str, Any]] = []

    def load_dataset(path: str, name: str | None = None, split: str | None = None, **kwargs: Any) -> Any:
        calls.append((path, split, kwargs.get("revision")))
        if path not in served:
            raise DatasetNotFoundError(f"Dataset '{path}' doesn't exist on the Hub or cannot be accessed.")
        return real(str(copy), name=name, split=split)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_without_data_dir_the_declared_id_is_read(copy, sample_runs, tmp_path, monkeypatch) -> None:
    calls = redirect_hub(monkeypatch, copy, {COPY.id})
    outcome = run(tmp_path, "val", None)
    assert calls == [(COPY.id, "validation", COPY.revision)]
    assert outcome.summary["data"]["hub"]["id"] == COPY.id
    assert outcome.summary["data"]["hub"]["local_copy"] is None
    assert outcome.summary["data"]["origin"] == f"hub {COPY.id}"
    assert outcome.summary["identity"]["hub"] == f"{COPY.id}@default"
    assert records(outcome) == records(sample_runs["val"])


def test_an_id_the_hub_no_longer_has_falls_back(copy, sample_runs, tmp_path, monkeypatch) -> None:
    assert COPY.fallback_ids, "the declaration keeps the copy's other id"
    fallback = COPY.fallback_ids[0]
    calls = redirect_hub(monkeypatch, copy, {fallback})
    outcome = run(tmp_path, "test-dev", None)
    assert [path for path, _, _ in calls] == [COPY.id, fallback]
    assert {split for _, split, _ in calls} == {"testdev"}
    assert outcome.summary["data"]["hub"]["id"] == fallback
    assert outcome.summary["identity"]["hub"] == f"{fallback}@default"
    assert submission(outcome) == submission(sample_runs["test-dev"])


def test_no_id_found_is_one_line_naming_every_id_asked(tmp_path, monkeypatch, copy) -> None:
    calls = redirect_hub(monkeypatch, copy, set())
    with pytest.raises(DataError) as error:
        run(tmp_path, "val", None)
    message = str(error.value)
    assert [path for path, _, _ in calls] == [COPY.id, *COPY.fallback_ids]
    assert "\n" not in message
    asked = " or ".join([COPY.id, *COPY.fallback_ids])
    assert f"hub {asked} (split validation): not found on the hub" in message
