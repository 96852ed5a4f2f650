"""The GPU benchmarks (benchmarks/*.py) in --tiny mode: each writes its JSON, and each fast path equals its
naive or plain-transformers reference in float32 (the numbers a real run reports only mean something if
these checks hold)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from benchmarks import common, generate_caption, generate_vqa, rank_imagenet, rank_raven
from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import UserError

REPO = Path(__file__).resolve().parents[1]
TOP_KEYS = {"benchmark", "tiny", "note", "command", "settings", "model", "environment", "results", "written_at"}
ENVIRONMENT_KEYS = {"device_name", "device", "torch", "transformers", "python", "packages", "harness"}
TOL = 1e-4


@pytest.fixture(scope="module")
def bench() -> common.Bench:
    return common.build_bench(True, 0)


def run(module, tmp_path: Path, *args: str) -> dict:
    out = tmp_path / f"{module.NAME}.json"
    module.main(["--tiny", "--out", str(out), *args])
    data = json.loads(out.read_text())
    assert set(data) == TOP_KEYS
    assert set(data["environment"]) >= ENVIRONMENT_KEYS
    assert data["benchmark"] == module.NAME
    assert data["tiny"] is True and "NOT benchmarks" in data["note"]
    assert data["command"] == " ".join(["python", f"benchmarks/{module.NAME}.py", "--tiny", "--out", str(out), *args])
    assert data["model"]["dtype"] == "float32" and data["model"]["decoder_layers"] == 2
    return data["results"]


def test_decoder_non_embedding_parameters_counted_by_hand(bench):
    # per decoder layer (width 64, ffn 128): q,k,v,out 4*(64*64+64) = 16,640; fc1 64*128+128 = 8,320;
    # fc2 128*64+64 = 8,256; layer norms: self_attn 128 + inner_attn 128 + ffn (width 128) 256 + final 128 = 640
    # -> 33,856; two layers 67,712; plus the decoder's last layer norm 128 -> 67,840 (token embeddings excluded)
    assert common.decoder_non_embedding_params(bench.model) == 67_840


def test_prompt_layout_equals_the_official_processor(bench):
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    official = bench.processor(images=image, text="An image of", num_image_tokens=8)["input_ids"]
    ids, slots = common.prompt_layout(bench, (ImageInput.from_pil("red", image), "An image", " of"))
    assert ids == list(official)
    assert slots == list(range(2, 10))  # <s> <image> then the 8 slots at positions 2..9


def test_rank_imagenet_tiny_matches_naive(bench, tmp_path):
    results = run(rank_imagenet, tmp_path, "--images", "2", "--candidates", "16", "--max-candidate-tokens", "4",
                  "--naive-images", "1", "--batch-size", "2")  # fmt: skip
    # 16 candidates cycling through lengths 1..4 -> 4 of each, mean (1+2+3+4)/4 = 2.5 tokens
    assert results["candidate_token_lengths"] == {"1": 4, "2": 4, "3": 4, "4": 4}
    assert results["mean_candidate_tokens"] == 2.5
    text = len(bench.tokenizer("The photo of the", add_special_tokens=False)["input_ids"])
    assert results["prompt_tokens"] == 1 + 1 + 8 + 1 + text  # <s> <image> 8 slots </image> text
    # useful tokens = images x (prompt once + every candidate token) = 2 x (prompt + 16 x 2.5)
    assert results["useful_tokens"] == 2 * (results["prompt_tokens"] + 40)
    assert results["decoder_flops"] == 2 * 67_840 * results["useful_tokens"]
    assert results["token_count_mismatches"] == 0
    assert results["naive_images"] == 1
    assert results["max_abs_diff_vs_naive"] < TOL and results["parity_ok"] is True
    assert results["mfu"] > 0 and results["matmul_peak"]["size"] == 256
    assert results["peak_memory_gib"] is None  # CPU


def test_raven_prompt_is_the_task_layout(bench):
    (problem,) = rank_raven.make_problems(bench, 1, seed=0)
    assert len(problem) == 6
    assert problem[0].continuations == (" Yes", " No")
    rendered = problem[0].context.render()
    panels = "".join(f"<image{i}>" for i in range(1, 9))
    assert rendered == f"Here are eight images:{panels} The following image is:<image9> Is it correct?"
    panel_keys = [image.key for image in problem[0].context.images[:8]]
    assert all([image.key for image in r.context.images[:8]] == panel_keys for r in problem)  # panels shared


def test_rank_raven_tiny_matches_naive(tmp_path):
    results = run(rank_raven, tmp_path, "--problems", "2", "--naive-problems", "1", "--batch-size", "6")
    assert results["contexts_per_problem"] == 6 and results["images_per_problem"] == 14
    assert results["naive_problems"] == 1
    assert results["max_abs_diff_vs_naive"] < TOL and results["parity_ok"] is True


def test_generate_caption_tiny_equals_model_generate(tmp_path):
    results = run(generate_caption, tmp_path, "--batch-sizes", "1,2", "--rounds", "1", "--min-images", "2",
                  "--max-new-tokens", "4", "--beams", "2")  # fmt: skip
    # images per batch size = max(B x rounds, min images): B=1 -> 2, B=2 -> 2; 4 captions compared in all
    assert [(m["batch_size"], m["images"]) for m in results["per_batch_size"]] == [(1, 2), (2, 2)]
    assert results["outputs_compared"] == 4 and results["outputs_equal"] == 4 and results["all_outputs_equal"]
    assert all(0 < m["mean_new_tokens"] <= 4 for m in results["per_batch_size"])
    assert results["ratio_best_vs_best"] > 0


def test_generate_vqa_tiny_equals_batch_one(tmp_path):
    results = run(generate_vqa, tmp_path, "--questions", "4", "--batch-sizes", "2")
    assert [m["batch_size"] for m in results["per_batch_size"]] == [1, 2]  # batch 1 is always the baseline
    assert [m["outputs_equal_to_batch_1"] for m in results["per_batch_size"]] == [4, 4]
    assert results["all_outputs_equal_to_batch_1"] is True
    assert results["prompt_tokens"]["min"] < results["prompt_tokens"]["max"]  # questions of varying length


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the real-size run would start")
def test_real_size_without_a_gpu_is_one_user_error():
    with pytest.raises(UserError, match=r"no CUDA GPU is visible: .* add --tiny"):
        generate_vqa.main([])


def test_script_runs_as_a_file_and_rejects_bad_options_in_one_line():
    done = subprocess.run(
        [sys.executable, "benchmarks/generate_vqa.py", "--batch-sizes", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "expected positive integers such as 1,16,64, got '0'" in done.stderr
    assert "Traceback" not in done.stderr


def test_rank_families_packs_each_family_exactly(tmp_path):
    from benchmarks import rank_families

    out = tmp_path / "rank_families.json"
    data = rank_families.main(
        ["--families", "llava,qwen2_vl,gemma3", "--images", "1", "--candidates", "12", "--out", str(out)]
    )
    assert json.loads(out.read_text())["results"] == data["results"]
    assert [row["family"] for row in data["results"]] == ["llava", "qwen2_vl", "gemma3"]
    for row in data["results"]:
        assert row["max_abs_logprob_difference"] < TOL and row["candidates"] == 12
    with pytest.raises(UserError, match="do not pack"):
        rank_families.main(["--families", "paligemma", "--out", str(out)])


def test_rank_real_families_tiny_packs_exactly(tmp_path):
    from benchmarks import rank_real_families

    out = tmp_path / "real.json"
    results = rank_real_families.main(
        ["--tiny", "--images", "1", "--candidates", "24", "--naive-candidates", "6", "--out", str(out)]
    )
    assert json.loads(out.read_text())["tiny"] is True
    assert [row["family"] for row in results["families"]] == ["llava", "qwen2_5_vl"]
    for row in results["families"]:
        assert row["parity_ok"] and row["max_abs_diff_vs_naive"] < TOL and row["candidates"] == 24


def test_the_real_family_shapes_are_the_public_checkpoints():
    """Built on the meta device (no memory): LLaVA 1.5 7B has 7.06B parameters, Qwen2.5-VL 7B 8.29B."""
    from benchmarks.real_families import SHAPES

    counts = {}
    for name, shape in SHAPES.items():
        model_class, config, _ = shape(False)
        with torch.device("meta"):
            model = model_class._from_config(config, dtype=torch.bfloat16)
        counts[name] = round(sum(p.numel() for p in model.parameters()) / 1e9, 2)
    assert counts == {"llava": 7.06, "qwen2_5_vl": 8.29}


def test_gpu_all_runs_the_plan_writes_one_json_and_keeps_to_its_time_cap(tmp_path):
    from benchmarks import gpu_all

    out = tmp_path / "all.json"
    payload = gpu_all.main(["--tiny", "--only", "rank_raven,generate_vqa", "--out", str(out)])
    assert json.loads(out.read_text())["benchmarks"].keys() == {"rank_raven", "generate_vqa"}
    metrics = {row["metric"]: row["value"] for row in payload["table"]}
    assert metrics["rank_raven max |diff| vs naive"] < TOL and metrics["generate_vqa equal to batch 1"] == "True"
    capped = gpu_all.main(["--tiny", "--only", "rank_raven", "--budget-s", "-1", "--out", str(out)])
    assert capped["benchmarks"]["rank_raven"]["skipped"].startswith("time cap")
    with pytest.raises(UserError, match="unknown benchmark 'rank_everything'"):
        gpu_all.main(["--tiny", "--only", "rank_everything", "--out", str(out)])
