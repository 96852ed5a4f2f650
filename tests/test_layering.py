"""The import arrows point down: cli -> runner -> tasks / backends -> metrics / formats / prompting -> core.

A lower layer that imports a higher one drags it (and its dependencies) into every user of the lower one and
makes cycles likely; this keeps the layering of docs/ARCHITECTURE.md true of the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "kosmos_eval"
# package -> the kosmos_eval packages it must not import (imports inside functions count too)
FORBIDDEN = {
    "core": {"metrics", "formats", "prompting", "tasks", "backends", "runner", "reporting", "cli", "data", "fewshot"},
    "metrics": {"tasks", "backends", "runner", "reporting", "cli"},
    "formats": {"tasks", "backends", "runner", "reporting", "cli"},
    "prompting": {"tasks", "backends", "runner", "reporting", "cli"},
    "tasks": {"runner", "reporting", "cli"},
    "backends": {"tasks", "runner", "reporting", "cli"},
    "runner": {"reporting", "cli"},
}


def _package(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {name.split(".")[1] for name in names if name.startswith("kosmos_eval.") and "." in name}
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_a_layer_above_it(package):
    files = [p for p in ROOT.rglob("*.py") if _package(p) == package]
    assert files
    wrong = sorted(
        f"{path.relative_to(ROOT.parent)} imports kosmos_eval.{name}"
        for path in files
        for name in _imports(path) & FORBIDDEN[package]
    )
    assert wrong == []


# ------------------------------------------------------------------------- the repository's three top folders
# The package is what users install, so it imports neither the tests nor the benchmarks (neither ships); the
# benchmarks must run without the tests, so data they need comes from kosmos_eval/generators, not tests/.
# Tests may import a benchmark (to run it in a quick mode); the reverse is what this forbids.
REPOSITORY = ROOT.parent
TOP_FORBIDDEN = {"kosmos_eval": {"tests", "benchmarks"}, "benchmarks": {"tests"}}


def _top_level_imports(path: Path) -> set[str]:
    """The first component of every absolute import in `path`, inside functions too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("folder", sorted(TOP_FORBIDDEN))
def test_package_and_benchmarks_do_not_import_tests(folder):
    files = sorted((REPOSITORY / folder).rglob("*.py"))
    assert files
    wrong = [
        f"{path.relative_to(REPOSITORY)} imports {name}"
        for path in files
        for name in sorted(_top_level_imports(path) & TOP_FORBIDDEN[folder])
    ]
    assert wrong == []


def test_the_import_check_sees_a_forbidden_import(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from tests.images import image_input\nimport benchmarks.common\n")
    assert _top_level_imports(tmp_path / "a.py") == {"tests", "benchmarks"}
