"""A newcomer's first hour (issue 30): `--version`, error messages that lead to an action that works, answers
for lm-evaluation-harness option spellings, headers that name the model, and every model arg in `run --help`."""

from __future__ import annotations

import re
import sys

import pytest

from kosmos_eval import __version__
from kosmos_eval.cli import app
from tests.test_cli_usage_errors import run_main


def test_version_prints_the_package_version_and_exits_0(monkeypatch, capsys) -> None:
    status, output = run_main(monkeypatch, capsys, "--version")
    assert status == 0
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert re.fullmatch(rf"kosmos-eval {re.escape(__version__)}( \(commit [0-9a-f]{{12}}(, local edits)?\))?", lines[0])


def test_check_invariance_accepts_sample_as_its_missing_data_error_suggests(monkeypatch, capsys) -> None:
    args = ("check-invariance", "winograd", "--model", "chance", "--sample", "--limit", "3", "--no-progress")
    status, output = run_main(monkeypatch, capsys, *args)
    assert status == 0, output
    assert "invariant" in output
    assert "bundled synthetic sample" in output


def test_check_invariance_refuses_sample_with_data_dir(monkeypatch, capsys, tmp_path) -> None:
    args = ("check-invariance", "winograd", "--model", "chance", "--sample", "--data-dir", str(tmp_path))
    status, output = run_main(monkeypatch, capsys, *args)
    assert status == 2
    assert "--sample and --data-dir" in output


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        (("run", "raven", "--log_samples"), "--log_samples is not needed: every run writes samples.jsonl"),
        (("run", "raven", "--log-samples"), "--log-samples is not needed: every run writes samples.jsonl"),
        (("run", "raven", "--output_path", "out"), "--output_path is lm-evaluation-harness's spelling: use --output"),
        (("run", "raven", "--batch_size", "8"), "--batch_size is lm-evaluation-harness's spelling: use --batch-size"),
        (("run", "raven", "--model_args", "x=1"), "--model_args is lm-evaluation-harness's spelling: use --model-args"),
        (
            ("check-invariance", "raven", "--tasks", "raven"),
            "--tasks is lm-evaluation-harness's spelling: give the task as the TASK argument",
        ),
        (
            ("check-invariance", "raven", "--num_fewshot", "1"),
            "--num_fewshot is lm-evaluation-harness's spelling: use --shots",
        ),
        (
            ("check-invariance", "raven", "--log_samples"),
            "--log_samples: this command writes no samples; `kosmos-eval run` writes",
        ),
    ],
)
def test_lm_eval_spellings_get_the_right_answer_in_one_line(monkeypatch, capsys, args, answer) -> None:
    status, output = run_main(monkeypatch, capsys, *args)
    assert status == 2
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith(f"error: kosmos-eval {args[0]}: {answer}")
    assert "Possible options" not in output  # click's guess (--sample for --log_samples) is not offered


def test_lm_eval_spellings_that_are_the_same_here_run(monkeypatch, capsys, tmp_path) -> None:
    args = ("run", "--tasks", "raven", "--num_fewshot", "0", "--device", "cpu", "--limit", "2", "--model", "chance")
    status, output = run_main(monkeypatch, capsys, *args, "--sample", "--no-progress", "--output", str(tmp_path))
    assert status == 0, output
    assert list(tmp_path.rglob("samples.jsonl"))  # what --log_samples asks for, written by every run


def test_run_and_suite_headers_name_the_hf_model(monkeypatch, capsys, tmp_path, tiny_kosmos2) -> None:
    common = ("--model-args", f"pretrained={tiny_kosmos2},dtype=float32", "--device", "cpu", "--sample")
    common += ("--limit", "1", "--no-progress", "--output", str(tmp_path))
    name = f"{tiny_kosmos2.name} (hf)"
    status, output = run_main(monkeypatch, capsys, "run", "raven", *common)
    assert status == 0, output
    assert f"raven | {name} | 0-shot" in output
    status, output = run_main(monkeypatch, capsys, "run", "raven,winograd", *common)
    assert status == 0, output
    assert f"model: {name} | seed 1234" in output.splitlines()


def test_chance_header_stays_the_backend(monkeypatch, capsys, tmp_path) -> None:
    args = ("run", "raven", "--model", "chance", "--sample", "--limit", "1", "--no-progress", "--output", str(tmp_path))
    status, output = run_main(monkeypatch, capsys, *args)
    assert status == 0, output
    assert "raven | chance | 0-shot" in output


def _help_at_80_columns(*args: str) -> str:
    import subprocess

    env = {**__import__("os").environ, "COLUMNS": "80", "TERMINAL_WIDTH": "80"}
    done = subprocess.run(
        [sys.executable, "-c", "from kosmos_eval.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    return done.stdout


def test_run_help_lists_every_model_arg_and_its_values_untruncated_at_80_columns() -> None:
    from kosmos_eval.cli.model_args import allowed_values
    from kosmos_eval.core.registry import BACKENDS

    output = _help_at_80_columns("run", "--help")
    block = output[output.index("--model chance --model-args") :]
    assert "…" not in block
    assert "…" not in output[output.index("--model-args") : output.index("--data-dir")]
    words = " ".join(block.replace("│", " ").split())  # wrapped lines joined back
    seen = 0
    for name, info in BACKENDS.items():
        assert f"--model {name} --model-args keys:" in words
        for key, text in info.model_args.items():
            values = allowed_values(text)
            assert (f"{key} ({' | '.join(values)})" if values else key) in words
            seen += 1
    assert seen >= 26  # hf's 15 and openai's 11 at the time of writing
    assert allowed_values(BACKENDS.get("openai").model_args["beam_search"]) == ["refuse", "greedy", "server"]


def test_models_prints_every_key_with_its_full_help() -> None:
    from kosmos_eval.core.registry import BACKENDS

    words = " ".join(_help_at_80_columns("models").split())
    for name, info in BACKENDS.items():
        assert f"--model {name}:" in words
        for key, text in info.model_args.items():
            assert f"{key}= {' '.join(text.split())}" in words


def _every_command() -> list[tuple[list[str], object]]:
    """(argv prefix, click command) for the root, every command and every sub-command."""
    import typer

    found = []

    def walk(prefix: list[str], command: object) -> None:  # click's Command and Group
        found.append((prefix, command))
        for name, child in getattr(command, "commands", {}).items():
            walk([*prefix, name], child)

    walk([], typer.main.get_command(app))
    return found


@pytest.mark.parametrize("prefix, command", _every_command(), ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_every_help_is_whole_at_80_columns(prefix, command) -> None:
    """Click wraps; nothing is cut with an ellipsis, every option is named in full with all of its help, and
    every sub-command's one-line summary is whole (click shortens one that does not fit with '...')."""
    from typer.testing import CliRunner

    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, [*prefix, "--help"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80, prefix
    summaries = [line for line in lines if not line.startswith("Usage:")]
    assert "…" not in result.output and not any(line.rstrip().endswith("...") for line in summaries), prefix
    words = " ".join(result.output.split())
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden:
            for name in [*param.opts, *param.secondary_opts]:
                assert name in words, (prefix, name)
            assert " ".join((param.help or "").split()) in words.replace("- ", "-"), (prefix, param.name)
    options = [line for line in lines if line.lstrip().startswith("--")]
    assert not any("<list[" in line for line in options)  # repeatable options say what they take (KEY=VALUE...)


def test_list_task_shows_every_option_with_its_values_and_default() -> None:
    from typer.testing import CliRunner

    from kosmos_eval.tasks.imagenet import ImageNetTask

    result = CliRunner().invoke(app, ["list", "imagenet"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "  decoding: constrained_beam | free | rank (default constrained_beam)" in lines
    assert "  complete: true | false (default true)" in lines
    assert "  max_new_tokens: N (default 10)" in lines
    assert "  class_names: TEXT" in lines  # read only when given: no default
    assert "paper settings: default, decoding=free" in result.output
    for key in ImageNetTask.all_options():
        assert any(line.startswith(f"  {key}: ") for line in lines), key
    unknown = CliRunner().invoke(app, ["list", "imagnet"])
    assert unknown.exit_code == 2 and "imagenet" in unknown.output and len(unknown.output.splitlines()) == 1


def test_list_shows_each_tasks_options_with_values_and_defaults() -> None:
    from typer.testing import CliRunner

    from kosmos_eval.core.registry import TASKS

    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    section = result.output[result.output.index("task options (--task-option KEY=VALUE") :]
    section = section[: section.index("\n\n")]
    joined = " ".join(section.split())
    for expected in (
        "imagenet: max_new_tokens: N (default 10); decoding: constrained_beam | free | rank (default constrained_beam)",
        "websrc: max_new_tokens: N (default 20); setting: with_text | without_text | text_only (default with_text)",
        "vqav2: max_new_tokens: N (default 10); raw_answers: true | false (default false)",
        "rendered_sst2: max_new_tokens: N (default 5); cot_max_new_tokens: N (default 64); mode: rank | generate "
        "(default rank); cot: true | false (default false)",
    ):
        assert expected in joined
    for name in TASKS.names():
        options = TASKS.get(name).all_options()
        if options:
            entry = joined[joined.index(f" {name}: ") :]
            assert all(f"{key}: " in entry for key in options), name


def test_every_tasks_default_setting_is_one_the_paper_reports() -> None:
    """The defaults are the paper's: a plain `run TASK` is a setting with a paper number (variant "")."""
    from kosmos_eval.core.registry import TASKS
    from kosmos_eval.reporting.paper import paper_numbers
    from kosmos_eval.tasks.user_tasks import is_user_task

    paper = paper_numbers()
    builtin = [name for name in TASKS.names() if not is_user_task(name)]  # other tests may register their own
    assert len(builtin) == 21
    for name in builtin:
        assert TASKS.get(name)().variant == ""
        assert ((paper["task"] == name) & (paper["variant"] == "")).any(), name
