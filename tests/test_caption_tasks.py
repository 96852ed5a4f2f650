"""Captioning end to end: a run's metrics equal pycocoevalcap's on its predictions, the COCO results file
round-trips through score-predictions, few-shot demos come from Karpathy train (+restval) and render as the
snapshot, RICES picks the nearest training images, and a missing Java fails before any model is loaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.generators.captions import write_json, write_karpathy_coco
from kosmos_eval.metrics.captioning import score_captions
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tasks.captioning import CocoCaptionTask, demo_caption
from tests.backends import ScriptedBackend

SNAPSHOT = Path(__file__).parent / "snapshots" / "caption_prompts.txt"
needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="pycocoevalcap needs Java")


@pytest.fixture
def coco_dir(tmp_path) -> tuple[Path, dict[int, list[str]]]:
    root = tmp_path / "coco"
    references = write_karpathy_coco(root, {"test": 4, "val": 1, "restval": 2, "train": 3})
    return root, references


def image_id_of(request) -> int:
    key = request.context.images[-1].key  # the query image is the last one
    return int(key.rsplit("_", 1)[1].split(".")[0])


def records_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_demo_caption_continues_the_prompt() -> None:
    assert demo_caption("A man riding a horse. ") == "a man riding a horse."
    assert demo_caption("I think  it is a cat") == "I think it is a cat"
    assert demo_caption("TV on a stand") == "TV on a stand"


@pytest.mark.slow
@needs_java
def test_run_metrics_equal_pycocoevalcap_and_score_predictions(coco_dir, tmp_path) -> None:
    root, references = coco_dir
    test_ids = sorted(references)[:4]
    said = {test_ids[0]: references[test_ids[0]][0], test_ids[1]: "a dog in the snow", test_ids[2]: ""}
    backend = ScriptedBackend(lambda r: said.get(image_id_of(r), "a bus on a street\nAn image of more"))
    config = RunConfig(task="coco_caption", backend="scripted", data_dir=str(root), output_dir=str(tmp_path / "r"))
    outcome = evaluate(config, backend=backend, progress=False)
    assert {(r.num_beams, r.max_new_tokens) for r in backend.requests} == {(5, 20)}
    predictions = {r["image_id"]: r["prediction"] for r in records_of(outcome.run_dir)}
    assert predictions[test_ids[3]] == "a bus on a street"  # cut at the newline
    direct = score_captions(predictions, {i: references[i] for i in test_ids}, spice=False)
    assert outcome.metrics["cider"].value == direct.corpus["CIDEr"] > 0
    assert outcome.metrics["bleu_4"].value == direct.corpus["Bleu_4"]
    assert outcome.metrics["meteor"].value == direct.corpus["METEOR"]
    assert outcome.metrics["bleu_4"].ci_low is None  # no honest per-image interval for corpus BLEU
    assert any(note.startswith("SPICE skipped") for note in outcome.summary["notes"])

    (results,) = outcome.summary["exports"].values()
    assert {e["image_id"]: e["caption"] for e in json.loads(Path(results).read_text())} == predictions
    result = CliRunner().invoke(
        app,
        ["score-predictions", "coco_caption", "--predictions", results, "--annotations",
         str(root / "dataset_coco.json"), "--split", "test", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"]["cider"]["value"] == direct.corpus["CIDEr"]


def test_few_shot_demos_come_from_karpathy_train_and_restval(coco_dir, tmp_path) -> None:
    root, _ = coco_dir
    task = CocoCaptionTask(seed=3)
    pool = {e.id for e in task.load_demos(root)}
    assert len(pool) == 5  # 3 train + 2 restval
    from kosmos_eval.fewshot import RandomSampler

    sampler = RandomSampler(task.load_demos(root), seed=3)
    lines = []
    for example in task.load("test", root):
        demos = sampler.sample(example, 2)
        assert {d.id for d in demos} <= pool
        (request,) = task.build(example, demos)
        lines.append(f"{example.id}: {request.context.render()}")
    assert "\n".join(lines) + "\n" == SNAPSHOT.read_text(), "prompt changed: review, then update tests/snapshots"


def test_rices_picks_the_training_images_nearest_in_the_models_own_features(
    coco_dir, tmp_path, monkeypatch, kosmos2_backend
) -> None:
    monkeypatch.setenv("KOSMOS_EVAL_CACHE", str(tmp_path / "cache"))
    root, _ = coco_dir
    task = CocoCaptionTask()
    pool = task.load_demos(root)
    query = task.load("test", root)[0]
    features = kosmos2_backend.embed_images([e.image("image") for e in [*pool, query]])
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    nearest = [pool[i].id for i in np.argsort(-(unit[:-1] @ unit[-1]), kind="stable")[:2]]

    from kosmos_eval.fewshot.rices import FeatureStore, RicesSampler

    sampler = RicesSampler(pool, FeatureStore(kosmos2_backend, progress=False), task.demo_image)
    assert [d.id for d in sampler.sample(query, 2)] == nearest[::-1]  # most similar last


def test_missing_java_fails_in_one_line_before_the_model_loads(coco_dir, tmp_path, monkeypatch) -> None:
    root, _ = coco_dir
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = CliRunner().invoke(
        app,
        ["run", "coco_caption", "--model-args", "pretrained=/nonexistent/model", "--data-dir", str(root),
         "--output", str(tmp_path / "r")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "Java" in result.output and "/nonexistent/model" not in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
@needs_java
def test_tiny_kosmos2_runs_flickr30k_two_shot(tmp_path, tiny_kosmos2) -> None:
    from kosmos_eval.generators.pictures import make_image

    root = tmp_path / "flickr30k"
    entries = []
    for i, split in enumerate(["test", "test", "train", "train", "train"]):
        name = f"{1000 + i}.jpg"
        (root / "flickr30k-images").mkdir(parents=True, exist_ok=True)
        make_image(i).save(root / "flickr30k-images" / name)
        entries.append({"filename": name, "imgid": i, "split": split,
                        "sentences": [{"raw": f"A dog number {i} runs.", "tokens": []}] * 5})  # fmt: skip
    write_json(root / "dataset_flickr30k.json", {"images": entries, "dataset": "flickr30k"})
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        ["run", "flickr30k", "--shots", "2", "--model-args", f"pretrained={tiny_kosmos2},dtype=float32",
         "--data-dir", str(root), "--output", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    records = records_of(run_dir)
    assert [r["image_id"] for r in records] == [1000, 1001]
    assert all(set(r["demo_ids"]) <= {"1002", "1003", "1004"} and len(r["demo_ids"]) == 2 for r in records)
    assert all(r["prompt"].count("An image of a dog number") == 2 for r in records)


@pytest.mark.slow
@needs_java
def test_tiny_llava_runs_coco_caption_with_rices_demos(coco_dir, tmp_path, tiny_llava) -> None:
    root, _ = coco_dir
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        ["run", "coco_caption", "--shots", "2", "--sampler", "rices", "--limit", "2", "--model-args",
         f"pretrained={tiny_llava},dtype=float32", "--data-dir", str(root), "--output", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["sampler"] == "rices" and summary["n"] == 2
    train_ids = {e.id for e in CocoCaptionTask().load_demos(root)}
    assert all(set(r["demo_ids"]) <= train_ids and len(r["demo_ids"]) == 2 for r in records_of(run_dir))
