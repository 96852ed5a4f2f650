"""Tiny checkpoints of families whose real checkpoints ship a chat template ship one too, so that
`--model-args chat_template=true` can be smoke-tested end to end without downloading weights."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()


def test_a_chat_template_run_on_a_tiny_llava_records_the_rendered_prompt(tmp_path):
    model = tmp_path / "llava"
    assert runner.invoke(app, ["tiny-model", "llava", str(model)]).exit_code == 0
    args = ["run", "raven", "--sample", "--limit", "1", "--model", "hf", "--output", str(tmp_path / "out")]
    result = runner.invoke(app, [*args, "--model-args", f"pretrained={model},dtype=float32,chat_template=true"])
    assert result.exit_code == 0, result.output
    (samples,) = (tmp_path / "out").rglob("samples.jsonl")
    record = json.loads(samples.read_text().splitlines()[0])
    assert record["prompt_rendered"].startswith("<s>USER: Here are three images:<image>")
    assert record["prompt_rendered"].endswith(" ASSISTANT:")


def test_a_tiny_text_model_renders_through_its_template(tmp_path):
    from transformers import AutoTokenizer

    from kosmos_eval.tiny import build_tiny_model

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model("llama", tmp_path / "llama"))
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Is it correct?"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered.endswith("USER: Is it correct? ASSISTANT:")
