"""Per-family references for the conformance suite (tests/test_conformance.py).

The default naive reference runs the family's own processor on the whole text and the model's full forward;
a family whose processor marks a continuation differently (PaliGemma's suffix) or cannot express the
context at all (Kosmos-2 takes one image, at the start) registers its own reference here, in a module of
its group, so the suite stays one parametrized set of checks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# family -> naive_logprob(backend, context, continuation, num_tokens) -> float
NAIVE: dict[str, Callable[..., float]] = {}
# family -> reference_generate(backend, context, max_new_tokens, num_beams) -> str
GENERATE: dict[str, Callable[..., str]] = {}
MODULES = (
    "tests.conformance.kosmos2",
    "tests.conformance.llava_like",
    "tests.conformance.qwen",
    "tests.conformance.gemma",
    "tests.conformance.idefics",
    "tests.conformance.other",
)


def reference(table: dict[str, Callable[..., Any]], family: str) -> Callable[..., Any] | None:
    for module in MODULES:
        importlib.import_module(module)
    return table.get(family)
