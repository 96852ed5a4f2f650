"""User tasks, continued: a hub dataset as the source (a local download, never the network), the worked
examples of docs/tasks/custom.md run as written, and a bad file in $KOSMOS_EVAL_TASKS."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from kosmos_eval.core.registry import TASKS
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.tasks import user_tasks
from kosmos_eval.tasks.user_tasks import include_task_paths
from tests.backends import ScriptedBackend
from tests.test_user_tasks import _forget_user_tasks, records_of, run, write_image, write_yaml  # noqa: F401

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks" / "custom.md"


def write_hub_copy(folder: Path) -> Path:
    """A download of a hub dataset repo: parquet files where the hub keeps them, images as an image feature."""
    import datasets
    from PIL import Image

    features = datasets.Features({"image": datasets.Image(), "colour": datasets.Value("string")})
    images = [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))]
    table = datasets.Dataset.from_dict({"image": images, "colour": ["red", "blue"]}, features=features)
    (folder / "data").mkdir(parents=True)
    table.to_parquet(str(folder / "data" / "test-00000-of-00001.parquet"))
    return folder


HUB = {
    "task": "hub_colours",
    "kind": "rank",
    "data": {"hub": {"id": "someone/colours", "splits": {"test": "test"}}, "images": {"image": "image"}},
    "choices": ["red", "blue"],
    "label": "colour",
    "query": [{"image": "image"}, {"text": "The colour is"}],
}


def test_a_hub_dataset_read_from_a_local_download(tmp_path) -> None:
    copy = write_hub_copy(tmp_path / "download")
    include_task_paths([write_yaml(tmp_path / "tasks" / "hub.yaml", HUB)])
    outcome = run("hub_colours", tmp_path / "runs", data_dir=str(copy))
    assert [r["label"] for r in records_of(outcome)] == [0, 1]
    data = outcome.summary["data"]
    assert data["hub"]["id"] == "someone/colours" and data["hub"]["local_copy"] == str(copy)
    assert data["paper_split"] is False  # a user task's data is never the paper's
    missing = {**HUB, "task": "hub_shapes", "data": {**HUB["data"], "fields": {"shape": "shape"}}}
    include_task_paths([write_yaml(tmp_path / "tasks" / "shapes.yaml", missing)])
    with pytest.raises(DataError, match=r"no column 'shape'"):
        TASKS.get("hub_shapes")().load("test", copy)
    with pytest.raises(DataError, match=r"not a downloaded copy of hub someone/colours"):
        TASKS.get("hub_colours")().load("test", tmp_path / "tasks")


def doc_files(folder: Path) -> list[str]:
    """Write the files the page's code blocks name (`# file: ...` / `// file: ...`); returns their names."""
    names = []
    for block in re.findall(r"```\w*\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL):
        first, _, body = block.partition("\n")
        match = re.match(r"(?:#|//) file: (\S+)$", first)
        if match:
            (folder / match[1]).parent.mkdir(parents=True, exist_ok=True)
            (folder / match[1]).write_text(body)
            names.append(match[1])
    return names


def test_the_worked_examples_of_the_docs_run_as_written(tmp_path, monkeypatch) -> None:
    names = doc_files(tmp_path)
    assert sorted(names) == [
        "my_tasks/circle_probe.jsonl",
        "my_tasks/circle_probe.yaml",
        "my_tasks/my_vqa.jsonl",
        "my_tasks/my_vqa.yaml",
        "my_tasks/my_vqa_train.jsonl",
    ]
    for index in (1, 2, 3):
        write_image(tmp_path / "my_tasks" / "images" / f"p{index}.png", (80 * index, 10, 10))
    monkeypatch.setenv(user_tasks.TASKS_ENV, str(tmp_path / "my_tasks"))
    probe = run("circle_probe", tmp_path / "runs")
    assert probe.summary["n"] == 3 and probe.summary["family"] == "user task"
    assert probe.metrics["accuracy"].value == sum(r["correct"] for r in records_of(probe)) / 3
    backend = ScriptedBackend(lambda r: "circle" if r.context.text.endswith("what shape is it? Answer:") else "two")
    vqa = run("my_vqa", tmp_path / "runs", backend, shots=2)
    # VQA accuracy with 3 answers: circle (2 of 3 agree) 4/9; "two" -> "2" (all 3 agree) 2/3
    assert [r["vqa_accuracy"] for r in records_of(vqa)] == pytest.approx([4 / 9, 2 / 3])
    assert all(request.context.text.count("Answer:") == 3 for request in backend.requests)  # 2 demos + the query


def test_a_bad_file_in_the_environment_is_said_at_every_lookup(tmp_path, monkeypatch) -> None:
    path = write_yaml(tmp_path / "tasks" / "broken.yaml", {"task": "broken", "kind": "rank"})
    monkeypatch.setenv(user_tasks.TASKS_ENV, str(tmp_path / "tasks"))
    for _ in range(2):
        with pytest.raises(UserError, match=rf"^{path}: field 'data': is missing"):
            TASKS.get("raven")
    path.write_text(yaml.safe_dump({"name": "not a task file"}))
    monkeypatch.setenv(user_tasks.TASKS_ENV, f"{tmp_path / 'tasks'}:")  # another value: read again
    assert TASKS.get("raven").name == "raven"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="the caption scorers need Java")
def test_a_caption_task_is_scored_by_the_coco_caption_scorers(tmp_path) -> None:
    from kosmos_eval.metrics.captioning import score_captions

    folder = tmp_path / "captions"
    rows = [("a", ["a red square", "a square in red"]), ("b", ["a blue circle", "one blue round shape"])]
    for name, _ in rows:
        write_image(folder / f"{name}.png", (10, 20, 30))
    (folder / "captions.jsonl").write_text(
        "".join(json.dumps({"id": n, "image": f"{n}.png", "captions": c}) + "\n" for n, c in rows)
    )
    spec = {
        "task": "my_captions",
        "kind": "generate",
        "data": {"files": {"test": "captions.jsonl"}, "id": "id", "images": {"image": "image"}},
        "references": "captions",
        "metrics": ["cider", "bleu_4"],
        "query": [{"image": "image"}, {"text": "An image of"}],
        "decoding": {"num_beams": 1, "max_new_tokens": 8},
    }
    include_task_paths([write_yaml(folder / "captions.yaml", spec)])
    said = {"a": " a red square.", "b": " a green triangle"}
    backend = ScriptedBackend(lambda r: said[r.context.images[0].key.removesuffix(".png")])
    outcome = run("my_captions", tmp_path / "runs", backend)
    expected = score_captions({"a": "a red square.", "b": "a green triangle"}, dict(rows))
    assert outcome.metrics["cider"].value == pytest.approx(expected.corpus["CIDEr"])
    assert outcome.metrics["bleu_4"].value == pytest.approx(expected.corpus["Bleu_4"])
    assert list(outcome.metrics) == ["cider", "bleu_4"]


def test_a_folder_is_registered_whole_or_not_at_all(tmp_path) -> None:
    from tests.test_user_tasks import PROBE, write_probe

    include_task_paths([write_probe(tmp_path / "first")])
    second = write_probe(tmp_path / "second")
    write_yaml(second / "other.yaml", {**PROBE, "task": "other_probe"})  # registered first (sorted), then undone
    with pytest.raises(UserError, match=r"field 'task': 'shape_probe' is already declared by .*first/probe.yaml"):
        include_task_paths([second])
    assert "other_probe" not in TASKS and TASKS.user_source("shape_probe").endswith("first/probe.yaml")
    assert include_task_paths([tmp_path / "first"]) == ["shape_probe"]  # the same file again: reloaded


def test_a_template_field_the_data_lacks_is_said_before_any_model_loads(tmp_path) -> None:
    from tests.test_user_tasks import PROBE, write_probe

    spec = {**PROBE, "query": [{"image": "image"}, {"text": "Is the {colour} shape a circle?"}]}
    path = write_probe(tmp_path / "probe", spec) / "probe.yaml"
    include_task_paths([path])

    def no_model(config):
        raise AssertionError("the model was asked for")

    with pytest.raises(UserError, match=rf"^{path.resolve()}: layout 'query' uses field 'colour'"):
        run("shape_probe", tmp_path / "runs", no_model)
    generate = {key: value for key, value in spec.items() if key not in ("choices", "label")}
    vqa = write_yaml(tmp_path / "vqa.yaml", {**generate, "kind": "generate", "references": "answer", "decoding": {}})
    with pytest.raises(UserError, match=r"vqa.yaml: field 'metrics': is missing"):  # no silent default metric
        include_task_paths([vqa])
