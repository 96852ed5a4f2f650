"""The command line, end to end, including the errors a user meets."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.core.types import RankRequest
from kosmos_eval.tasks.raven import RavenTask
from tests.conftest import shared
from tests.test_data_status import _rows as list_rows

runner = CliRunner()


def run_cli(*args: str):
    return runner.invoke(app, list(args))


def test_run_raven_with_tiny_hf_model_end_to_end(tmp_path, tiny_kosmos2, kosmos2_backend):
    result = run_cli(
        "run",
        "raven",
        "--shots",
        "0",
        "--limit",
        "5",
        "--model",
        "hf",
        "--model-args",
        f"pretrained={tiny_kosmos2},dtype=float32",
        "--output",
        str(tmp_path),
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "95% CI" in result.output
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n"] == 5 and summary["fingerprint"]["model_type"] == "kosmos-2"
    first = json.loads((run_dir / "samples.jsonl").read_text().splitlines()[0])
    # the recorded scores are the backend's scores for that example's prompts
    task = RavenTask(seed=1234)
    example = task.load("test", __import__("kosmos_eval.data.locate", fromlist=["x"]).bundled_sample("raven"))[0]
    requests = task.build(example, [])
    assert all(isinstance(r, RankRequest) for r in requests)
    direct = kosmos2_backend.rank(requests)
    for candidate, result_ in zip(first["candidates"], direct, strict=True):
        assert abs(candidate["logprob_yes"] - result_.logprobs[0]) < 1e-4
        assert abs(candidate["logprob_no"] - result_.logprobs[1]) < 1e-4


def test_run_chance_on_real_iq50_and_npz(tmp_path):
    result = run_cli("run", "raven", "--model", "chance", "--data-dir", str(shared("iq50")), "--output", str(tmp_path))
    assert result.exit_code == 0 and "n=50" in result.output
    result = run_cli(
        "run", "raven", "--model", "chance", "--data-dir", str(shared("raven-npz-sample")), "--output", str(tmp_path)
    )
    assert result.exit_code == 0 and "n=9" in result.output


def test_rerun_says_it_resumed(tmp_path):
    run_cli("run", "raven", "--model", "chance", "--limit", "4", "--output", str(tmp_path))
    result = run_cli("run", "raven", "--model", "chance", "--limit", "4", "--output", str(tmp_path))
    assert result.exit_code == 0 and "resumed 4 done" in result.output


def test_list_shows_tasks_metrics_shots_and_data(tmp_path):
    result = run_cli("list")
    assert result.exit_code == 0
    line = list_rows(result.output)["raven"]
    assert "accuracy" in line and "found: bundled sample (iq50)" in line
    (tmp_path / "raven").mkdir()
    result = run_cli("list", "--data-dir", str(tmp_path))
    assert "no IQ50 or RAVEN .npz data" in result.output


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = [row for row in result.output.splitlines() if row.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_unknown_task_suggests_the_close_name():
    assert "Did you mean 'raven'" in one_line_error(run_cli("run", "ravn", "--model", "chance"))


def test_unknown_backend():
    assert "Unknown backend 'gpt'" in one_line_error(run_cli("run", "raven", "--model", "gpt"))


def test_missing_data_dir(tmp_path):
    message = one_line_error(run_cli("run", "raven", "--model", "chance", "--data-dir", str(tmp_path / "nope")))
    assert "nope: folder does not exist" in message


def test_malformed_data_names_the_file(tmp_path):
    (tmp_path / "exp-1").mkdir()
    (tmp_path / "exp-1" / "query-1.png").write_bytes(b"x")
    message = one_line_error(
        run_cli("run", "raven", "--model", "chance", "--data-dir", str(tmp_path), "--output", str(tmp_path / "o"))
    )
    assert "exp-1: expected candidates answer-a.png" in message


def test_shots_outside_the_paper_setting():
    assert "--shots 0" in one_line_error(run_cli("run", "raven", "--model", "chance", "--shots", "3"))


def test_bad_model_args():
    assert "not key=value" in one_line_error(run_cli("run", "raven", "--model-args", "pretrained"))
    assert "unknown key 'temperature'" in one_line_error(run_cli("run", "raven", "--model-args", "temperature=1"))


def test_default_model_offline_says_so_in_one_line(tmp_path):
    message = one_line_error(run_cli("run", "raven", "--output", str(tmp_path)))
    assert "microsoft/kosmos-2-patch14-224" in message and "--model chance" in message
    assert not any(tmp_path.iterdir())  # nothing half-made is left behind


def test_tiny_model_command_writes_a_loadable_llava(tmp_path):
    result = run_cli("tiny-model", "llava", str(tmp_path / "m"))
    assert result.exit_code == 0 and (tmp_path / "m" / "config.json").exists()
    result = run_cli(
        "run",
        "raven",
        "--limit",
        "2",
        "--model-args",
        f"pretrained={tmp_path / 'm'}",
        "--output",
        str(tmp_path / "o"),
        "--batch-size",
        "3",
    )
    assert result.exit_code == 0, result.output
    assert "unknown architecture" in one_line_error(run_cli("tiny-model", "gpt9", str(tmp_path / "x")))


def test_console_script_help_is_installed():
    out = subprocess.run([sys.executable, "-m", "kosmos_eval", "run", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for option in (
        "--shots",
        "--model-args",
        "--data-dir",
        "--limit",
        "--seed",
        "--output",
        "--batch-size",
        "--device",
    ):
        assert option in out.stdout


def test_unreachable_hub_fails_fast_with_one_line(tmp_path, monkeypatch):
    """Not offline by setting, but no network: one short probe, then the same clear line (no retry storm)."""
    import time

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.perf_counter()
    message = one_line_error(
        run_cli("run", "raven", "--model-args", "pretrained=someone/not-cached", "--output", str(tmp_path))
    )
    assert "cannot be reached" in message and "--model chance" in message
    assert time.perf_counter() - started < 15


def test_device_in_model_args_as_the_readme_writes_it(tmp_path, tiny_kosmos2):
    args = ["run", "raven", "--limit", "2", "--output", str(tmp_path), "--no-progress", "--model-args"]
    result = run_cli(*args, f"pretrained={tiny_kosmos2},dtype=float32,device=cpu")
    assert result.exit_code == 0, result.output
    summary = json.loads(next(tmp_path.glob("*/summary.json")).read_text())
    assert summary["n"] == 2
    clash = run_cli(*args, f"pretrained={tiny_kosmos2},device=cpu", "--device", "cuda")
    assert "--device cuda and --model-args device=cpu disagree" in one_line_error(clash)
