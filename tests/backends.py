"""Test backends whose outputs are known, so end-to-end runs have exact expected metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kosmos_eval.core.types import GenerateRequest, RankRequest, RankResult


class ScriptedBackend:
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
