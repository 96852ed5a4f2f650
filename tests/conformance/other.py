"""Florence-2's and Kosmos-2.5's references.

Florence-2 is an encoder-decoder: the default reference (one causal sequence, the continuation after the
context) does not describe it. Its reference is the model's own training convention: the processor's inputs
for the context (image and prompt, the encoder's side) and the continuation as `labels` `<s> answer </s>`,
which the model itself shifts right behind its decoder start token; the answer's tokens are summed from the
full logits. Generation: its own `generate` on the processor's inputs, the whole decoder output decoded.

Kosmos-2.5's processor takes the image and the text as separate arguments (it writes the image block itself)
and refuses a prompt without an image; text alone is `<s>` + text through the same model, without image inputs.
"""

from __future__ import annotations

import torch

from kosmos_eval.core.types import Context
from tests.conformance import GENERATE, NAIVE


def _text(context: Context) -> str:
    return "".join(s for s in context.segments if isinstance(s, str))


def _florence2_inputs(backend, context: Context) -> dict:
    kwargs = {"text": _text(context), "return_tensors": "pt"}
    if context.images:
        kwargs["images"] = context.images[0].load()
    return dict(backend.loaded.processor(**kwargs))


def naive_florence2(backend, context: Context, continuation: str, num_tokens: int) -> float:
    tokenizer = backend.loaded.processor.tokenizer
    answer = tokenizer(continuation.lstrip(), add_special_tokens=False)["input_ids"]
    assert len(answer) == num_tokens, "the answer is tokenised differently"
    labels = torch.tensor([[tokenizer.bos_token_id, *answer, tokenizer.eos_token_id]])
    with torch.no_grad():
        logits = backend.loaded.model(**_florence2_inputs(backend, context), labels=labels).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)  # position j predicts labels[j]
    return sum(float(logprobs[1 + i, token]) for i, token in enumerate(answer))


def generate_florence2(backend, context: Context, max_new_tokens: int, num_beams: int) -> str:
    with torch.no_grad():
        out = backend.loaded.model.generate(
            **_florence2_inputs(backend, context),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=backend.adapter.pad_id,
        )
    return backend.adapter.decode(out[0].tolist()).strip()


def _kosmos2_5_inputs(backend, text: str, context: Context) -> dict:
    processor = backend.loaded.processor
    if context.images:
        return dict(processor(text=text, images=context.images[0].load(), return_tensors="pt"))
    tokenizer = processor.tokenizer
    return {"input_ids": tokenizer(tokenizer.bos_token + text, return_tensors="pt")["input_ids"]}


def naive_kosmos2_5(backend, context: Context, continuation: str, num_tokens: int) -> float:
    inputs = _kosmos2_5_inputs(backend, _text(context) + continuation, context)
    with torch.no_grad():
        logits = backend.loaded.model(**inputs).logits[0].double()
    ids = inputs["input_ids"][0]
    if ids[-1] == backend.tokenizer.eos_token_id:
        ids, logits = ids[:-1], logits[:-1]
    expected_tail = backend.adapter.continuation_ids(context, continuation)
    assert ids[-num_tokens:].tolist() == expected_tail, "the processor tokenises the continuation differently"
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[p - 1, ids[p]]) for p in range(len(ids) - num_tokens, len(ids)))


def generate_kosmos2_5(backend, context: Context, max_new_tokens: int, num_beams: int) -> str:
    inputs = _kosmos2_5_inputs(backend, _text(context), context)
    length = inputs["input_ids"].shape[1]
    if inputs["input_ids"][0, -1] == backend.tokenizer.eos_token_id:
        inputs = {
            k: (v[:, :-1] if torch.is_tensor(v) and v.dim() == 2 and v.shape[1] == length else v)
            for k, v in inputs.items()
        }
    with torch.no_grad():
        out = backend.loaded.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=backend.adapter.pad_id,
        )
    return backend.adapter.decode(out[0, inputs["input_ids"].shape[1] :].tolist()).strip()


NAIVE.add("florence2", naive_florence2)
GENERATE.add("florence2", generate_florence2)
NAIVE.add("kosmos2_5", naive_kosmos2_5)
GENERATE.add("kosmos2_5", generate_kosmos2_5)
