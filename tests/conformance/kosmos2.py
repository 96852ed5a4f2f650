"""Kosmos-2's references: its processor puts one image at the start only, so ranking and greedy decoding
are checked against naive computations that splice each image's features into its slots one request at a
time (tests/test_hf_parity.py), and beam search against the official processor where it can express the
context (one image first, or none)."""

from __future__ import annotations

import pytest
import torch

from kosmos_eval.core.types import Context, ImageInput
from tests.conformance import GENERATE, NAIVE
from tests.test_hf_parity import naive_greedy_kosmos2, naive_kosmos2


def naive(backend, context: Context, continuation: str, num_tokens: int) -> float:
    return naive_kosmos2(backend, context, continuation)[0]


def generate(backend, context: Context, max_new_tokens: int, num_beams: int) -> str:
    if num_beams == 1:
        return backend.adapter.decode(naive_greedy_kosmos2(backend, context, max_new_tokens)).strip()
    if len(context.images) > 1 or (context.images and not isinstance(context.segments[0], ImageInput)):
        pytest.skip("Kosmos-2's own processor takes one image, at the start: no reference for this context")
    text = "".join(s for s in context.segments if isinstance(s, str))
    if context.images:
        kwargs = {"images": context.images[0].load(), "num_image_tokens": backend.adapter.num_slots}
        inputs = dict(backend.loaded.processor(text=text, return_tensors="pt", **kwargs))
        model = backend.loaded.model
    else:  # text alone: the full model insists on images
        inputs = dict(backend.loaded.processor(text=text, return_tensors="pt"))
        inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        model = backend.loaded.model.text_model
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False)
    return backend.adapter.decode(out[0, inputs["input_ids"].shape[1] :].tolist()).strip()


NAIVE.add("kosmos2", naive)
GENERATE.add("kosmos2", generate)
