"""The one contract every model backend fulfils.

Backends only turn a batch of requests into numbers or text; the runner's batcher decides what goes into a
batch and in which order, so the same batching logic serves every backend.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from kosmos_eval.core.types import GenerateRequest, RankRequest, RankResult


@runtime_checkable
class Backend(Protocol):
    name: str

    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        """Summed log-probability and token count of every continuation of every request."""
        ...

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        """Generated text per request, cut at the first stop string or end of sequence."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the model exactly: id, revision or weight hash, dtype."""
        ...

    def default_batch_size(self) -> int:
        """Requests per batch when the user asks for `--batch-size auto` (a start; OOM halves it)."""
        ...
