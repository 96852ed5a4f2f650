"""The harness-overhead benchmark (benchmarks/harness_overhead.py): its data writers, its arithmetic and its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kosmos_eval.runner.run as run_module
from benchmarks import harness_overhead as bench
from benchmarks.overhead_clock import clear_caches
from kosmos_eval.core.registry import TASKS
from kosmos_eval.errors import UserError

N = 20
ROW_KEYS = {
    "task", "kind", "split", "examples", "wall_seconds", "backend_seconds", "harness_seconds", "stage_seconds",
    "slowest_stage", "end_to_end_examples_per_s", "harness_examples_per_s", "gpu_examples_per_s", "overhead_pct",
    "passed", "small_run_examples", "small_run_harness_seconds", "fixed_seconds", "per_example_ms",
    "steady_overhead_pct", "write_data_seconds", "gpu_time_simulated",
}  # fmt: skip


def test_every_registered_task_has_a_writer_whose_data_its_loader_reads(tmp_path: Path) -> None:
    # 3 examples each; relative_size asks each of its ceil(3 / 2) = 2 pairs in both orders: 4 questions
    expected = {name: 3 for name in TASKS.names()} | {"relative_size": 4}
    assert set(bench.WRITERS) == set(TASKS.names())
    kinds = {}
    for name, writer in bench.WRITERS.items():
        split, options = writer(tmp_path / name, 3, 0)
        task = TASKS.get(name)(seed=1, options=options)
        assert len(task.load(split, tmp_path / name)) == expected[name], name
        kinds[name] = bench.workload_kind(name, tmp_path / name, split, options)
    # read from what each task asks of a model: no per-task table in the benchmark
    generating = {"coco_caption", "flickr30k", "vqav2", "vizwiz", "websrc", "cub_descriptions"}
    assert kinds == {name: "generation" for name in generating} | {"imagenet": "1000-way ranking"} | {
        name: "ranking" for name in TASKS.names() if name not in generating | {"imagenet"}
    }


def test_few_shot_writers_fill_the_demo_split(tmp_path: Path) -> None:
    split, _ = bench.WRITERS["vqav2"](tmp_path / "vqav2", 3, 5)
    task = TASKS.get("vqav2")(seed=1)
    assert (split, len(task.load(split, tmp_path / "vqav2")), len(task.load_demos(tmp_path / "vqav2"))) == ("val", 3, 5)


def test_measure_task_evaluates_n_examples_and_its_numbers_add_up(tmp_path: Path) -> None:
    row = bench.measure_task("vqav2", N, 0, tmp_path)
    assert row["examples"] == N
    (samples,) = (tmp_path / "run-0" / "vqav2").glob("*/samples.jsonl")
    assert len(samples.read_text().splitlines()) == N  # one record per example, written by the runner
    assert (row["kind"], row["split"], row["gpu_examples_per_s"]) == ("generation", "val", 250.0)
    assert row["small_run_examples"] == 2  # a tenth of 20
    assert row["gpu_time_simulated"] and row["backend_seconds"] >= N / 250.0  # waited as the GPU would, as backend
    assert row["harness_seconds"] == pytest.approx(row["wall_seconds"] - row["backend_seconds"])
    assert row["harness_examples_per_s"] == pytest.approx(N / row["harness_seconds"])
    assert row["overhead_pct"] == pytest.approx(250.0 / row["harness_examples_per_s"] * 100)
    assert row["passed"] == (row["overhead_pct"] < 5.0)
    assert row["steady_overhead_pct"] == pytest.approx(250.0 * row["per_example_ms"] / 1000 * 100)
    assert sum(row["stage_seconds"].values()) == pytest.approx(row["wall_seconds"])
    assert row["stage_seconds"]["read"] > 0 and row["stage_seconds"]["write"] > 0
    assert run_module.make_task.__module__ == "kosmos_eval.runner.run"  # the stage clock put the runner back


def test_report_json_has_every_task_row_and_the_overhead_formula(tmp_path: Path) -> None:
    out = tmp_path / "report" / "harness_overhead.json"
    argv = ["python", "benchmarks/harness_overhead.py", "--examples", str(N)]
    bench.run_benchmark(["imagenet", "raven"], examples=N, out=out, argv=argv)
    report = json.loads(out.read_text())
    assert report["command"] == "python benchmarks/harness_overhead.py --examples 20"
    assert set(report["machine"]) == {"cpu_count", "python", "platform", "processor"}
    assert report["settings"] == {
        "examples": N,
        "shots": 0,
        "batch_size": 32,
        "repeat": 1,
        "target_pct": 5.0,
        "simulate_gpu": True,
    }
    assert list(report["tasks"]) == ["imagenet", "raven"]
    for name, gpu_rate in (("imagenet", 40.0), ("raven", 250.0)):
        row = report["tasks"][name]
        assert set(row) == ROW_KEYS
        assert (row["examples"], row["gpu_examples_per_s"]) == (N, gpu_rate)
        assert row["overhead_pct"] == pytest.approx(row["gpu_examples_per_s"] / row["harness_examples_per_s"] * 100)
    table = bench.format_table(report)
    assert table.splitlines()[1].startswith("imagenet         1000-way ranking validation    20")


def test_tasks_that_cannot_run_are_skipped_with_a_reason(tmp_path: Path) -> None:
    assert bench.measure_task("raven", N, 2, tmp_path) == {"task": "raven", "skipped": "no 2-shot setting"}
    report = {"tasks": {"raven": {"task": "raven", "skipped": "no 2-shot setting"}}}
    assert bench.format_table(report).splitlines()[1] == "raven            skipped: no 2-shot setting"


def test_unknown_task_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"Unknown task 'vqa2'\. Did you mean 'vqav2'"):
        bench.main(["--tasks", "vqa2", "--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()


def test_clear_caches_forgets_parsed_pages(tmp_path: Path) -> None:
    from kosmos_eval.formats.websrc import page_text

    page = tmp_path / "page.html"
    page.write_text("<html><body tid='0'>Fuel <b>economy</b></body></html>")
    assert page_text(page) == "Fuel economy"  # every tag boundary separates words
    assert page_text.cache_info().currsize >= 1
    clear_caches()
    assert page_text.cache_info().currsize == 0
