"""Name -> class registries for tasks and backends, filled by decorators at import time.

A new task or backend is one module with `@register_task` / `@register_backend`; nothing central is edited
except the package's import list (kosmos_eval/tasks/__init__.py, kosmos_eval/backends/__init__.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from kosmos_eval.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorate(cls: type[T]) -> type[T]:
            if name in self._entries and self._entries[name] is not cls:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = cls
            cls.name = name  # type: ignore[attr-defined]
            return cls

        return decorate

    def add(self, name: str, entry: T) -> T:
        """Register an entry that is not a class (e.g. a BackendInfo)."""
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry  # type: ignore[assignment]
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> type[T]:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self._entries))
            raise UserError(f"Unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}.")
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)


TASKS: Registry = Registry("task")
BACKENDS: Registry = Registry("backend")  # name -> core.backend.BackendInfo
register_task = TASKS.register


def register_backend(info: Any) -> Any:
    """Register a core.backend.BackendInfo under its name."""
    return BACKENDS.add(info.name, info)
