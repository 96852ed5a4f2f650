"""Tiny checkpoints of families whose real checkpoints ship a chat template ship one too, so that
`--model-args chat_template=true` can be smoke-tested end to end without downloading weights."""

from __future__ import annotations

import json
import re

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


def _chat_run(tmp_path, family: str) -> tuple[int, str, dict | None]:
    """Build the tiny checkpoint of `family` and run one Raven sample through its chat template: (exit code,
    output, first samples.jsonl record or None)."""
    model = tmp_path / family
    built = runner.invoke(app, ["tiny-model", family, str(model)])
    assert built.exit_code == 0, built.output
    args = ["run", "raven", "--sample", "--limit", "1", "--model", "hf", "--output", str(tmp_path / "out")]
    result = runner.invoke(app, [*args, "--model-args", f"pretrained={model},dtype=float32,chat_template=true"])
    if result.exit_code != 0:
        return result.exit_code, result.output, None
    (samples,) = (tmp_path / "out").rglob("samples.jsonl")
    return 0, result.output, json.loads(samples.read_text().splitlines()[0])


# family -> what its template writes for an image: the marker its processor expands in text, written as the
# family's real chat template writes it ('<image>\n' / '<IMG_CONTEXT>\n' where the real one adds a newline)
TEMPLATED = {
    "llava_next": "<image>\n",
    "llava_onevision": "<image>\n",
    "aya_vision": "<image>",
    "mistral3": "[IMG]",
    "internvl": "<IMG_CONTEXT>\n",
    "gemma4": "<|image|>",
}


@pytest.mark.parametrize("family", list(TEMPLATED))
def test_a_chat_template_run_renders_each_image_as_the_family_marker(family, tmp_path):
    code, output, record = _chat_run(tmp_path, family)
    assert code == 0, output
    marker = TEMPLATED[family]
    # the task's prompt with its <imageN> placeholders, each written as the family's marker, in one user turn
    body = re.sub(r"<image\d+>", lambda _: marker, record["prompt"])
    assert record["prompt_rendered"] == f"<s>USER: {body} ASSISTANT:"
    assert record["prompt_rendered"].count(marker) == len(record["images"]) == 4


@pytest.mark.parametrize(
    ("family", "refusal"), [("llama4", "Llama4ForConditionalGeneration.forward fails"), ("lfm2_vl", "torchvision")]
)
def test_refused_families_ship_a_template_and_stop_at_their_refusal(family, refusal, tmp_path):
    """Llama 4 and LFM2-VL checkpoints ship chat templates, and so do their tiny ones (model and tokenizer
    only), writing each family's image marker; the harness refuses both families at load, so a run stops at the
    refusal, and the template is checked through the tokenizer."""
    from transformers import AutoTokenizer

    code, output, _ = _chat_run(tmp_path, family)
    assert code != 0
    assert refusal in " ".join(output.split())
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / family)
    message = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Is it correct?"}]}]
    rendered = tokenizer.apply_chat_template(message, tokenize=False, add_generation_prompt=True)
    marker = {"llama4": "<|image|>", "lfm2_vl": "<image>"}[family]
    assert rendered == f"{tokenizer.bos_token or ''}USER: {marker}Is it correct? ASSISTANT:"
