"""Test backends whose outputs are known, so end-to-end runs have exact expected metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kosmos_eval.core.backend import Backend
from kosmos_eval.core.types import GenerateRequest, RankRequest, RankResult


class ScriptedBackend(Backend):
    """Generates `answer(request)` for every request and records what it was asked."""

    name = "scripted"

    def __init__(self, answer: Callable[[GenerateRequest], str]) -> None:
        self.answer = answer
        self.requests: list[GenerateRequest] = []

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        self.requests += requests
        return [self.answer(r) for r in requests]

    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        raise AssertionError("a generation task asked for ranking")

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def default_batch_size(self) -> int:
        return 4


class ScriptedRanker(Backend):
    """Scores each continuation with `logprob(request, continuation)` (one token each)."""

    name = "scripted-ranker"

    def __init__(self, logprob: Callable[[RankRequest, str], float]) -> None:
        self.logprob = logprob

    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        return [
            RankResult(
                logprobs=tuple(self.logprob(r, c) for c in r.continuations),
                num_tokens=tuple(1 for _ in r.continuations),
                is_greedy=tuple(False for _ in r.continuations),
            )
            for r in requests
        ]

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        raise AssertionError("a ranking task asked for generation")

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": "scripted-ranker"}

    def default_batch_size(self) -> int:
        return 16


class ScriptedModel(ScriptedRanker):
    """Both request kinds: generates `answer(request)` and scores continuations with `logprob` (multi-stage
    tasks such as chain-of-thought generate first, then rank)."""

    name = "scripted-model"

    def __init__(self, answer: Callable[[GenerateRequest], str], logprob: Callable[[RankRequest, str], float]) -> None:
        super().__init__(logprob)
        self.answer = answer
        self.generated: list[GenerateRequest] = []

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        self.generated += requests
        return [self.answer(r) for r in requests]
