"""Which third-party imports does pyproject.toml not install? (used by tests/test_declared_imports.py)

A package installed by hand on one machine makes the tests pass there and fail on a fresh install, so every
module the code imports must belong to a distribution that pyproject.toml names *directly*: one that is only
another package's dependency today may be dropped by it tomorrow. The package itself (kosmos_eval/) may only
rely on the core dependencies; an import of anything else there must sit in a `try` whose ImportError handler
tells the user, in its message, what to `pip install`.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dev extra installs tomli on Python 3.10
    import tomli as tomllib

SOURCE_ROOTS = ("kosmos_eval", "tests", "benchmarks", "prompts", "results")
PACKAGE_ROOT = "kosmos_eval"
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return normalise(re.split(r"[\s<>=!~;\[(@]", spec.strip(), maxsplit=1)[0])


@dataclass(frozen=True)
class Declared:
    core: frozenset[str]  # [project] dependencies
    extras: dict[str, frozenset[str]]  # optional-dependencies by extra

    @property
    def everything(self) -> frozenset[str]:
        return self.core.union(*self.extras.values())


def read_declared(pyproject: Path) -> Declared:
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    extras = project.get("optional-dependencies", {})
    return Declared(
        frozenset(requirement_name(s) for s in project.get("dependencies", []) if s.strip()),
        {extra: frozenset(requirement_name(s) for s in specs if s.strip()) for extra, specs in extras.items()},
    )


@dataclass(frozen=True)
class Import:
    module: str  # top-level name
    where: str  # file:line
    guarded_with_hint: bool  # inside `try` whose ImportError handler says what to pip install


def _handler_names(handler: ast.ExceptHandler) -> set[str]:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return {kind.id for kind in kinds if isinstance(kind, ast.Name)}


def _handler_hints_install(handler: ast.ExceptHandler) -> bool:
    return any(
        isinstance(node, ast.Constant) and isinstance(node.value, str) and "pip install" in node.value
        for node in ast.walk(handler)
    )


def imports_in(path: Path, root: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    guarded: set[int] = set()  # ids of import nodes inside a hinted try
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            handlers = [h for h in node.handlers if _handler_names(h) & IMPORT_ERRORS]
            if handlers and all(_handler_hints_install(h) for h in handlers):
                guarded.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            where = f"{path.relative_to(root)}:{node.lineno}"
            found.append(Import(name.split(".")[0], where, id(node) in guarded))
    return found


def local_modules(root: Path) -> set[str]:
    names = {p.name for p in root.iterdir()}
    for folder in SOURCE_ROOTS:
        if (root / folder).is_dir():
            names |= {p.stem for p in (root / folder).rglob("*.py")}
    return names


def undeclared_imports(root: Path) -> list[str]:
    """One line per import that a fresh `pip install -e .[...]` would not satisfy (empty when all is well)."""
    declared = read_declared(root / "pyproject.toml")
    owners_of = metadata.packages_distributions()
    local = local_modules(root) | {"__future__"}
    problems = []
    for folder in SOURCE_ROOTS:
        if not (root / folder).is_dir():
            continue
        for path in sorted((root / folder).rglob("*.py")):
            for item in imports_in(path, root):
                if item.module in sys.stdlib_module_names or item.module in local:
                    continue
                # a module not installed here counts as declared when a requirement has its very name (tomli on
                # Python 3.10 only); anything else not installed is one a fresh machine lacks too
                owners = {normalise(d) for d in owners_of.get(item.module, [])} or {normalise(item.module)}
                if not owners_of.get(item.module) and not owners & declared.everything:
                    problems.append(f"{item.where}: {item.module} is installed by no declared package")
                    continue
                hinted = item.guarded_with_hint
                allowed = declared.core if folder == PACKAGE_ROOT and not hinted else declared.everything
                if owners & allowed:
                    continue
                if folder == PACKAGE_ROOT and owners & declared.everything:
                    problems.append(
                        f"{item.where}: {item.module} is only in an optional extra; import it inside try/except "
                        "ImportError with a message saying what to pip install"
                    )
                else:
                    problems.append(
                        f"{item.where}: {item.module} (from {', '.join(sorted(owners))}) is not declared in "
                        "pyproject.toml"
                    )
    return problems
