"""Text-task scoring equals lm-evaluation-harness's (0.4.x), computed here by its rules written out by hand:

* `acc_norm` divides each option's summed log-likelihood by the length of its `doc_to_choice` value, the
  choice without the target delimiter " " that joins it to the context (`process_results`, `completion_len`);
* a context's trailing whitespace moves to the start of the continuation before tokenising (`_encode_pair`),
  so with a byte-level BPE the scored ids are lm-eval's and decode back to the full text.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from kosmos_eval.backends.hf.families import GENERIC
from kosmos_eval.backends.hf.processor_adapter import ProcessorAdapter
from kosmos_eval.config import RunConfig
from kosmos_eval.core.registry import TASKS
from kosmos_eval.core.types import Context, Example, RankRequest, RankResult
from kosmos_eval.formats.commonsense import COLORS
from kosmos_eval.runner.run import evaluate
from tests.backends import ScriptedRanker
from tests.test_language_formats import BOOLQ_ROWS, CB_ROWS, COPA_ROWS, HELLASWAG_ROWS, PIQA_ROWS, STORY
from tests.test_language_tasks import write_task_data

# --- acc_norm ------------------------------------------------------------------------------------------------


def lm_eval_pick_norm(lls: list[float], choices: list[str]) -> int:
    """lm-eval's `pred_norm`: argmax of log-likelihood over the choice's character count."""
    per_char = [ll / len(choice) for ll, choice in zip(lls, choices, strict=True)]
    return per_char.index(max(per_char))


def test_boolq_accuracy_norm_divides_by_the_choice_without_its_delimiter(tmp_path) -> None:
    # " no" -2.1, " yes" -3.0: per character of "no"/"yes" -1.05 < -1.0, so lm-eval picks yes (the gold answer
    # of this item); divided by " no"/" yes" (3 and 4 characters) it would be -0.7 > -0.75, picking no
    scores = {" no": -2.1, " yes": -3.0}
    assert lm_eval_pick_norm([-2.1, -3.0], ["no", "yes"]) == 1
    data = write_task_data(tmp_path, "boolq", [BOOLQ_ROWS[0]])
    config = RunConfig(task="boolq", backend="scripted", data_dir=str(data), output_dir=str(tmp_path / "out"))
    outcome = evaluate(config, backend=ScriptedRanker(lambda request, option: scores[option]), progress=False)
    (record,) = [json.loads(line) for line in (outcome.run_dir / "samples.jsonl").read_text().splitlines()]
    assert (record["label"], record["prediction"], record["prediction_norm"]) == (1, 0, 1)
    assert outcome.metrics["accuracy_norm"].value == 1.0 and outcome.metrics["accuracy"].value == 0.0


def test_copa_scores_two_spaces_and_normalises_by_its_choice_with_one(tmp_path) -> None:
    """lm-eval's COPA choice is " " + the alternative, lower-cased: the continuation after the delimiter
    starts with two spaces, and acc_norm counts the choice's own space (20 and 19 characters here)."""
    task = TASKS.get("copa")(seed=1234)
    example = task.load("validation", write_task_data(tmp_path, "copa"))[0]
    (request,) = task.build(example, [])
    choices = [" the sun was rising.", " the grass was cut."]
    assert request.continuations == tuple(" " + choice for choice in choices)
    assert task.norm_lengths(example) == [20, 19]
    # -10.51 / 20 > -10.0 / 19 (lm-eval: the gold first option); over the scored texts' 21 and 20 it flips
    lls = [-10.51, -10.0]
    assert lm_eval_pick_norm(lls, choices) == 0 and lm_eval_pick_norm(lls, [" " + c for c in choices]) == 1
    record = task.score(example, [RankResult(tuple(lls), (5, 5), (False, False))])
    assert (record["prediction"], record["prediction_norm"], record["correct_norm"]) == (1, 0, True)


LM_EVAL_CHOICES = {  # doc_to_choice of lm-eval's yaml / utils.py for the first row of each test table
    "boolq": ["no", "yes"],
    "cb": ["True", "False", "Neither"],
    "copa": [" the sun was rising.", " the grass was cut."],
    "piqa": [PIQA_ROWS[0]["sol1"], PIQA_ROWS[0]["sol2"]],
    "hellaswag": list(HELLASWAG_ROWS[0]["endings"]),
    "storycloze": [STORY["sentence_quiz1"], STORY["sentence_quiz2"]],
}


@pytest.mark.parametrize("name", sorted(LM_EVAL_CHOICES))
def test_norm_lengths_are_lm_evals_completion_len(tmp_path, name) -> None:
    rows = {"boolq": BOOLQ_ROWS, "cb": CB_ROWS, "copa": COPA_ROWS, "piqa": PIQA_ROWS}.get(name)
    task = TASKS.get(name)(seed=1234)
    example = task.load(task.default_split, write_task_data(tmp_path, name, rows))[0]
    expected = LM_EVAL_CHOICES[name]
    assert task.norm_lengths(example) == [len(choice) for choice in expected]
    (request,) = task.build(example, [])
    assert request.continuations == tuple(" " + choice for choice in expected)  # target_delimiter + choice


def test_colour_accuracy_norm_counts_the_colour_name_only() -> None:
    """MemoryColor / ColorTerms rank " red" ... " yellow" like a multiple-choice task; `accuracy_norm` divides by
    the colour name's length, as lm-eval's acc_norm would: red -2.0 / 3 < yellow -3.6 / 6 (with the leading
    space counted, -2.0 / 4 > -3.6 / 7 would pick red)."""
    task = TASKS.get("memory_color")(seed=1234)
    lls = [-2.0 if color == "red" else -3.6 if color == "yellow" else -50.0 for color in COLORS]
    example = Example(
        id="banana",
        fields={"object": "a banana", "options": [f" {c}" for c in COLORS], "label": COLORS.index("yellow")},
    )
    record = task.score(example, [RankResult(tuple(lls), (1,) * len(COLORS), (False,) * len(COLORS))])
    assert task.norm_lengths(example) == [len(color) for color in COLORS]
    assert COLORS[record["prediction"]] == "red" and COLORS[record["prediction_norm"]] == "yellow"
    assert record["prediction_norm"] == lm_eval_pick_norm(lls, list(COLORS))


# --- trailing whitespace -------------------------------------------------------------------------------------


def byte_level_bpe(gpt2_split: bool) -> Any:
    """A byte-level BPE built here (no download): the 256 byte symbols plus a few merges, "ĠĠ" (two spaces)
    first. With GPT-2's pre-tokenizer split a run of spaces before a word stays apart from it; without it
    (one BPE over the whole text, as some converted tokenizers do) two spaces merge into one token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    merges = [("Ġ", "Ġ"), ("H", "e"), ("s", "a"), ("sa", "t"), ("Ġ", "sat"), ("T", "h"), ("Th", "e")]
    merges += [("The", "n"), ("Ġ", "Then")]
    vocab = {symbol: i for i, symbol in enumerate(alphabet)}
    for left, right in merges:
        vocab[left + right] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    raw = Tokenizer(models.BPE(vocab, merges))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=gpt2_split)
    raw.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


class TextProcessor:
    """A processor for text alone: the tokenizer, called the way ProcessorAdapter.encode calls a processor."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: list[str], return_tensors: str = "pt", **kwargs: Any) -> Any:
        return self.tokenizer(text, return_tensors=return_tensors, **kwargs)


def lm_eval_encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval's `_encode_pair`, written out: trailing whitespace of the context opens the continuation."""
    n = len(context) - len(context.rstrip())
    if n:
        context, continuation = context[:-n], context[-n:] + continuation
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    return context_ids, whole[len(context_ids) :]


@pytest.mark.parametrize("gpt2_split", [True, False])
def test_a_context_ending_in_a_space_is_scored_with_lm_evals_ids(gpt2_split) -> None:
    tokenizer = byte_level_bpe(gpt2_split)
    model = SimpleNamespace(config=SimpleNamespace(_attn_implementation="eager", model_type="tiny-bpe"))
    adapter = ProcessorAdapter(GENERIC, model, TextProcessor(tokenizer), "cpu", image_workers=0)
    context, continuation = "He sat. ", " Then"  # a HellaSwag-like context the cleaning left a space at the end
    expected_context, expected_continuation = lm_eval_encode_pair(tokenizer, context, continuation)
    encoded = adapter.encode(Context.of(context))
    ids = adapter.continuation_ids(Context.of(context), continuation)
    assert (encoded.ids, ids) == (expected_context, expected_continuation)
    first = tokenizer.convert_ids_to_tokens(ids[0])
    assert first == ("Ġ" if gpt2_split else "ĠĠ")  # the context's space is scored with the continuation
    assert tokenizer.decode(encoded.ids + ids) == context + continuation  # no space lost


def test_a_context_ending_in_a_space_is_scored_as_lm_eval_scores_it_by_the_hf_backend(llava_backend) -> None:
    """End to end with the tiny LLaVA (a Llama-style tokenizer): the backend's log-likelihood and token count
    are those of lm-eval's ids, computed here with a plain forward pass."""
    context, continuation = "Question: what is the sentiment of the opinion? Answer: ", " positive"
    tokenizer = llava_backend.adapter.tokenizer
    head = llava_backend.loaded.processor(text=[context.rstrip()], return_tensors="pt")["input_ids"][0].tolist()
    _, expected = lm_eval_encode_pair(tokenizer, context, continuation)
    ids = torch.tensor([head + expected])
    with torch.no_grad():
        logprobs = torch.log_softmax(llava_backend.loaded.model(input_ids=ids).logits[0].double(), dim=-1)
    total = sum(float(logprobs[p - 1, ids[0, p]]) for p in range(len(head), ids.shape[1]))
    (result,) = llava_backend.rank([RankRequest(Context.of(context), (continuation,))])
    assert result.num_tokens == (len(expected),)
    assert result.logprobs[0] == pytest.approx(total, abs=1e-4)
