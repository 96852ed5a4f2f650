"""The `kosmos-eval` command line: one module per group of commands, all registered on one typer app."""

from __future__ import annotations

import sys

import typer

from kosmos_eval.cli import invariance, listing, report, results, run, score, tools  # noqa: F401  (register their commands)
from kosmos_eval.cli.app import app
from kosmos_eval.cli.data import data_app
from kosmos_eval.cli.prepare import prepare_app

app.add_typer(prepare_app, name="prepare")
app.add_typer(data_app, name="data")

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line. A mistyped option value (`--seed abc`) is one error line naming the option and
    the command's --help, like every other error, instead of click's framed usage box."""
    try:
        status = app(standalone_mode=False, prog_name="kosmos-eval")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:
        if not _is_click_error(exc):
            raise
        _report_click_error(exc)
    sys.exit(status if isinstance(status, int) else 0)


def _is_click_error(exc: Exception) -> bool:
    """A usage or parameter error from click (typer's own copy of it in typer >= 0.22, click before):
    recognised by kind name, since the two are different classes."""
    return any(kind.__name__ == "ClickException" for kind in type(exc).__mro__)


# lm-evaluation-harness option spellings this CLI spells differently, with the right answer for each: the
# option to use instead (given only where the command has it) or, for None, why the option is not needed.
# Its spellings that are the same here (--device, --limit, --seed, --tasks, --num_fewshot, --gen_kwargs) work.
LM_EVAL_SPELLINGS: dict[str, str | None] = {
    "--log_samples": None,
    "--log-samples": None,
    "--output_path": "--output",
    "--output-path": "--output",
    "--batch_size": "--batch-size",
    "--model_args": "--model-args",
    "--include_path": "--include-path",
    "--num_fewshot": "--shots",
    "--num-fewshot": "--shots",
    "--tasks": "TASK",
}
LOG_SAMPLES_ANSWER = (
    "not needed: every run writes samples.jsonl (every request, prediction and score) in its run folder"
)


def lm_eval_answer(option: str, command: object) -> str | None:
    """The one-line answer to an lm-evaluation-harness spelling of an option `command` does not take, or None
    (then click's own suggestion stands)."""
    if option not in LM_EVAL_SPELLINGS:
        return None
    params = getattr(command, "params", [])
    names = {name for param in params for name in (*param.opts, *param.secondary_opts)}
    arguments = {param.name.upper() for param in params if getattr(param, "param_type_name", "") == "argument"}
    target = LM_EVAL_SPELLINGS[option]
    if target is None:
        if getattr(command, "name", None) == "run":
            return f"{option} is {LOG_SAMPLES_ANSWER}"
        return f"{option}: this command writes no samples; `kosmos-eval run` writes samples.jsonl in every run folder"
    if target in names:
        return f"{option} is lm-evaluation-harness's spelling: use {target}"
    if target in arguments:
        return f"{option} is lm-evaluation-harness's spelling: give the task as the {target} argument"
    return None


def _report_click_error(exc: Exception) -> None:
    """One error line naming the command and its --help (exit 2); giving no arguments shows the help."""
    kinds = {kind.__name__ for kind in type(exc).__mro__}
    status = getattr(exc, "exit_code", 2)
    if "NoArgsIsHelpError" in kinds:
        exc.show()  # type: ignore[attr-defined]  (the help the user asked for by giving no arguments)
        sys.exit(status)
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    context = getattr(exc, "ctx", None)
    if "UsageError" in kinds and context is not None:
        where = context.command_path
        option = getattr(exc, "option_name", None) if "NoSuchOption" in kinds else None
        answer = lm_eval_answer(option, context.command) if option else None
        if answer is not None:  # before click's "did you mean", which for --log_samples is --sample: wrong
            message = answer
        message = f"{where}: {message} (see {where} --help)"
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    sys.exit(status)
