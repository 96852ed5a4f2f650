"""Small text helpers shared by backends and tasks."""

from __future__ import annotations

from collections.abc import Iterable


def cut_at_stop(text: str, stop: Iterable[str]) -> str:
    """Text up to the first occurrence of any stop string (all of it when none occurs)."""
    cut = len(text)
    for marker in stop:
        if marker and (at := text.find(marker)) != -1:
            cut = min(cut, at)
    return text[:cut]
