"""Every registry is complete on its first lookup, whatever was imported before, and its module list is true.

A registry filled by import side effects is empty in one process and full in another depending on import order;
each of ours instead imports the modules it declares when first asked. Each check of a real registry runs in a
fresh interpreter, where nothing but the registry's own module has been imported.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from kosmos_eval.core.registry import Registry, import_object
from kosmos_eval.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
TASK_COUNT = 21

# (module defining it, its name, how many entries it holds at least, whether a lookup may import torch)
REGISTRIES = [
    ("kosmos_eval.core.registry", "TASKS", TASK_COUNT, False),
    ("kosmos_eval.core.registry", "BACKENDS", 3, False),
    ("kosmos_eval.backends.hf.families", "FAMILIES", 20, True),
    ("kosmos_eval.backends.hf.families", "BY_MODEL_TYPE", 20, True),
    ("kosmos_eval.backends.hf.families", "PROCESSOR_STANDINS", 3, True),
    ("kosmos_eval.tiny", "BUILDERS", 20, False),
    ("kosmos_eval.generators.samples", "WRITERS", TASK_COUNT, False),
    ("kosmos_eval.generators.hub_copies", "COPY_WRITERS", 5, False),
    ("kosmos_eval.generators.scaled", "SCALED_WRITERS", TASK_COUNT, False),
]

PROBE = """
import json, sys
from {module} import {name} as registry
names = registry.names()
owners = {{registry._owners[name] for name in names}}
print(json.dumps({{"names": names, "strays": sorted(owners - set(registry.modules)), "torch": "torch" in sys.modules}}))
"""


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


# a lookup that may import torch takes over a second in its fresh interpreter: those are in the slow tier
@pytest.mark.parametrize(
    ("module", "name", "at_least", "torch"),
    [pytest.param(*r, id=r[1], marks=[pytest.mark.slow] if r[3] else []) for r in REGISTRIES],
)
def test_a_registry_lists_every_entry_on_its_first_lookup(module, name, at_least, torch):
    done = _fresh(PROBE.format(module=module, name=name))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert len(seen["names"]) >= at_least, seen["names"]
    assert seen["strays"] == []  # every entry comes from a module the registry declares
    if not torch:
        assert not seen["torch"], f"looking up {name} imported torch"


def test_the_task_registry_needs_no_import_of_the_tasks_package():
    done = _fresh("from kosmos_eval.core.registry import TASKS; print(TASKS.names())")
    assert done.returncode == 0, done.stderr
    assert len(ast.literal_eval(done.stdout)) == TASK_COUNT


def test_samples_and_scaled_data_exist_for_every_task():
    from kosmos_eval.core.registry import TASKS
    from kosmos_eval.generators.samples import WRITERS
    from kosmos_eval.generators.scaled import SCALED_WRITERS

    assert WRITERS.names() == SCALED_WRITERS.names() == TASKS.builtin_names()


# --- the registry itself, on modules written for the test --------------------------------------------------


@pytest.fixture
def widgets(tmp_path, monkeypatch):
    """A package `widgetpkg` with two registries in `widgetpkg.table`: WIDGETS, filled by two modules, and BROKEN,
    which also names a module that registers nothing."""
    package = tmp_path / "widgetpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "table.py").write_text(
        textwrap.dedent(
            """
            from kosmos_eval.core.registry import Registry

            WIDGETS = Registry("widget", ("widgetpkg.second", "widgetpkg.first"))
            BROKEN = Registry("widget", ("widgetpkg.first", "widgetpkg.empty"))
            """
        )
    )
    (package / "first.py").write_text(
        "from widgetpkg.table import BROKEN, WIDGETS\n"
        "WIDGETS.add('bolt', 1)\nWIDGETS.add('nut', 2)\nBROKEN.add('bolt', 1)\n"
    )
    (package / "second.py").write_text(
        "from widgetpkg.table import WIDGETS\n\n@WIDGETS.register('gear', 'cog')\ndef turn():\n    return 3\n"
    )
    (package / "empty.py").write_text('"""Declares nothing."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [m for m in sys.modules if m == "widgetpkg" or m.startswith("widgetpkg.")]:
        del sys.modules[name]


def _table() -> ModuleType:
    """The test package's registries (imported by name: the package exists only under tmp_path)."""
    return importlib.import_module("widgetpkg.table")


def test_the_first_lookup_imports_the_declared_modules(widgets):
    registry = _table().WIDGETS

    assert "widgetpkg.first" not in sys.modules
    assert "bolt" in registry and "widgetpkg.first" in sys.modules
    assert registry.names() == ["bolt", "cog", "gear", "nut"]
    # declaration order: the modules in the order the registry names them, then each module's own order
    assert [name for name, _ in registry.items()] == ["gear", "cog", "bolt", "nut"]
    assert registry.get("gear")() == 3 and registry.find("washer") is None


def test_an_entry_registered_before_the_first_lookup_is_kept(widgets):
    importlib.import_module("widgetpkg.first")  # imported directly, as a test or a user's script may
    registry = _table().WIDGETS

    assert registry.names() == ["bolt", "cog", "gear", "nut"]


def test_a_listed_module_that_registers_nothing_is_an_error(widgets):
    registry = _table().BROKEN

    with pytest.raises(RuntimeError, match=r"^widgetpkg\.empty is listed among the modules of the widget registry"):
        registry.names()
    with pytest.raises(RuntimeError, match="registers no widget"):  # and stays one on every lookup
        registry.get("bolt")


def test_an_unknown_name_is_one_line_with_the_closest_known_name(widgets):
    registry = _table().WIDGETS

    with pytest.raises(UserError, match=r"^Unknown widget 'gaer'\. Did you mean 'gear'\? Known widgets: bolt, cog"):
        registry.get("gaer")


def test_a_name_registered_twice_is_refused_and_the_same_entry_again_is_not():
    registry: Registry[object] = Registry("widget")
    entry = object()
    registry.add("bolt", entry)
    registry.add("bolt", entry)
    with pytest.raises(ValueError, match="widget 'bolt' is registered twice"):
        registry.add("bolt", object())


def test_user_entries_never_replace_a_built_in_one():
    class Entry:
        pass

    registry: Registry[type] = Registry("task")
    registry.add("builtin", Entry)
    with pytest.raises(UserError, match=r"^mine.yaml: field 'task': 'builtin' is the name of a built-in task"):
        registry.add_user("builtin", type("Other", (), {}), "mine.yaml")
    mine = registry.add_user("probe", type("Probe", (), {}), "mine.yaml")
    assert registry.user_source("probe") == "mine.yaml" and mine.name == "probe"
    assert registry.builtin_names() == ["builtin"]
    registry.remove_user("probe")
    registry.remove_user("builtin")  # a built-in name is never removed
    assert registry.names() == ["builtin"]


def test_a_module_reference_names_an_object_imported_when_asked():
    assert import_object("json:dumps") is json.dumps
    assert import_object("kosmos_eval.core.registry:Registry.get") is Registry.get
    with pytest.raises(ValueError, match="not a 'module:name' reference"):
        import_object("json.dumps")
