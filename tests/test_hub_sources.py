"""Hub copies declared as data (kosmos_eval/data/sources/) and read through `datasets`, offline.

Every declared copy is written synthetically in its card's schema, laid out as a downloaded hub repo
(kosmos_eval/generators/hub_copies.py), and opened through the same code a run uses. VizWiz runs end to end
on its copy; the failures a user meets (a gated copy, offline with an empty cache, a split or a column the copy
lacks) are one line each naming the hub id, the split and what to do."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.data import hub_load
from kosmos_eval.data.hub_source import hub_source, parse_source, sources_folder
from kosmos_eval.data.locate import bundled_sample
from kosmos_eval.errors import DataError
from kosmos_eval.generators.hub_copies import write_card_repo, write_hub_copy
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.hub import HubData

DECLARED = sorted(path.stem for path in sources_folder().glob("*.yaml"))


def _read(copy: Path, split: str):
    """A split of a local copy, read by its files (as the loader does) so no folder-name cache is involved."""
    import datasets

    builder, files = hub_load.local_data_files(copy, None, split)
    return datasets.load_dataset(builder, data_files={split: files}, split=split)


def test_every_declaration_parses_and_names_a_hub_task() -> None:
    from kosmos_eval.core.registry import TASKS

    assert "vizwiz" in DECLARED
    for task in DECLARED:
        source = hub_source(task)
        assert source is not None and source.task == task
        assert issubclass(TASKS.get(task), HubData), f"{task} declares a hub copy its task does not read"


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"task": "x"}, "'copies' must list"),
        ({"task": "x", "copies": [{"id": "noslash", "splits": {"test": "test"}}]}, "'id' must be a hub dataset id"),
        ({"task": "x", "copies": [{"id": "a/b", "splits": {}}]}, "'splits' must map"),
        ({"task": "x", "copies": [{"id": "a/b", "splits": {"test": {"hub": "t", "rows": -1}}}]}, "rows must be"),
        (
            {
                "task": "x",
                "copies": [{"id": "a/b", "splits": {"test": "t"}, "columns": {"q": {"column": "q", "type": "float"}}}],
            },
            "columns.q needs",
        ),
    ],
)
def test_a_broken_declaration_names_its_field(declaration, message) -> None:
    with pytest.raises(DataError, match=message):
        parse_source(declaration, "sources/x.yaml")


@pytest.fixture(scope="module")
def vizwiz_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hub_copy("vizwiz", tmp_path_factory.mktemp("hub") / "VizWiz-VQA")


def _run(tmp_path: Path, **fields) -> dict:
    config = RunConfig(task="vizwiz", backend="chance", output_dir=str(tmp_path / "runs"), **fields)
    outcome = evaluate(config, progress=False)
    records = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    return {"summary": outcome.summary, "records": records}


@pytest.mark.parametrize("split", ["val", "test"])
def test_vizwiz_runs_on_its_hub_copy_as_on_the_official_files(split, vizwiz_copy, tmp_path) -> None:
    hub = _run(tmp_path / "hub", split=split, data_dir=str(vizwiz_copy))
    # the official files as released: test.json without answers (the sample's own test answers, which the hub
    # copy leaves out as the real copy has none, removed)
    released = tmp_path / "released"
    shutil.copytree(bundled_sample("vizwiz"), released)
    entries = json.loads((released / "test.json").read_text())
    (released / "test.json").write_text(json.dumps([{"image": e["image"], "question": e["question"]} for e in entries]))
    official = _run(tmp_path / "official", split=split, data_dir=str(released))
    assert [r["id"] for r in hub["records"]] == [r["id"] for r in official["records"]]
    assert [r["answers"] for r in hub["records"]] == [r["answers"] for r in official["records"]]
    assert [r["answerable"] for r in hub["records"]] == [r["answerable"] for r in official["records"]]
    assert hub["summary"]["metrics"] == official["summary"]["metrics"]  # the chance backend sees the same prompts
    data = hub["summary"]["data"]
    assert data["hub"]["id"] == "lmms-lab/VizWiz-VQA" and data["hub"]["split"] == split
    assert data["origin"] == f"hub lmms-lab/VizWiz-VQA (local copy {vizwiz_copy})"
    assert data["paper_split"] is False  # 8 rows, not the official 4,319 / 8,000
    assert any("is not the official data" in note for note in hub["summary"]["notes"])
    assert hub["summary"]["identity"]["hub"] == "lmms-lab/VizWiz-VQA@default"


def test_a_copy_with_the_official_row_count_is_the_paper_split(vizwiz_copy, tmp_path, monkeypatch) -> None:
    declared = hub_source("vizwiz")
    copy = declared.default
    rows = len(json.loads((Path(__file__).parents[1] / "kosmos_eval/data/samples/vizwiz/val.json").read_text()))
    exact = type(copy)(**{**copy.__dict__, "splits": {**copy.splits, "val": type(copy.splits["val"])("val", rows)}})
    monkeypatch.setattr(hub_load, "hub_source", lambda task: type(declared)(task, (exact,)))
    summary = _run(tmp_path, split="val", data_dir=str(vizwiz_copy))["summary"]
    assert summary["data"]["paper_split"] is True and summary["data"]["hub"]["why_not_paper"] == []
    assert not any(note.startswith("data: hub") for note in summary["notes"])


def test_the_hub_id_is_read_when_no_folder_is_given(vizwiz_copy, tmp_path, monkeypatch) -> None:
    import datasets

    real, asked = datasets.load_dataset, []

    def from_the_copy(path, name=None, split=None, revision=None, **kwargs):
        asked.append((path, split, revision))
        builder, files = hub_load.local_data_files(vizwiz_copy, None, split)
        return real(builder, data_files={split: files}, split=split)

    monkeypatch.setattr(datasets, "load_dataset", from_the_copy)
    summary = _run(tmp_path, split="val", limit=3)["summary"]
    assert asked == [("lmms-lab/VizWiz-VQA", "val", None)]
    assert summary["data"]["origin"] == "hub lmms-lab/VizWiz-VQA" and summary["data"]["dir"] is None


def test_a_revision_and_another_id_can_be_asked_for(vizwiz_copy, monkeypatch) -> None:
    import datasets

    asked = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, **kw: asked.append((path, kw["revision"])) or 1 / 0)
    with pytest.raises(DataError):
        hub_load.open_split("vizwiz", "val", {"hub_id": "me/vizwiz", "hub_revision": "abc123"})
    assert asked == [("me/vizwiz", "abc123")]


class GatedRepoError(Exception):
    """Named as huggingface_hub names it: the loader recognises the kind by name."""


class DatasetNotFoundError(Exception):
    pass


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            GatedRepoError("401 Client Error"),
            "is gated: accept its terms at https://huggingface.co/datasets/lmms-lab/VizWiz-VQA and log in",
        ),
        (
            ConnectionError("Couldn't reach 'lmms-lab/VizWiz-VQA' on the Hub (LocalEntryNotFoundError)"),
            "not in the datasets cache and the hub cannot be reached (offline?); run `kosmos-eval data fetch "
            "vizwiz` once online",
        ),
        (ValueError("Unknown split \"val\". Should be one of ['test']."), "the copy has no such split"),
        (DatasetNotFoundError("Dataset 'lmms-lab/VizWiz-VQA' doesn't exist on the Hub"), "not found on the hub"),
    ],
)
def test_hub_failures_are_one_line_naming_id_split_and_remedy(error, expected, monkeypatch) -> None:
    import datasets

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(datasets, "load_dataset", fail)
    with pytest.raises(DataError) as caught:
        hub_load.open_split("vizwiz", "val", {})
    message = str(caught.value)
    # the declared id and then its fallback are asked where the first is gone or not cached; a gated one stops
    tried = (
        "lmms-lab/VizWiz-VQA"
        if isinstance(error, GatedRepoError | ValueError)
        else ("lmms-lab/VizWiz-VQA or lmms-lab-encoder/VizWiz-VQA")
    )
    assert message.startswith(f"vizwiz: hub {tried} (split val)")
    assert expected in message and "\n" not in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [("drop", "no column 'answers'"), ("retype", "column 'answers' (for answers) is string, expected list<string>")],
)
def test_a_card_that_changed_is_one_line(change, expected, vizwiz_copy, tmp_path) -> None:
    import datasets

    table = _read(vizwiz_copy, "val")
    features, rows = table.features.copy(), table.to_list()
    if change == "drop":
        del features["answers"]
        rows = [{k: v for k, v in row.items() if k != "answers"} for row in rows]
    else:
        features["answers"] = datasets.Value("string")
        rows = [{**row, "answers": ",".join(row["answers"])} for row in rows]
    changed = tmp_path / "changed"
    write_card_repo(changed, features, {"val": rows})
    with pytest.raises(DataError) as caught:
        hub_load.open_split("vizwiz", "val", {}, local_copy=changed)
    assert f"local copy {changed} of hub lmms-lab/VizWiz-VQA (split val): " in str(caught.value)
    assert expected in str(caught.value)


def test_a_split_the_copy_does_not_serve_says_where_demos_come_from(vizwiz_copy, tmp_path) -> None:
    with pytest.raises(
        DataError,
        match=r"vizwiz --shots 2: hub lmms-lab/VizWiz-VQA has no 'train' split for demos: the copy has no train",
    ):
        evaluate(
            RunConfig(
                task="vizwiz",
                backend="chance",
                split="val",
                shots=2,
                data_dir=str(vizwiz_copy),
                output_dir=str(tmp_path),
            ),
            progress=False,
        )


def test_two_local_copies_in_folders_of_one_name_read_their_own_rows(vizwiz_copy, tmp_path) -> None:
    """`datasets` caches a folder loaded by path under its name alone; a local copy is read by its files, so a
    second copy (another revision) in a folder of the same name is not served the first one's rows."""

    table = _read(vizwiz_copy, "val")
    features, rows = table.features.copy(), table.to_list()
    first, second = tmp_path / "a" / "VizWiz-VQA", tmp_path / "b" / "VizWiz-VQA"
    write_card_repo(first, features, {"val": rows[:3]})
    write_card_repo(second, features, {"val": [{**row, "question": "Changed?"} for row in rows[:5]]})
    one = hub_load.open_split("vizwiz", "val", {}, local_copy=first)
    two = hub_load.open_split("vizwiz", "val", {}, local_copy=second)
    assert len(one) == 3 and set(one.values("question")) != {"Changed?"}
    assert len(two) == 5 and set(two.values("question")) == {"Changed?"}


def test_data_fetch_reads_and_checks_a_copy(vizwiz_copy) -> None:
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    result = CliRunner().invoke(app, ["data", "fetch", "vizwiz", "--data-dir", str(vizwiz_copy), "--split", "val"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        f"vizwiz val: local copy {vizwiz_copy} of hub lmms-lab/VizWiz-VQA (split val): 8 rows, 8 examples; NOT the "
        "paper's data: hub split 'val' has 8 rows; the official val split has 4,319"
    )


def test_data_fetch_names_a_copy_whose_examples_repeat(vizwiz_copy, tmp_path) -> None:
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    table = _read(vizwiz_copy, "val")
    rows = table.to_list()
    repeated = tmp_path / "repeated"
    write_card_repo(repeated, table.features, {"val": rows + rows[:1], "test": rows})
    result = CliRunner().invoke(app, ["data", "fetch", "vizwiz", "--data-dir", str(repeated), "--split", "val"])
    assert result.exit_code == 2
    assert "row 8 repeats question_id" in result.output


def test_data_fetch_of_a_suite_offline_is_one_line_per_task(monkeypatch) -> None:
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(app, ["data", "fetch", "kosmos1"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert (
        "error: vizwiz: hub lmms-lab/VizWiz-VQA or lmms-lab-encoder/VizWiz-VQA (split test): not in the datasets "
        "cache and the hub cannot be "
        "reached (offline?); run `kosmos-eval data fetch vizwiz` once online, or pass --data-dir with a downloaded "
        "copy" in lines
    )
    assert "storycloze: reads local files only (no hub copy declared; docs/data.md)" in lines


def test_a_run_on_a_copy_that_is_not_the_paper_split_stands_apart_from_the_paper(vizwiz_copy, tmp_path) -> None:
    from kosmos_eval.reporting.leaderboard import leaderboard
    from kosmos_eval.reporting.paper import paper_numbers
    from kosmos_eval.reporting.report import build_report
    from kosmos_eval.reporting.runs import find_runs

    _run(tmp_path, split="val", data_dir=str(vizwiz_copy))  # 8 of its 4,319 rows
    runs = find_runs([tmp_path / "runs"])
    table = leaderboard(runs, paper_numbers())
    assert set(table["source"]) == {"other data"}  # and no paper rows brought in beside it
    (run,) = runs
    assert run.not_paper_data
    page = build_report(runs)
    assert "is not the official data" in page


def test_only_the_split_asked_for_is_downloaded(vizwiz_copy, monkeypatch) -> None:
    """Asked for a whole hub repo, `datasets` prepares every split; the card's `configs:` name the split's own
    files, and only those are asked for (when the card cannot be had, `datasets` decides as before)."""
    import datasets
    import huggingface_hub

    asked = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name, **kw: str(vizwiz_copy / name))
    monkeypatch.setattr(datasets, "load_dataset", lambda path, **kw: asked.append(kw.get("data_files")) or 1 / 0)
    with pytest.raises(DataError):
        hub_load.open_split("vizwiz", "val", {})
    assert asked[0] == {"val": ["data/val-*"]}

    def no_card(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_card)
    asked.clear()
    with pytest.raises(DataError):
        hub_load.open_split("vizwiz", "val", {})
    assert asked[0] is None


# the options a task's copy needs; hateful_memes' copy is the release's own files (read as official files) and
# imagenet's needs a class-names file (both fetched in tests/test_hub_classification.py)
FETCH_OPTIONS = {"websrc": ["--task-option", "setting=without_text"]}
FETCHED_ELSEWHERE = {"hateful_memes", "imagenet"}


@pytest.mark.parametrize("task", [t for t in DECLARED if t not in FETCHED_ELSEWHERE])
def test_data_fetch_reads_every_declared_copy(task, tmp_path) -> None:
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    copy = write_hub_copy(task, tmp_path / task)
    result = CliRunner().invoke(app, ["data", "fetch", task, "--data-dir", str(copy), *FETCH_OPTIONS.get(task, [])])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    source = hub_source(task).default
    assert lines and all(line.startswith(f"{task} ") and f"of hub {source.id} (split " in line for line in lines)
    for line in lines:  # every row of a synthetic copy becomes an example
        counts = re.search(r": ([\d,]+) rows, ([\d,]+) examples", line)
        assert counts is not None and counts[1] == counts[2] and counts[1] != "0", line


def test_list_says_what_a_hub_copy_serves() -> None:
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    result = CliRunner().invoke(app, ["list"])
    from tests.test_data_status import _rows

    row = _rows(result.stdout)["vizwiz"]
    assert row.endswith("[hub copy serves val, test; zero-shot only]")
    assert "then the task's hub copy" in result.stdout


def test_data_verify_opens_every_image_of_a_hub_copy(vizwiz_copy) -> None:
    from typer.testing import CliRunner

    from kosmos_eval.cli import app

    args = ["data", "verify", "vizwiz", "--data-dir", str(vizwiz_copy), "--split", "val", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines() == [
        "note: train split: the hub copy has none (few-shot runs need the official files)",
        f"vizwiz (--data-dir ({vizwiz_copy})): val: 8 examples; 8 images opened; ok",
    ]
