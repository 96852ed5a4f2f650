"""Raven and WebSRC from their hub copies (kosmos_eval/data/sources/{raven,websrc}.yaml), offline.

Each copy is written synthetically in its card's schema from the task's bundled sample
(kosmos_eval/generators/hub_copies.py) and read by the code a run uses. What is checked: a hub copy gives the
examples the official files give; Raven without data stays on its bundled sample (the README's first run) and
reads a hub copy only when asked; RAVEN, not the paper's set, is labelled so; WebSRC's text setting, which its
copy cannot serve, is refused in one line before anything is downloaded; a card that changed is one line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.data import hub_load
from kosmos_eval.data.locate import SAMPLE_ORIGIN, bundled_sample
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.websrc_hub import page_key, question_id
from kosmos_eval.generators.hub_copies import write_card_repo, write_hub_copy
from kosmos_eval.generators.hub_copies_reasoning import write_raven_m4_copy
from kosmos_eval.generators.raven import write_problem_set
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.raven import RavenTask
from kosmos_eval.tasks.websrc import WebSRCTask

RAVEN = "HuggingFaceM4/RAVEN"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    return {
        "iq50": write_hub_copy("raven", root / "IQ50"),
        "raven": write_raven_m4_copy(root / "RAVEN", ("center_single", "distribute_four")),
        "websrc": write_hub_copy("websrc", root / "websrc"),
    }


def _run(tmp_path: Path, task: str, **fields) -> dict:
    config = RunConfig(task=task, backend="chance", output_dir=str(tmp_path / "runs"), **fields)
    outcome = evaluate(config, progress=False)
    records = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    return {"summary": outcome.summary, "records": records}


def _read(copy: Path, config: str | None, split: str):
    import datasets

    builder, files = hub_load.local_data_files(copy, config, split)
    return datasets.load_dataset(builder, data_files={split: files}, split=split)


def _serve_from(copy: Path, asked: list, monkeypatch: pytest.MonkeyPatch) -> None:
    """`datasets.load_dataset(hub id, ...)` answered from a local copy, recording what was asked for."""
    import datasets

    real = datasets.load_dataset

    def from_the_copy(path, name=None, split=None, revision=None, **kwargs):
        asked.append((path, name, split, revision))
        builder, files = hub_load.local_data_files(copy, name, split)
        return real(builder, data_files={split: files}, split=split)

    monkeypatch.setattr(datasets, "load_dataset", from_the_copy)


def _no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def refuse(*args, **kwargs):
        raise AssertionError(f"load_dataset was called: {args}")

    monkeypatch.setattr(datasets, "load_dataset", refuse)


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _pixels(image) -> bytes:
    return image.load().tobytes()


# Raven


def test_raven_iq50_copy_gives_the_records_the_official_folders_give(copies, tmp_path) -> None:
    hub = _run(tmp_path / "hub", "raven", data_dir=str(copies["iq50"]), limit=12)
    official = _run(tmp_path / "official", "raven", sample=True, limit=12)
    for field in ("id", "answer", "candidate_order", "prediction", "prediction_yes_vs_no", "candidates"):
        assert [r[field] for r in hub["records"]] == [r[field] for r in official["records"]], field
    assert hub["records"][0]["candidates"][0]["image"].startswith("exp-1/answer-")
    assert hub["summary"]["metrics"] == official["summary"]["metrics"]
    data = hub["summary"]["data"]
    assert data["origin"] == f"hub lmms-lab/IQ50 (local copy {copies['iq50']})" and data["sample"] is False
    assert data["hub"]["id"] == "lmms-lab/IQ50" and data["hub"]["split"] == "test" and data["hub"]["rows"] == 50
    assert data["paper_split"] is True  # the sample has IQ50's 50 problems, so the row count matches


def test_raven_iq50_copy_panels_and_candidates_are_the_sample_images(copies) -> None:
    hub = RavenTask().load("test", copies["iq50"])
    official = RavenTask().load("test", bundled_sample("raven"))
    assert [e.id for e in hub] == [e.id for e in official] and len(hub) == 50
    for mine, theirs in zip(hub[::12], official[::12], strict=True):
        for group in ("panels", "candidates"):
            assert [i.key for i in mine.images[group]] == [i.key for i in theirs.images[group]]
            assert [_pixels(i) for i in mine.images[group]] == [_pixels(i) for i in theirs.images[group]]
        assert mine.fields["answer_index"] == theirs.fields["answer_index"] == 0


def test_raven_without_data_stays_on_its_bundled_sample(tmp_path, monkeypatch) -> None:
    _no_download(monkeypatch)
    run = _run(tmp_path, "raven", limit=2)
    assert run["summary"]["data"]["origin"] == SAMPLE_ORIGIN and "hub" not in run["summary"]["data"]


def test_a_hub_option_reads_raven_from_the_hub_labelled_not_the_paper_set(copies, tmp_path, monkeypatch) -> None:
    asked: list = []
    _serve_from(copies["raven"], asked, monkeypatch)
    run = _run(tmp_path, "raven", task_options={"hub_id": RAVEN})
    assert asked == [(RAVEN, "center_single", "test", None)]
    data = run["summary"]["data"]
    assert data["origin"] == f"hub {RAVEN}"
    assert data["paper_split"] is False and data["hub"]["config"] == "center_single"
    assert data["hub"]["why_not_paper"][0] == "RAVEN-10000 (Zhang et al. 2019), not the paper's IQ50 set"
    assert any("is not the official data" in note and "IQ50" in note for note in run["summary"]["notes"])
    assert [r["id"] for r in run["records"]] == [f"center_single/RAVEN_{n}_test" for n in range(42, 51)]


def test_raven_rows_keep_their_correct_candidate_and_npz_keys(copies) -> None:
    task = RavenTask(options={"hub_id": RAVEN, "hub_config": "distribute_four"})
    examples = task.load("test", copies["raven"])
    sample = bundled_sample("raven")
    assert [e.id for e in examples] == [f"distribute_four/RAVEN_{1000 + n}_test" for n in range(42, 51)]
    assert {e.fields["answer_index"] for e in examples} == set(range(6))  # rotated: not always the first
    for example in examples[:3]:
        exp = f"exp-{int(example.id.split('_')[-2]) - 1000}"
        right = example.images["candidates"][example.fields["answer_index"]]
        assert _pixels(right) == _pixels(RavenTask().load("test", sample)[int(exp[4:]) - 1].images["candidates"][0])
        assert [i.key for i in example.images["panels"]] == [f"{example.id}.npz#{k}" for k in range(8)]
        assert right.key == f"{example.id}.npz#{8 + example.fields['answer_index']}"
    assert task.hub_provenance("test")["config"] == "distribute_four"


def test_a_downloaded_raven_copy_is_read_as_raven_without_naming_it(copies) -> None:
    task = RavenTask()
    examples = task.load("test", copies["raven"])
    assert examples[0].id == "center_single/RAVEN_42_test"
    assert task.hub_provenance("test")["id"] == RAVEN and task.hub_provenance("test")["paper_split"] is False


def test_a_configuration_the_local_copy_lacks_is_one_line_not_every_configuration(copies) -> None:
    with pytest.raises(DataError) as caught:
        RavenTask(options={"hub_config": "distribute_nine"}).load("test", copies["raven"])
    message = str(caught.value)
    assert message.startswith(f"raven: local copy {copies['raven']} of hub {RAVEN} (split test): ")
    assert "its card has no config 'distribute_nine' (it has center_single, distribute_four)" in message
    assert "\n" not in message


def test_the_hub_id_of_a_declared_copy_selects_its_own_declaration() -> None:
    copy = hub_load.chosen_copy("raven", {"hub_id": RAVEN})
    assert copy.columns["candidates"] == ("choices", "list<image>") and copy.config == "center_single"
    assert copy.not_paper is not None
    assert hub_load.chosen_copy("raven", {}).id == "lmms-lab/IQ50"


def test_a_hub_option_beside_official_files_is_refused_in_one_line(tmp_path) -> None:
    write_problem_set(tmp_path / "iq50", n=2)
    with pytest.raises(UserError) as caught:
        RavenTask(options={"hub_id": RAVEN}).load("test", tmp_path / "iq50")
    assert str(caught.value) == (
        f"raven: --task-option hub_id asks for a hub copy, but --data-dir {tmp_path / 'iq50'} holds the official "
        "files: give one of them"
    )


@pytest.mark.parametrize(
    ("folder", "options"),
    [("iq50", {"hub_config": "distribute_four"}), ("raven", {"hub_id": RAVEN, "hub_config": "9"})],
)
def test_hub_config_names_a_raven_configuration(folder, options, copies) -> None:
    with pytest.raises(UserError, match=r"hub_config picks one of HuggingFaceM4/RAVEN's configurations \(center_"):
        RavenTask(options=options).load("test", copies[folder])


@pytest.mark.parametrize(
    ("change", "expected"),
    [("drop", "no column 'target' (for answer)"), ("retype", "column 'target' (for answer) is string, expected int")],
)
def test_a_raven_card_that_changed_is_one_line(change, expected, copies, tmp_path) -> None:
    import datasets

    table = _read(copies["raven"], "center_single", "test")
    features, rows = table.features.copy(), table.to_list()
    if change == "drop":
        del features["target"]
        rows = [{k: v for k, v in row.items() if k != "target"} for row in rows]
    else:
        features["target"] = datasets.Value("string")
        rows = [{**row, "target": str(row["target"])} for row in rows]
    changed = tmp_path / "changed"
    (changed / "center_single").mkdir(parents=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(changed / "center_single" / "test-0.parquet"))
    card = ["---", "configs:", "- config_name: center_single", "  data_files:", "  - split: test"]
    (changed / "README.md").write_text("\n".join([*card, "    path: center_single/test-*", "---", ""]))
    with pytest.raises(DataError) as caught:
        RavenTask(options={"hub_id": RAVEN}).load("test", changed)
    message = str(caught.value)
    assert message.startswith(f"local copy {changed} of hub {RAVEN} (split test): ") and expected in message
    assert "\n" not in message


# WebSRC


def test_websrc_copy_gives_the_image_only_questions_of_the_official_files(copies) -> None:
    hub = WebSRCTask(options={"setting": "without_text"}).load("dev", copies["websrc"])
    official = WebSRCTask().load("dev", bundled_sample("websrc"))
    assert len(hub) == len(official) == 10
    by_question = {(e.fields["domain"], e.fields["question"]): e for e in official}
    for example in hub:
        theirs = by_question[(example.fields["domain"], example.fields["question"])]
        for field in ("answer", "is_yes_no"):
            assert example.fields[field] == theirs.fields[field], field
        assert example.id.startswith(theirs.id[:9] + "-") and example.fields["html_path"] is None
        assert example.image("screenshot").key == theirs.image("screenshot").key  # <domain>/<site>/.../<page>.png
        assert _pixels(example.image("screenshot")) == _pixels(theirs.image("screenshot"))
    assert [e.id[:9] for e in hub] == [e.id[:9] for e in official]  # page by page, as the release lists them


def test_a_websrc_run_on_its_copy_names_the_source(copies, tmp_path) -> None:
    run = _run(tmp_path, "websrc", data_dir=str(copies["websrc"]), task_options={"setting": "without_text"}, limit=4)
    data = run["summary"]["data"]
    assert data["hub"]["id"] == "rootsautomation/websrc" and data["hub"]["split"] == "dev"
    assert data["paper_split"] is False
    assert data["hub"]["why_not_paper"] == ["hub split 'dev' has 10 rows; the official dev split has 52,826"]
    assert list(run["summary"]["exports"]) == ["predictions (official format, hub-derived ids)"]
    question = "Who is the author of The Patient Lantern?"  # the sample's first dev question
    ids = [r["id"] for r in run["records"]]
    assert question_id("bo0100001", question) == "bo0100001-" + sha1(question)[:8] in ids and ids == sorted(ids)


@pytest.mark.parametrize("with_folder", [False, True])
def test_websrc_text_setting_is_refused_in_one_line_before_any_download(with_folder, copies, tmp_path, monkeypatch):
    _no_download(monkeypatch)
    folder = {"data_dir": str(copies["websrc"])} if with_folder else {}
    with pytest.raises(DataError) as caught:
        _run(tmp_path, "websrc", **folder)
    message = str(caught.value)
    assert message.startswith(
        "websrc: hub rootsautomation/websrc has the screenshots but not the pages' HTML, so setting with_text"
    )
    assert "--task-option setting=without_text" in message and "X-LANCE/WebSRC_v1.0" in message
    assert "\n" not in message


def test_websrc_ids_do_not_depend_on_the_copy_row_order(copies, tmp_path) -> None:
    table = _read(copies["websrc"], None, "dev")
    reversed_copy = tmp_path / "reversed"
    write_card_repo(reversed_copy, table.features.copy(), {"dev": table.to_list()[::-1]})
    task = WebSRCTask(options={"setting": "without_text"})
    assert [e.id for e in task.load("dev", reversed_copy)] == [e.id for e in task.load("dev", copies["websrc"])]


def test_a_question_asked_twice_about_one_page_gets_two_ids(copies, tmp_path) -> None:
    table = _read(copies["websrc"], None, "dev")
    rows = table.to_list()
    twice = tmp_path / "twice"
    write_card_repo(twice, table.features.copy(), {"dev": [rows[0], *rows]})
    ids = [e.id for e in WebSRCTask(options={"setting": "without_text"}).load("dev", twice)]
    first = question_id("bo0100001", rows[0]["question"])
    assert len(set(ids)) == 11 and ids.index(first + "-2") == ids.index(first) + 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("drop", "no column 'answer' (for answer)"),
        ("retype", "column 'image' (for screenshot) is PIL.Image.Image, expected string"),
    ],
)
def test_a_websrc_card_that_changed_is_one_line(change, expected, copies, tmp_path) -> None:
    import datasets

    table = _read(copies["websrc"], None, "dev")
    features, rows = table.features.copy(), table.to_list()
    if change == "drop":
        del features["answer"]
        rows = [{k: v for k, v in row.items() if k != "answer"} for row in rows]
    else:
        import base64

        features["image"] = datasets.Image()
        rows = [{**row, "image": {"bytes": base64.b64decode(row["image"]), "path": None}} for row in rows]
    changed = tmp_path / "changed"
    write_card_repo(changed, features, {"dev": rows})
    with pytest.raises(DataError) as caught:
        WebSRCTask(options={"setting": "without_text"}).load("dev", changed)
    message = str(caught.value)
    assert message.startswith(f"local copy {changed} of hub rootsautomation/websrc (split dev): ")
    assert expected in message and "\n" not in message


@pytest.mark.parametrize(
    ("domain", "page_id", "expected"),
    [
        ("book", "0100001", ("bo0100001", "01", "book/01/processed_data/0100001.png")),
        ("book", "bo0100001", ("bo0100001", "01", "book/01/processed_data/0100001.png")),
        ("book", "page-7", ("bo-page-7", "", "book/page-7.png")),
    ],
)
def test_a_page_id_in_either_form_names_the_release_page(domain, page_id, expected) -> None:
    assert page_key(domain, page_id) == expected
