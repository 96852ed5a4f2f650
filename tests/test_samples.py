"""Every task ships a bundled sample that its generator reproduces, its reader reads, and the whole paper suite
runs on offline: with the chance baseline and with a tiny Kosmos-2 checkpoint."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.core.registry import TASKS
from kosmos_eval.data.locate import SAMPLE_MARKER, bundled_sample
from kosmos_eval.generators.samples import check, differences, shipped_samples_root, write_sample, writers
from kosmos_eval.reporting.runs import find_runs
from kosmos_eval.runner.suite import load_suite, plan

runner = CliRunner()
TASK_NAMES = TASKS.names()
BUNDLE_LIMIT_BYTES = 2_000_000


def test_every_task_has_a_writer_and_a_shipped_sample():
    assert sorted(writers()) == TASK_NAMES
    assert sorted(p.name for p in shipped_samples_root().iterdir() if p.is_dir()) == TASK_NAMES
    assert all((bundled_sample(name) / SAMPLE_MARKER).is_file() for name in TASK_NAMES)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_the_generator_reproduces_the_shipped_sample(task):
    assert check([task]) == {task: []}


def test_the_whole_bundle_stays_small():
    size = sum(p.stat().st_size for p in shipped_samples_root().rglob("*") if p.is_file())
    assert size < BUNDLE_LIMIT_BYTES, f"bundled samples take {size:,} bytes"


def test_differences_name_every_kind_of_change(tmp_path):
    shipped = write_sample("color_terms", tmp_path / "a")
    fresh = write_sample("color_terms", tmp_path / "b")
    assert differences(shipped, fresh) == []
    (shipped / "color-concrete-objects.csv").write_text("object,color\n")
    (shipped / "extra.txt").write_text("x")
    (fresh / SAMPLE_MARKER).unlink()
    assert differences(shipped, fresh) == [
        "extra.txt: shipped but no longer generated",
        f"{SAMPLE_MARKER}: shipped but no longer generated",
        "color-concrete-objects.csv: contents differ",
    ]


def test_image_differences_are_pixels_not_bytes(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    picture = Image.new("RGB", (8, 8), (10, 20, 30))
    picture.save(a, optimize=True)
    picture.save(b, compress_level=1)  # other bytes, same pixels
    assert a.read_bytes() != b.read_bytes()
    assert differences(tmp_path, tmp_path) == []
    from kosmos_eval.generators.samples import _image_difference

    assert _image_difference(a, b) is None
    picture.putpixel((3, 3), (10, 20, 31))
    picture.save(b)
    assert _image_difference(a, b) == "pixels differ (largest difference 1)"


@pytest.mark.parametrize("task", TASK_NAMES)
def test_each_sample_reads_through_the_task_with_its_demo_pool(task):
    instance = TASKS.get(task)()
    folder = bundled_sample(task)
    examples = instance.load(instance.default_split, folder)
    assert len(examples) >= 8
    if max(instance.shots) > 0:
        pool = instance.load_demos(folder)
        assert len(pool) >= max(instance.shots) + 1  # every paper setting draws distinct demos


def _suite_command(tmp_path, *model: str) -> list[str]:
    return ["run", "kosmos1", "--sample", *model, "--output", str(tmp_path / "runs"), "--no-progress"]


def _expected_runs() -> int:
    return sum(len(p.shots) * len(p.seeds) for p in plan(load_suite("kosmos1"), RunConfig(task="", sample=True)))


def _check_suite_output(result, tmp_path, intervals: bool = True) -> list:
    """`intervals`: every row shows a 95% interval (not where --limit 2 leaves too few examples to resample)."""
    assert result.exit_code == 0, result.output
    runs = find_runs([tmp_path / "runs"])
    assert len(runs) == _expected_runs() == 52
    assert {run.task for run in runs} == set(TASK_NAMES)
    assert all(run.sample and run.summary["data"]["origin"] == "bundled sample" for run in runs)
    model, header, *table = result.output[result.output.index("model: ") :].splitlines()[:54]
    assert model.endswith(" | seed 1234")  # one seed for every row: said once
    # no paper column: a sample run is never set beside the paper's numbers
    assert header.split() == ["task", "variant", "shot", "metric", "value", "95%", "CI", "n"]
    assert len(table) == 52 and max(len(line) for line in [model, header, *table]) <= 100
    # every task on its sample, default split and options, shows its metric (and a 95% interval)
    pattern = r" (\d+\.\d) +(\d+\.\d)-(\d+\.\d) +\d+$" if intervals else r" (\d+\.\d) +(\d+\.\d-\d+\.\d +)?\d+$"
    shown = [re.search(pattern, row) for row in table]
    assert all(shown) and "n/a" not in "\n".join(table), "\n".join(table)
    assert not intervals or all(float(m[2]) <= float(m[1]) <= float(m[3]) for m in shown if m)
    return runs


def test_kosmos1_suite_runs_every_task_and_setting_on_the_samples_with_chance(tmp_path):
    result = runner.invoke(app, _suite_command(tmp_path, "--model", "chance"))
    runs = _check_suite_output(result, tmp_path)
    assert "suite kosmos1: data: the bundled synthetic sample" in result.output
    raven = next(r for r in runs if r.task == "raven")
    assert raven.summary["n"] == 50  # the whole sample
    summary = json.loads((raven.path / "summary.json").read_text())
    assert summary["identity"]["data"] == "bundled sample"


@pytest.mark.slow
def test_kosmos1_suite_runs_on_the_samples_with_a_tiny_kosmos2(tmp_path, tiny_kosmos2):
    model = ["--model", "hf", "--model-args", f"pretrained={tiny_kosmos2},dtype=float32", "--device", "cpu"]
    result = runner.invoke(app, [*_suite_command(tmp_path, *model), "--limit", "2"])
    runs = _check_suite_output(result, tmp_path, intervals=False)
    assert all(run.summary["n"] == 2 for run in runs)
    assert {run.summary["fingerprint"]["model_type"] for run in runs} == {"kosmos-2"}
