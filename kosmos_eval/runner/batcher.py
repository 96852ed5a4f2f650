"""The one batcher: every backend gets its requests grouped, ordered and sized here.

Requests are split by kind (rank / generate), ordered longest first (so padding is small and an
out-of-memory shows up on the first batch, not after an hour), and cut into batches. With batch size `auto`
a batch that does not fit is halved and retried; nothing already computed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kosmos_eval.core.backend import Backend
from kosmos_eval.core.types import GenerateRequest, RankRequest, Request
from kosmos_eval.errors import BackendOutOfMemory, UserError

log = logging.getLogger(__name__)

IMAGE_COST = 256  # rough characters-equivalent of one image, for ordering only


def request_cost(request: Request) -> int:
    context = request.context
    cost = len(context.text) + IMAGE_COST * len(context.images)
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
        for kind in (RankRequest, GenerateRequest):
            indices = [i for i, r in enumerate(requests) if isinstance(r, kind)]
            indices.sort(key=lambda i: -request_cost(requests[i]))
            self._run_kind(kind, [requests[i] for i in indices], indices, outputs)
        return outputs

    def _run_kind(self, kind: type, batch_requests: list[Request], indices: list[int], outputs: list) -> None:
        call = self.backend.rank if kind is RankRequest else self.backend.generate
        start = 0
        while start < len(batch_requests):
            chunk = batch_requests[start : start + self.batch_size]
            try:
                results = call(chunk)  # type: ignore[arg-type]
            except BackendOutOfMemory:
                if not self.auto or self.batch_size == 1:
                    hint = "use --batch-size auto or a smaller value" if not self.auto else "the model does not fit"
                    raise UserError(f"Out of memory at batch size {self.batch_size}: {hint}") from None
                self.batch_size = max(1, self.batch_size // 2)
                log.warning("out of memory: retrying with batch size %d", self.batch_size)
                continue
            if len(results) != len(chunk):
                raise RuntimeError(f"backend returned {len(results)} outputs for {len(chunk)} requests")
            for offset, result in enumerate(results):
                outputs[indices[start + offset]] = result
            start += len(chunk)
