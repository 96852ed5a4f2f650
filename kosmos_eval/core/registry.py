"""Name -> class registries for tasks and backends, filled by decorators at import time.

A new task or backend is one module with `@register_task` / `@register_backend`; nothing central is edited
except the package's import list (kosmos_eval/tasks/__init__.py, kosmos_eval/backends/__init__.py).

Users add tasks of their own from YAML files outside the package (kosmos_eval/tasks/user_tasks.py). Those are
registered apart (`add_user`) so that they can never replace a built-in task, are told apart from the paper's
tasks (`user_source`), and can be dropped again when the folders they came from change (`remove_user`). The
registry may be given a refresh hook (`refresh_with`), called before every lookup: it lets the task package
re-read $KOSMOS_EVAL_TASKS at the moment a name is looked up, without core importing the tasks layer.
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
        self._user: dict[str, str] = {}  # user-declared name -> the file that declares it
        self._refresh: Callable[[], None] | None = None
        self._refreshing = False

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

    def add_user(self, name: str, entry: type[T], source: str) -> type[T]:
        """Register an entry declared by a user's file `source`. Refused (one line naming the file) when the name
        is a built-in one or another file declares it; the same file declaring it again replaces it (reloaded)."""
        if name in self._entries and name not in self._user:
            raise UserError(
                f"{source}: field 'task': {name!r} is the name of a built-in {self.kind}; choose another name"
            )
        if self._user.get(name, source) != source:
            raise UserError(f"{source}: field 'task': {name!r} is already declared by {self._user[name]}")
        self._entries[name] = entry
        self._user[name] = source
        entry.name = name  # type: ignore[attr-defined]
        return entry

    def remove_user(self, name: str) -> None:
        """Forget a user-declared entry (its folder left the include paths); built-in names are never removed."""
        if self._user.pop(name, None) is not None:
            self._entries.pop(name, None)

    def user_source(self, name: str) -> str | None:
        """The file that declares `name` when a user declared it; None for a built-in (or unknown) name."""
        self._sync()
        return self._user.get(name)

    def builtin_names(self) -> list[str]:
        return sorted(name for name in self._entries if name not in self._user)

    def refresh_with(self, hook: Callable[[], None]) -> None:
        """Call `hook` before each lookup (it registers or removes user entries; it is cheap when nothing
        changed). Lookups made by the hook itself do not call it again."""
        self._refresh = hook

    def _sync(self) -> None:
        if self._refresh is None or self._refreshing:
            return
        self._refreshing = True
        try:
            self._refresh()
        finally:
            self._refreshing = False

    def __contains__(self, name: object) -> bool:
        self._sync()
        return name in self._entries

    def get(self, name: str) -> type[T]:
        self._sync()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self._entries))
            raise UserError(f"Unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}.")
        return self._entries[name]

    def names(self) -> list[str]:
        self._sync()
        return sorted(self._entries)


TASKS: Registry = Registry("task")
BACKENDS: Registry = Registry("backend")  # name -> core.backend.BackendInfo
register_task = TASKS.register


def register_backend(info: Any) -> Any:
    """Register a core.backend.BackendInfo under its name."""
    return BACKENDS.add(info.name, info)
