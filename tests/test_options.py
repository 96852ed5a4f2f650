"""One typed reader (core/options.py) for --task-option and --model-args: same spellings, same errors.

Before it, a task took only true/false where the backends also took yes/no and 1/0, the OpenAI backend read
max_concurrency=1.5 as 1, and every parser worded its errors differently."""

from __future__ import annotations

import pytest

from kosmos_eval.backends.openai import OpenAIBackend
from kosmos_eval.core.options import OptionReader
from kosmos_eval.errors import UserError
from kosmos_eval.tasks.ocr_free import HatefulMemesTask, RenderedSst2Task
from kosmos_eval.tasks.websrc import WebSRCTask


def test_values_are_typed_and_defaults_apply():
    args = OptionReader({"a": "YES", "b": "0", "n": "08", "x": "2.5", "c": "left"}, "--model-args")
    assert args.flag_value("a", False) is True and args.flag_value("b", True) is False
    assert args.flag_value("absent", True) is True
    assert args.integer("n", 4) == 8 and args.integer("absent", 4) == 4
    assert args.optional_integer("absent") is None
    assert args.number("x", 1.0, 0) == 2.5 and args.number("absent", 30.0, 0) == 30.0
    assert args.choice("c", ("right", "left")) == "left" and args.choice("absent", ("right", "left")) == "right"
    assert args.canonical == {"a": "true", "b": "false", "n": "8", "x": "2.5"}
    assert args.defaults["n"] == "4" and args.defaults["absent"] == "right"


@pytest.mark.parametrize(
    ("read", "value", "expected"),
    [
        (lambda r: r.flag_value("k", False), "maybe", "true or false"),
        (lambda r: r.integer("k", 4), "0", "a positive whole number"),
        (lambda r: r.integer("k", 4), "1.5", "a positive whole number"),
        (lambda r: r.integer("k", 4), "-3", "a positive whole number"),
        (lambda r: r.integer("k", 4), "٣", "a positive whole number"),  # a digit, but not one int() should see
        (lambda r: r.integer("k", 4, minimum=0), "-1", "a whole number >= 0"),
        (lambda r: r.number("k", 1.0, 0.001), "0", "a number of at least 0.001"),
        (lambda r: r.number("k", 1.0, 0), "nan", "a number of at least 0"),
        (lambda r: r.number("k", 1.0, 0), "inf", "a number of at least 0"),
        (lambda r: r.number("k", 1.0, 0), "fast", "a number of at least 0"),
        (lambda r: r.choice("k", ("rank", "generate")), "Rank", "one of rank, generate"),
    ],
)
def test_a_bad_value_is_one_line_naming_flag_key_value_and_expectation(read, value, expected):
    with pytest.raises(UserError) as raised:
        read(OptionReader({"k": value}, "--task-option"))
    assert str(raised.value) == f"--task-option k={value!r}: expected {expected}"


def test_tasks_take_the_spellings_the_backends_take():
    assert RenderedSst2Task(options={"cot": "yes"}).cot is True
    assert RenderedSst2Task(options={"cot_image": "0"}).cot_image is False
    assert HatefulMemesTask(options={"with_text": "True"}).with_text is True
    assert WebSRCTask(options={"max_text_chars": "900"}).max_text_chars == 900
    with pytest.raises(UserError, match=r"--task-option max_text_chars='0': expected a positive whole number"):
        WebSRCTask(options={"max_text_chars": "0"})


def test_a_default_given_in_another_spelling_is_not_a_variant():
    """Run identity and leaderboards key runs by `variant`: `cot_image=yes` is the default, so it is the
    paper's setting, and `cot=1` is the same variant as `cot=true`."""
    assert RenderedSst2Task(options={"cot_image": "yes"}).variant == ""
    assert RenderedSst2Task(options={"cot": "1"}).variant == RenderedSst2Task(options={"cot": "true"}).variant
    assert RenderedSst2Task(options={"cot": "1"}).variant == "cot=true"


def test_the_openai_backend_reads_its_arguments_with_the_same_reader():
    backend = OpenAIBackend(server_stop="no", max_concurrency="3", timeout="2.5", beam_search="greedy")
    assert backend.server_stop is False and backend.max_concurrency == 3 and backend.beam_search == "greedy"
    with pytest.raises(UserError, match=r"--model-args max_concurrency='1.5': expected a positive whole number"):
        OpenAIBackend(max_concurrency="1.5")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("packing", "maybe", "true or false"),
        ("image_workers", "-1", "a whole number >= 0"),
        ("max_pack_tokens", "0", "a positive whole number"),
        ("generation_config", "model", "one of protocol, checkpoint"),
        ("padding_side", "middle", "one of right, left"),
    ],
)
def test_the_hf_backend_refuses_a_bad_argument_before_loading_the_model(monkeypatch, key, value, expected):
    from kosmos_eval.backends.hf import backend

    def no_load(**kwargs):
        raise AssertionError("the checkpoint was loaded before the arguments were checked")

    monkeypatch.setattr(backend, "load_model", no_load)
    with pytest.raises(UserError) as raised:
        backend.HFBackend(**{key: value})
    assert str(raised.value) == f"--model-args {key}={value!r}: expected {expected}"


def test_a_true_false_model_arg_names_one_run_folder_however_it_is_spelt() -> None:
    """`chat_template=True`, `=yes`, `=1` and `=true` are one setting: one identity, one folder, one row."""
    from kosmos_eval.config import RunConfig

    def folder(**args: str) -> str:
        config = RunConfig(task="raven", backend="hf", model_args={"pretrained": "m", **args})
        return RunConfig.identity_hash(config.identity("pppppppp", "test"))

    assert folder(chat_template="True") == folder(chat_template="yes") == folder(chat_template="true")
    assert folder(chat_template="0") == folder(chat_template="false") != folder(chat_template="true")
    assert folder(trust_remote_code="YES") == folder(trust_remote_code="true")
    assert folder(revision="1") != folder(revision="true")  # not a true/false arg: kept as given
    openai = RunConfig(task="raven", backend="openai", model_args={"model": "m", "server_stop": "No"})
    assert openai.identity("pppppppp", "test")["model_args"] == {"model": "m", "server_stop": "false"}
