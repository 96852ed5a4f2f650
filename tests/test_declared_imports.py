"""Every third-party import is installed by pyproject.toml, directly (a fresh machine has nothing else)."""

from __future__ import annotations

from pathlib import Path

from tests.import_check import imports_in, undeclared_imports

ROOT = Path(__file__).resolve().parents[1]


def test_every_import_of_the_project_is_declared():
    assert undeclared_imports(ROOT) == []


def test_the_check_sees_the_project_imports():
    modules = {item.module for item in imports_in(ROOT / "kosmos_eval" / "formats" / "imagenet_names.py", ROOT)}
    assert "scipy" in modules  # a deferred import inside a function still counts


def _project(tmp_path: Path, code: str, dependencies: str = '"torch"', dev: str = '"pytest"') -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(
        f"[project]\nname = 'x'\ndependencies = [{dependencies}]\n[project.optional-dependencies]\ndev = [{dev}]\n"
    )
    (tmp_path / "kosmos_eval").mkdir()
    (tmp_path / "kosmos_eval" / "mod.py").write_text(code)
    return tmp_path


def test_flags_a_module_nothing_installs(tmp_path):
    root = _project(tmp_path, "def f():\n    import surely_not_a_module_xyz\n")
    (problem,) = undeclared_imports(root)
    assert problem == "kosmos_eval/mod.py:2: surely_not_a_module_xyz is installed by no declared package"


def test_flags_an_installed_but_undeclared_module(tmp_path):
    root = _project(tmp_path, "import scipy.io\n")
    (problem,) = undeclared_imports(root)
    assert problem.startswith("kosmos_eval/mod.py:1: scipy (from scipy) is not declared")


def test_flags_a_module_that_is_only_another_packages_dependency(tmp_path):
    root = _project(tmp_path, "import filelock\n")  # torch requires filelock; importing it needs its own line
    (problem,) = undeclared_imports(root)
    assert "filelock" in problem and "not declared" in problem


def test_package_code_may_not_lean_on_a_dev_extra_without_a_hint(tmp_path):
    root = _project(tmp_path, "import pytest\n")
    (problem,) = undeclared_imports(root)
    assert "only in an optional extra" in problem
    hinted = "try:\n    import pytest\nexcept ImportError:\n    raise SystemExit('pip install kosmos-eval[dev]')\n"
    assert undeclared_imports(_project(tmp_path / "b", hinted)) == []
    silent = "try:\n    import pytest\nexcept ImportError:\n    pytest = None\n"
    assert len(undeclared_imports(_project(tmp_path / "c", silent))) == 1


def test_tests_may_use_the_dev_extra(tmp_path):
    root = _project(tmp_path, "import torch\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("import pytest\n")
    assert undeclared_imports(root) == []


def test_every_package_of_the_source_tree_is_installed():
    """pyproject.toml lists packages by hand; one left out works in a development install and is missing
    from a wheel."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "kosmos_eval").rglob("__init__.py")}
    assert found - listed == set()
