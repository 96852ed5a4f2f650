"""Text-only language models under `--model hf` (families/causal_lm.py), on tiny random checkpoints built offline.

What a text model is asked for is checked against the model itself, computed here without the harness:

* every declared model type ranks as one full forward of the whole context + continuation (lm-eval's split:
  the context's tokens, then the rest), float64 sums, to 1e-4, packed and unpacked; packing is off exactly for
  the types with a sliding window;
* greedy and beam generation equal `model.generate` on the tokenizer's ids, each prompt alone, while the
  harness decodes them in one left-padded batch;
* HellaSwag and COPA runs on their bundled samples (Llama-style and GPT-2-style) record those log-probs, and a
  WebSRC `setting=text_only` run gives the paper's prompt with the page text, no image, and `generate`'s answer;
* a task that shows images (Raven, VQAv2, WebSRC's default setting) is refused in one line naming the task and
  the model, before the model loads and without a run folder; where the config was not at hand, before any
  example runs;
* `kosmos-eval tiny-model llama DIR` writes a checkpoint `--model hf` loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.backends.hf.text_only import MODEL_TYPES
from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.core.registry import TASKS
from kosmos_eval.core.types import Context, GenerateRequest, RankRequest
from kosmos_eval.data.locate import bundled_sample
from kosmos_eval.errors import UserError
from kosmos_eval.runner.run import evaluate
from kosmos_eval.tiny.causal_lm import build_text_model
from tests.images import image_input

pytestmark = pytest.mark.slow

TOL = 1e-4
SLIDING = {"mistral", "gemma2", "gemma3_text"}  # tiny builders give them an 8-token window


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    built: dict[str, Path] = {}

    def get(model_type: str) -> Path:
        if model_type not in built:
            built[model_type] = build_text_model(model_type, tmp_path_factory.mktemp("text") / model_type)
        return built[model_type]

    return get


def load(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(path)


def naive_logprob(model, tokenizer, context: str, continuation: str) -> tuple[float, int]:
    """One forward of the whole text; the continuation's tokens are those after the context's own (its trailing
    whitespace moved to the continuation, as lm-evaluation-harness splits them)."""
    head = context.rstrip()
    context_ids = tokenizer(head)["input_ids"]
    whole = tokenizer(context + continuation)["input_ids"]
    assert whole[: len(context_ids)] == context_ids, "the whole text's tokens do not start with the context's"
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([whole])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    total = sum(float(logprobs[p - 1, whole[p]]) for p in range(len(context_ids), len(whole)))
    return total, len(whole) - len(context_ids)


def reference_generate(model, tokenizer, prompt: str, max_new_tokens: int, num_beams: int) -> str:
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=pad,
        )
    return tokenizer.decode(out[0, ids.shape[1] :].tolist(), skip_special_tokens=True).strip()


RANKED = [  # contexts of several lengths, one ending in whitespace, two sharing a prefix (Winograd's shape)
    ("Question: what is the sentiment of the opinion? Answer:", (" positive", " negative")),
    ("The color of the sky is ", ("blue.", "a red bus parked next to a building")),
    ("Is the sofa larger than the cat?", (" Yes", " No")),
    ("The man riding a horse", (" is walking down a street",)),
    ("The dog riding a horse", (" is walking down a street",)),
]
PROMPTS = ["The color of the sky is", "Question: Who is the publisher of this book? Answer:", "Q: A:"]


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_every_declared_type_ranks_as_a_naive_forward_packed_or_not(model_type, text_model):
    path = text_model(model_type)
    backend = HFBackend(pretrained=str(path), dtype="float32", device="cpu")
    assert backend.loaded.family.name == "causal_lm" and backend.loaded.model_type == model_type
    assert backend.adapter.can_pack == (model_type not in SLIDING)
    model, tokenizer = load(path)
    requests = [RankRequest(Context.of(text), continuations) for text, continuations in RANKED]
    for packing in (True, False):
        backend.packing = packing
        for (text, continuations), result in zip(RANKED, backend.rank(requests), strict=True):
            for continuation, logprob, tokens in zip(continuations, result.logprobs, result.num_tokens, strict=True):
                expected, expected_tokens = naive_logprob(model, tokenizer, text, continuation)
                assert tokens == expected_tokens and abs(logprob - expected) < TOL, (model_type, packing, text)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_generation_equals_the_models_own_generate(model_type, text_model):
    path = text_model(model_type)
    backend = HFBackend(pretrained=str(path), dtype="float32", device="cpu")
    assert backend.own_loop_available
    model, tokenizer = load(path)
    for num_beams in (1, 3):
        requests = [GenerateRequest(Context.of(p), max_new_tokens=6, num_beams=num_beams) for p in PROMPTS]
        outputs = backend.generate(requests)  # prompts of three lengths in one left-padded batch
        expected = [reference_generate(model, tokenizer, p, 6, num_beams) for p in PROMPTS]
        assert outputs == expected, (model_type, num_beams)


def records(outcome) -> list[dict]:
    return [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model_type", ["llama", "gpt2"])
@pytest.mark.parametrize("task", ["hellaswag", "copa"])
def test_language_runs_record_a_naive_forwards_logprobs(task, model_type, text_model, tmp_path):
    path = text_model(model_type)
    config = RunConfig(task=task, backend="hf", model_args={"pretrained": str(path), "dtype": "float32"},
                       device="cpu", sample=True, limit=4, output_dir=str(tmp_path))  # fmt: skip
    outcome = evaluate(config, progress=False)
    assert outcome.summary["fingerprint"]["family"] == "causal_lm" and outcome.summary["n"] == 4
    task_ = TASKS.get(task)()
    examples = {e.id: e for e in task_.load(task_.default_split, bundled_sample(task))}
    model, tokenizer = load(path)
    for record in records(outcome):
        (request,) = task_.build(examples[record["id"]], [])
        assert not request.context.images and record["images"] == []
        for i, continuation in enumerate(request.continuations):
            expected, tokens = naive_logprob(model, tokenizer, request.context.text, continuation)
            assert record["num_tokens"][i] == tokens
            assert record["logprobs"][i] == pytest.approx(expected, abs=TOL), (record["id"], i)


def test_commonsense_probes_run_on_a_text_model(text_model, tmp_path):
    for task in ("relative_size", "memory_color", "color_terms"):
        config = RunConfig(task=task, backend="hf", model_args={"pretrained": str(text_model("gpt2"))},
                           device="cpu", sample=True, limit=2, output_dir=str(tmp_path))  # fmt: skip
        assert evaluate(config, progress=False).summary["n"] == 2


def test_websrc_text_only_is_the_prompt_with_page_text_and_no_image(text_model, tmp_path):
    path = text_model("llama")
    config = RunConfig(task="websrc", backend="hf", model_args={"pretrained": str(path), "dtype": "float32"},
                       device="cpu", sample=True, limit=2, task_options={"setting": "text_only"},
                       output_dir=str(tmp_path))  # fmt: skip
    outcome = evaluate(config, progress=False)
    task = TASKS.get("websrc")(options={"setting": "text_only"})
    examples = {e.id: e for e in task.load("dev", bundled_sample("websrc"))}
    default = TASKS.get("websrc")()  # the default setting: the screenshot, then the same text
    with_image = {e.id: e for e in default.load("dev", bundled_sample("websrc"))}
    model, tokenizer = load(path)
    for record in records(outcome):
        example = examples[record["id"]]
        assert example.images == {} and record["images"] == []
        (request,) = task.build(example, [])
        (shown,) = default.build(with_image[example.id], [])
        assert len(shown.context.images) == 1 and not request.context.images
        assert request.context.text == shown.context.text and "Context: " in record["prompt"]
        assert record["prompt"] == request.context.text and record["prompt_info"]["web_text_chars"] > 0
        expected = reference_generate(model, tokenizer, request.context.text, request.max_new_tokens, 1)
        assert record["outputs"] == [expected.split("\n")[0].strip()]


@pytest.mark.parametrize(
    ("task", "options"), [("raven", {}), ("vqav2", {}), ("websrc", {}), ("websrc", {"setting": "without_text"})]
)
def test_image_tasks_are_refused_before_the_model_loads(task, options, text_model, tmp_path, monkeypatch):
    import kosmos_eval.backends.hf.backend as hf_backend

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(hf_backend, "load_model", never)
    path = text_model("llama")
    out = tmp_path / "runs"
    config = RunConfig(task=task, backend="hf", model_args={"pretrained": str(path)}, sample=True, limit=2,
                       task_options=options, output_dir=str(out))  # fmt: skip
    with pytest.raises(UserError) as refused:
        evaluate(config, progress=False)
    message = str(refused.value)
    assert message.startswith(f"Task '{task}' shows the model images, and {path} (model type 'llama')")
    assert "\n" not in message and "setting=text_only" in message
    assert not out.exists() or not list(out.iterdir())


def test_an_image_task_is_refused_after_loading_when_the_config_was_not_at_hand(text_model, tmp_path):
    backend = HFBackend(pretrained=str(text_model("llama")), dtype="float32", device="cpu")
    config = RunConfig(task="vqav2", backend="hf", sample=True, limit=2, output_dir=str(tmp_path))
    with pytest.raises(UserError, match=r"\(Text-only LM, model type 'llama'\) is a text-only language model"):
        evaluate(config, backend, progress=False)  # the default model is named: its config is not read here
    assert not list(tmp_path.iterdir())
    with pytest.raises(UserError, match="cannot take a prompt with 1 image"):
        backend.rank([RankRequest(Context.of(image_input(1), "An image of"), (" a cat",))])


def test_the_tiny_model_command_writes_a_loadable_checkpoint(tmp_path):
    for architecture, model_type in (("llama", "llama"), ("gpt2", "gpt2"), ("causal_lm", "llama")):
        folder = tmp_path / architecture
        result = CliRunner().invoke(app, ["tiny-model", architecture, str(folder)])
        assert result.exit_code == 0, result.output
        backend = HFBackend(pretrained=str(folder), dtype="float32", device="cpu")
        assert backend.fingerprint()["model_type"] == model_type and backend.fingerprint()["family"] == "causal_lm"
        assert backend.rank([RankRequest(Context.of("Is it correct?"), (" Yes",))])[0].logprobs[0] < 0


def test_a_chat_template_renders_the_prompt_as_one_user_turn(text_model, tmp_path):
    import shutil

    from transformers import AutoTokenizer

    folder = shutil.copytree(text_model("llama"), tmp_path / "chat")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    tokenizer.save_pretrained(folder)
    backend = HFBackend(pretrained=str(folder), dtype="float32", device="cpu", chat_template="true")
    context = Context.of("Is the sofa larger than the cat?")
    assert backend.rendered_prompt(context) == "<s>user: Is the sofa larger than the cat?\nassistant:"
    model, _ = load(folder)
    (result,) = backend.rank([RankRequest(context, (" Yes", " No"))])
    for answer, logprob in zip(("Yes", "No"), result.logprobs, strict=True):  # the answer, its space removed
        expected, _ = naive_logprob(model, _NoSpecialTokens(tokenizer), backend.rendered_prompt(context), answer)
        assert logprob == pytest.approx(expected, abs=TOL)


class _NoSpecialTokens:
    """The tokenizer as a chat template's text is tokenised: the template writes its own <s>."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> dict:
        return self.tokenizer(text, add_special_tokens=False)


def test_an_undeclared_text_model_type_is_named_in_one_line(tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM

    from kosmos_eval.tiny.tokenizer import llama_style_tokenizer

    tokenizer = llama_style_tokenizer(extra_tokens=())
    sizes = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = AutoConfig.for_model("phi3", vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **sizes)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(UserError, match=r"is a text-only language model of type 'phi3', which no family declares"):
        HFBackend(pretrained=str(tmp_path), dtype="float32", device="cpu")


def test_websrc_text_only_needs_the_page_html_not_the_hub_copy():
    from kosmos_eval.errors import DataError
    from kosmos_eval.tasks.websrc import WebSRCTask

    with pytest.raises(DataError, match=r"so setting text_only .* cannot be served from it"):
        WebSRCTask(options={"setting": "text_only"}).load("dev", None)
