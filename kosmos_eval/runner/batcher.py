"""The one batcher: every backend gets its requests grouped, ordered and sized here.

Requests are split by kind (rank / generate), ordered longest first (so padding is small and an
out-of-memory shows up on the first batch, not after an hour), and cut into batches. With batch size `auto`
a batch that does not fit is halved and retried; at one request per batch the backend is asked to shrink its
own forward passes (`reduce_memory`). Nothing already computed is lost, and since backends give results
independent of batch composition, the outputs are the same as without the out-of-memory.

Backends that decode images may offer `prefetch(requests)`: the next batch is handed to it before the current
one runs, so decoding overlaps the model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from kosmos_eval.core.backend import Backend
from kosmos_eval.core.types import GenerateRequest, RankRequest, Request
from kosmos_eval.errors import BackendOutOfMemory, UserError

log = logging.getLogger(__name__)

IMAGE_COST = 256  # rough characters-equivalent of one image, for ordering only


def request_cost(request: Request) -> int:
    # one pass over the segments (the `text` and `images` properties would build a string and a list)
    cost = sum(len(s) if isinstance(s, str) else IMAGE_COST for s in request.context.segments)
    if isinstance(request, RankRequest):
        cost = (cost + max(len(c) for c in request.continuations)) * len(request.continuations)
    return cost


class Batcher:
    def __init__(self, backend: Backend, batch_size: int | None) -> None:
        self.backend = backend
        self.auto = batch_size is None
        self.batch_size = batch_size or backend.default_batch_size()

    def run(self, requests: Sequence[Request]) -> list:
        """Outputs in the order of `requests` (RankResult for rank requests, str for generate requests)."""
        outputs: list = [None] * len(requests)
        for positions, results in self.batches(requests):
            for position, result in zip(positions, results, strict=True):
                outputs[position] = result
        return outputs

    def batches(self, requests: Sequence[Request]) -> Iterator[tuple[list[int], list[Any]]]:
        """Each batch's positions in `requests` and its outputs, as the batch returns (rank requests first),
        so that a caller can finish what those outputs complete while the next batches compute; a batch that
        ran out of memory is never given. Every request is in exactly one batch."""
        for kind in (RankRequest, GenerateRequest):
            indices = [i for i, r in enumerate(requests) if isinstance(r, kind)]
            indices.sort(key=lambda i: -request_cost(requests[i]))
            yield from self._run_kind(kind, [requests[i] for i in indices], indices)

    def _run_kind(
        self, kind: type, batch_requests: list[Request], indices: list[int]
    ) -> Iterator[tuple[list[int], list[Any]]]:
        call = self.backend.rank if kind is RankRequest else self.backend.generate
        start = 0
        while start < len(batch_requests):
            chunk = batch_requests[start : start + self.batch_size]
            self.backend.prefetch(batch_requests[start : start + 2 * self.batch_size])  # this batch and the next
            try:
                results = call(chunk)  # type: ignore[arg-type]
            except BackendOutOfMemory:
                self._back_off()
                continue
            if len(results) != len(chunk):
                raise RuntimeError(f"backend returned {len(results)} outputs for {len(chunk)} requests")
            yield indices[start : start + len(chunk)], list(results)
            start += len(chunk)

    def _back_off(self) -> None:
        """Halve the batch, or at one request ask the backend for smaller forward passes; else give up."""
        if not self.auto:
            raise UserError(
                f"Out of memory at batch size {self.batch_size}: use --batch-size auto or a smaller value"
            ) from None
        if self.batch_size > 1:
            self.batch_size //= 2
            log.warning("out of memory: retrying with batch size %d", self.batch_size)
            return
        if self.backend.reduce_memory():
            log.warning("out of memory at batch size 1: retrying with smaller forward passes")
            return
        raise UserError("Out of memory at batch size 1: the model does not fit on this device") from None
