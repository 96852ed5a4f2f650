"""Name -> entry registries that import the modules filling them on first lookup, and "module:name" references.

Every table the harness fills from many modules (tasks, backends, model families, tiny checkpoints, sample and
hub-copy writers) is a `Registry`. The registry is declared with the modules that register into it, so a lookup
anywhere (`get`, `names`, `in`, `items`) sees every entry without its caller importing those modules first: no
`import kosmos_eval.tasks  # registers` lines, and no registry that is empty in one process and full in another
depending on what happened to be imported before. A module in that list that registers nothing is refused on the
first lookup, so the list cannot silently drift from the code. The modules are named as strings because a
registry in a low layer (core) is filled by higher ones (tasks, backends): the import happens at lookup time and
never makes core depend on them at import time, so `kosmos-eval list` and reports still never import torch.

A new task or backend is one module with `@register_task` / `register_backend(...)` and its name in the
registry's module list below; nothing else is edited.

Users add tasks of their own from YAML files outside the package (kosmos_eval/tasks/user_tasks.py). Those are
registered apart (`add_user`) so that they can never replace a built-in task, are told apart from the paper's
tasks (`user_source`), and can be dropped again when the folders they came from change (`remove_user`). A
registry may be given a refresh hook (`refresh=` "module:function", or `refresh_with`), called before every
lookup once the built-ins are loaded: it lets the task package re-read $KOSMOS_EVAL_TASKS at the moment a name is
looked up, without core importing the tasks layer.
"""

from __future__ import annotations

import difflib
import importlib
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kosmos_eval.errors import UserError

if TYPE_CHECKING:
    from kosmos_eval.core.backend import BackendInfo

T = TypeVar("T")
E = TypeVar("E")


def import_object(reference: str) -> Any:
    """The object that a "module:name" reference names (a class, a function; "module:Outer.inner" also works),
    importing its module now. Such references let a light declaration name a heavy implementation (a backend
    that needs torch, a family's adapter) that is imported only when it is used."""
    module, sep, attribute = reference.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"{reference!r} is not a 'module:name' reference")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def _registering_module() -> str:
    """The module whose top level is running the registration: the first module-level frame above this call.
    Registrations happen while a module is imported (decorators, calls at its top level, possibly through
    helpers such as `register_family`), so this names the module that declared the entry, whoever imported it."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "<module>":
        frame = frame.f_back
    return str(frame.f_globals.get("__name__", "?")) if frame is not None else "?"


class Registry(Generic[T]):
    """Named entries of one kind, filled by the modules in `modules`, which are imported on the first lookup."""

    def __init__(self, kind: str, modules: Sequence[str] = (), *, refresh: str | None = None) -> None:
        self.kind = kind
        self.modules = tuple(modules)
        self._entries: dict[str, T] = {}
        self._owners: dict[str, str] = {}  # name -> the module that registered it
        self._user: dict[str, str] = {}  # user-declared name -> the file that declares it
        self._refresh_reference = refresh
        self._refresh: Callable[[], None] | None = None
        self._refreshing = False
        self._loaded = not self.modules
        self._loading = False
        # a thread looking up while another imports the modules waits for it instead of seeing half the entries
        self._lock = threading.RLock()

    # --- registering (never triggers loading: it runs while the modules are being imported) -------------------

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; the same entry again is a no-op (a module imported twice)."""
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        self._owners[name] = _registering_module()
        return entry

    def register(self, *names: str) -> Callable[[E], E]:
        """A decorator registering the decorated class or function under each of `names`."""

        def decorate(entry: E) -> E:
            for name in names:
                self.add(name, entry)  # type: ignore[arg-type]
            return entry

        return decorate

    def add_user(self, name: str, entry: T, source: str) -> T:
        """Register an entry declared by a user's file `source`. Refused (one line naming the file) when the name
        is a built-in one or another file declares it; the same file declaring it again replaces it (reloaded)."""
        self._load()
        if name in self._entries and name not in self._user:
            raise UserError(
                f"{source}: field 'task': {name!r} is the name of a built-in {self.kind}; choose another name"
            )
        if self._user.get(name, source) != source:
            raise UserError(f"{source}: field 'task': {name!r} is already declared by {self._user[name]}")
        self._entries[name] = entry
        self._owners[name] = source
        self._user[name] = source
        entry.name = name  # type: ignore[attr-defined]
        return entry

    def remove_user(self, name: str) -> None:
        """Forget a user-declared entry (its folder left the include paths); built-in names are never removed."""
        if self._user.pop(name, None) is not None:
            self._entries.pop(name, None)
            self._owners.pop(name, None)

    def refresh_with(self, hook: Callable[[], None]) -> None:
        """Call `hook` before each lookup (it registers or removes user entries; it is cheap when nothing
        changed). Lookups made by the hook itself do not call it again."""
        self._refresh = hook

    # --- loading ------------------------------------------------------------------------------------------------

    def _load(self) -> None:
        """Import the declared modules once. A lookup made while they are imported (by one of them, in the same
        thread) sees the entries registered so far rather than importing them again."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                for module in self.modules:
                    importlib.import_module(module)
                owners = set(self._owners.values())
                for module in self.modules:
                    if module not in owners:
                        raise RuntimeError(
                            f"{module} is listed among the modules of the {self.kind} registry but registers "
                            f"no {self.kind}: register one there or take it off the list"
                        )
                self._loaded = True
            finally:
                self._loading = False

    def _sync(self) -> None:
        """The built-ins first (so a user entry can never take a built-in name), then the refresh hook."""
        self._load()
        if self._refresh is None and self._refresh_reference is not None:
            self._refresh = import_object(self._refresh_reference)
        if self._refresh is None or self._refreshing:
            return
        self._refreshing = True
        try:
            self._refresh()
        finally:
            self._refreshing = False

    # --- looking up ---------------------------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        self._sync()
        return name in self._entries

    def get(self, name: str) -> T:
        self._sync()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self._entries))
            raise UserError(f"Unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}.")
        return self._entries[name]

    def find(self, name: str) -> T | None:
        """The entry registered under `name`, or None (for callers with a fallback of their own)."""
        self._sync()
        return self._entries.get(name)

    def names(self) -> list[str]:
        self._sync()
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """Every entry in declaration order: by the declared modules' order, then as each module registers them
        (entries of other modules, e.g. a user's, come last)."""
        self._sync()
        rank = {module: index for index, module in enumerate(self.modules)}
        last = len(self.modules)
        return sorted(self._entries.items(), key=lambda item: rank.get(self._owners.get(item[0], ""), last))

    def values(self) -> list[T]:
        return [entry for _, entry in self.items()]

    def builtin_names(self) -> list[str]:
        """The entries not declared by a user (without the refresh hook: the hook itself asks for these)."""
        self._load()
        return sorted(name for name in self._entries if name not in self._user)

    def user_source(self, name: str) -> str | None:
        """The file that declares `name` when a user declared it; None for a built-in (or unknown) name."""
        self._sync()
        return self._user.get(name)


TASK_MODULES = (
    "kosmos_eval.tasks.captioning",
    "kosmos_eval.tasks.commonsense",
    "kosmos_eval.tasks.described",
    "kosmos_eval.tasks.imagenet",
    "kosmos_eval.tasks.language",
    "kosmos_eval.tasks.ocr_free",
    "kosmos_eval.tasks.raven",
    "kosmos_eval.tasks.vqa",
    "kosmos_eval.tasks.websrc",
)
BACKEND_MODULES = ("kosmos_eval.backends.chance", "kosmos_eval.backends.hf", "kosmos_eval.backends.openai")

# name -> Task subclass; the user tasks of $KOSMOS_EVAL_TASKS are read before each lookup
TASKS: Registry[type[Any]] = Registry("task", TASK_MODULES, refresh="kosmos_eval.tasks.user_tasks:sync_environment")
BACKENDS: Registry[BackendInfo] = Registry("backend", BACKEND_MODULES)


def register_task(name: str) -> Callable[[type[E]], type[E]]:
    """Register a Task subclass under `name` (which it also gets as its `name`)."""

    def decorate(cls: type[E]) -> type[E]:
        TASKS.add(name, cls)
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return decorate


def register_backend(info: BackendInfo) -> BackendInfo:
    """Register a core.backend.BackendInfo under its name."""
    return BACKENDS.add(info.name, info)
