"""References for the Gemma- and Llama-based families.

PaliGemma: its processor marks what follows the prompt with its `suffix` argument (token type 1, the causal
part of its prefix-LM, with an end-of-sequence after it), so the naive reference scores the continuation as
that suffix. The processor takes no text-only prompt; there the reference writes the processor's text layout
(`<bos> prompt \\n`, suffix as the tokenizer's second sequence) with the processor's own tokenizer call.
"""

from __future__ import annotations

from typing import Any

import torch

from kosmos_eval.core.types import Context
from tests.conformance import GENERATE, NAIVE


def _prompt(backend, context: Context) -> str:
    image = backend.loaded.processor.image_token
    return "".join(s if isinstance(s, str) else image for s in context.segments)


def _paligemma_inputs(backend, context: Context, suffix: str | None) -> dict[str, Any]:
    processor = backend.loaded.processor
    if context.images:
        kwargs: dict[str, Any] = {"suffix": [suffix]} if suffix is not None else {}
        images = [[image.load() for image in context.images]]
        inputs = dict(processor(text=[_prompt(backend, context)], images=images, return_tensors="pt", **kwargs))
    else:  # what the processor's text part is: `<bos> prompt \n`, the suffix as the second sequence with <eos>
        text = processor.tokenizer.bos_token + _prompt(backend, context) + "\n"
        pair = {"text_pair": [suffix + processor.tokenizer.eos_token]} if suffix is not None else {}
        inputs = dict(processor.tokenizer([text], return_token_type_ids=True, return_tensors="pt", **pair))
    inputs.pop("labels", None)
    return inputs


def paligemma_naive(backend, context: Context, continuation: str, num_tokens: int) -> float:
    inputs = _paligemma_inputs(backend, context, continuation)
    with torch.no_grad():
        logits = backend.loaded.model(**inputs).logits[0].double()
    ids, types = inputs["input_ids"][0], inputs["token_type_ids"][0]
    assert ids[-1] == backend.tokenizer.eos_token_id
    suffix = [p for p in range(len(ids) - 1) if types[p] == 1]  # the suffix without its end-of-sequence
    assert len(suffix) == num_tokens and suffix == list(range(len(ids) - 1 - num_tokens, len(ids) - 1))
    assert ids[suffix].tolist() == backend.adapter.continuation_ids(context, continuation)
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[p - 1, ids[p]]) for p in suffix)


def paligemma_generate(backend, context: Context, max_new_tokens: int, num_beams: int) -> str:
    inputs = _paligemma_inputs(backend, context, None)
    with torch.no_grad():
        out = backend.loaded.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=backend.adapter.pad_id,
        )
    return backend.adapter.decode(out[0, inputs["input_ids"].shape[1] :].tolist()).strip()


NAIVE.add("paligemma", paligemma_naive)
GENERATE.add("paligemma", paligemma_generate)
