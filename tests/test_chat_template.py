"""`--model-args chat_template=true`: prompts rendered through the checkpoint's chat template, scored and
generated exactly as the model's own chat use would see them."""

from __future__ import annotations

import shutil

import pytest
import torch

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.config import RunConfig
from kosmos_eval.core.types import Context, GenerateRequest, ImageInput, RankRequest
from kosmos_eval.errors import UserError
from tests.images import image_input

pytestmark = pytest.mark.slow

TOL = 1e-4
# a template in the common instruct shape: its own BOS, role words, its own image marker per image part
LLAVA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}USER: {% for part in message.content %}"
    "{% if part.type == 'image' %}<image>\n{% else %}{{ part.text }}{% endif %}{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %} ASSISTANT:{% endif %}"
)
CONTEXTS = [
    Context.of(image_input(1), "Question: what is in the picture? Answer:"),
    Context.of("Here are three images:", image_input(2), image_input(3), image_input(4), " Is it correct?"),
    Context.of("Question: what is the sentiment of the opinion? Answer:"),
]


@pytest.fixture(scope="module")
def chat_llava(tiny_llava, tmp_path_factory):
    folder = shutil.copytree(tiny_llava, tmp_path_factory.mktemp("chat") / "llava")
    (folder / "chat_template.jinja").write_text(LLAVA_TEMPLATE)
    return HFBackend(pretrained=str(folder), dtype="float32", device="cpu", chat_template="true")


def _messages(context: Context) -> list[dict]:
    parts = [{"type": "image"} if isinstance(s, ImageInput) else {"type": "text", "text": s} for s in context.segments]
    return [{"role": "user", "content": parts}]


def _inputs(backend: HFBackend, text: str, context: Context) -> dict:
    kwargs = {"text": [text], "return_tensors": "pt", "add_special_tokens": False}
    if context.images:
        kwargs["images"] = [[image.load() for image in context.images]]
    return dict(backend.loaded.processor(**kwargs))


def test_the_rendered_prompt_is_the_templates_own(chat_llava):
    processor = chat_llava.loaded.processor
    context = CONTEXTS[0]
    expected = processor.apply_chat_template(_messages(context), tokenize=False, add_generation_prompt=True)
    assert expected.startswith("<s>USER: <image>\nQuestion") and expected.endswith(" ASSISTANT:")
    assert chat_llava.adapter.encode(context).ids == _inputs(chat_llava, expected, context)["input_ids"][0].tolist()


def test_ranking_scores_the_answer_at_the_start_of_the_assistant_turn(chat_llava):
    processor, model = chat_llava.loaded.processor, chat_llava.loaded.model
    requests = [RankRequest(context, (" Yes", " No", " a red bus")) for context in CONTEXTS]
    results = chat_llava.rank(requests)
    for context, result in zip(CONTEXTS, results, strict=True):
        prompt = processor.apply_chat_template(_messages(context), tokenize=False, add_generation_prompt=True)
        for i, answer in enumerate(("Yes", "No", "a red bus")):  # the task's leading space removed
            inputs = _inputs(chat_llava, prompt + answer, context)
            with torch.no_grad():
                logprobs = torch.log_softmax(model(**inputs).logits[0].double(), dim=-1)
            ids = inputs["input_ids"][0]
            n = result.num_tokens[i]
            expected = sum(float(logprobs[p - 1, ids[p]]) for p in range(len(ids) - n, len(ids)))
            assert abs(result.logprobs[i] - expected) < TOL, (context.render(), answer)


def test_generation_continues_the_assistant_turn_as_generate_does(chat_llava):
    processor, model = chat_llava.loaded.processor, chat_llava.loaded.model
    outputs = chat_llava.generate([GenerateRequest(context, max_new_tokens=5, num_beams=2) for context in CONTEXTS])
    for context, output in zip(CONTEXTS, outputs, strict=True):
        prompt = processor.apply_chat_template(_messages(context), tokenize=False, add_generation_prompt=True)
        inputs = _inputs(chat_llava, prompt, context)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=5, num_beams=2, do_sample=False)
        assert output == chat_llava.adapter.decode(out[0, inputs["input_ids"].shape[1] :].tolist()).strip()


def test_the_template_is_part_of_the_fingerprint_and_the_option_of_identity(chat_llava, llava_backend):
    import hashlib

    fingerprint = chat_llava.fingerprint()
    assert fingerprint["chat_template_sha256"] == hashlib.sha256(LLAVA_TEMPLATE.encode()).hexdigest()
    assert "chat_template_sha256" not in llava_backend.fingerprint()
    plain = RunConfig(task="raven", model_args={"pretrained": "x"})
    chat = RunConfig(task="raven", model_args={"pretrained": "x", "chat_template": "true"})
    assert plain.identity("p", "test") != chat.identity("p", "test")


def test_a_checkpoint_without_a_template_or_a_family_without_chat_refuses_in_one_line(tmp_path, tiny_kosmos2):
    from kosmos_eval.tiny import build_tiny_model

    plain = build_tiny_model("gpt2", tmp_path / "gpt2")  # GPT-2 checkpoints ship no chat template
    with pytest.raises(UserError, match="has no chat template") as missing:
        HFBackend(pretrained=str(plain), dtype="float32", device="cpu", chat_template="true")
    assert "\n" not in str(missing.value)
    with pytest.raises(UserError, match="Kosmos-2 prompts are laid out by the harness"):
        HFBackend(pretrained=str(tiny_kosmos2), dtype="float32", device="cpu", chat_template="true")


def test_a_run_records_the_prompt_as_the_template_rendered_it(chat_llava, llava_backend, tmp_path):
    """samples.jsonl keeps what the model saw: `prompt_rendered`, the template's text, beside the plain prompt;
    a run without a template has no such field."""
    import json

    from kosmos_eval.runner.run import evaluate

    processor = chat_llava.loaded.processor
    config = RunConfig(task="raven", backend="hf", output_dir=str(tmp_path / "chat"), limit=1, sample=True)
    outcome = evaluate(config, backend=chat_llava, progress=False)
    record = json.loads((outcome.run_dir / "samples.jsonl").read_text().splitlines()[0])
    context_text = record["prompt"]
    assert context_text.startswith("Here are three images:<image1>")
    assert record["prompt_rendered"].startswith("<s>USER: Here are three images:<image>\n")
    assert record["prompt_rendered"].endswith(" ASSISTANT:")
    assert record["prompt_rendered"] == processor.apply_chat_template(
        _messages(Context.of(*_segments(context_text))), tokenize=False, add_generation_prompt=True
    )
    plain = evaluate(
        RunConfig(task="raven", backend="hf", output_dir=str(tmp_path / "plain"), limit=1, sample=True),
        backend=llava_backend,
        progress=False,
    )
    assert "prompt_rendered" not in json.loads((plain.run_dir / "samples.jsonl").read_text().splitlines()[0])


def _segments(rendered: str) -> list:
    """The context's segments from its plain rendering ("<imageN>" stands for the N-th image)."""
    import re

    parts = re.split(r"<image\d+>", rendered)
    segments: list = []
    for index, text in enumerate(parts):
        if text:
            segments.append(text)
        if index < len(parts) - 1:
            segments.append(image_input(index + 1))
    return segments
