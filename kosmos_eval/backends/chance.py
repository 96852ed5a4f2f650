"""The paper's random baseline: every candidate equally likely.

Scores are seeded uniform draws that depend only on the run seed and the request's content (text and image
keys), never on batch composition or order, so a resumed or re-batched run reproduces them exactly.

It looks at no pixel, but it opens every image once anyway: a run on broken data must fail as a model's run
would, naming the file, never produce a score.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np

from kosmos_eval.core.backend import Backend, BackendInfo
from kosmos_eval.core.registry import register_backend
from kosmos_eval.core.types import GenerateRequest, ImageInput, RankRequest, RankResult


class ChanceBackend(Backend):
    name = "chance"

    def __init__(self, seed: int = 1234, device: str | None = None) -> None:
        self.seed = seed
        self._opened: set[str] = set()

    def _check_images(self, requests: list[RankRequest] | list[GenerateRequest]) -> None:
        for request in requests:
            for image in request.context.images:
                if image.key not in self._opened:
                    image.load()  # a DataError naming the file when it cannot be read
                    self._opened.add(image.key)

    def _rng(self, *parts: str) -> random.Random:
        digest = hashlib.sha256(":".join((str(self.seed), *parts)).encode()).hexdigest()
        return random.Random(int(digest[:16], 16))

    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        self._check_images(requests)
        results = []
        for request in requests:
            key = request.context.content_key()
            scores = tuple(-self._rng("rank", key, c).random() for c in request.continuations)
            results.append(
                RankResult(
                    logprobs=scores,
                    num_tokens=tuple(1 for _ in request.continuations),
                    is_greedy=tuple(False for _ in request.continuations),
                )
            )
        return results

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        self._check_images(requests)
        outputs = []
        for request in requests:
            rng = self._rng("generate", request.context.content_key())
            outputs.append(rng.choice(request.candidates) if request.candidates else "")
        return outputs

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        """The chance baseline sees nothing: seeded noise per image key, so `--sampler rices` runs (and is
        reproducible) but selects demos no better than at random."""
        return np.array([[self._rng("embed", image.key).gauss(0, 1) for _ in range(16)] for image in images])

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": "chance", "seed": self.seed}

    def default_batch_size(self) -> int:
        return 256


register_backend(
    BackendInfo(
        name="chance",
        implementation=ChanceBackend,
        description="the paper's random baseline: seeded uniform scores, no model",
        seeded=True,  # outputs depend on the run seed: a sweep builds one per seed
    )
)
