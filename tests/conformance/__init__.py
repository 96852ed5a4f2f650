"""Per-family references for the conformance suite (tests/test_conformance.py).

The default naive reference runs the family's own processor on the whole text and the model's full forward;
a family whose processor marks a continuation differently (PaliGemma's suffix) or cannot express the
context at all (Kosmos-2 takes one image, at the start) registers its own reference here, in a module of
its group, so the suite stays one parametrized set of checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kosmos_eval.core.registry import Registry

# The groups with references of their own; llava_like.py and idefics.py say why theirs need none.
# family -> naive_logprob(backend, context, continuation, num_tokens) -> float
NAIVE: Registry[Callable[..., float]] = Registry(
    "naive reference", ("tests.conformance.kosmos2", "tests.conformance.gemma", "tests.conformance.other")
)
# family -> reference_generate(backend, context, max_new_tokens, num_beams) -> str
GENERATE: Registry[Callable[..., str]] = Registry(
    "generation reference",
    ("tests.conformance.kosmos2", "tests.conformance.gemma", "tests.conformance.other", "tests.conformance.qwen"),
)


def reference(table: Registry[Callable[..., Any]], family: str) -> Callable[..., Any] | None:
    return table.find(family)
