"""Every link in the README and docs resolves, and every docs/ page the code or docs name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "benchmarks").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOCS_MENTION = re.compile(r"\bdocs/[\w./-]+?\.md\b")


def _relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)  # code blocks hold no links
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = [t for t in _relative_links(page) if not (page.parent / t.split("#", 1)[0]).exists()]
    assert broken == [], f"{page.relative_to(ROOT)} links to missing files"


def test_every_docs_page_named_in_code_or_docs_exists():
    sources = [*PAGES, *sorted((ROOT / "kosmos_eval").rglob("*.py")), *sorted((ROOT / "prompts").glob("*.yaml"))]
    missing = sorted(
        f"{source.relative_to(ROOT)}: {name}"
        for source in sources
        for name in DOCS_MENTION.findall(source.read_text(encoding="utf-8"))
        if not (ROOT / name).exists()
    )
    assert missing == []


def test_the_link_check_finds_links(tmp_path):
    page = tmp_path / "page.md"
    links = "[ok](page.md) [gone](nothere.md#part) [web](https://example.org) [anchor](#x)"
    page.write_text(f"{links}\n```\n[no](x.md)\n```")
    assert _relative_links(page) == ["page.md", "nothere.md#part"]


def test_the_readme_supported_models_table_is_the_registry():
    from kosmos_eval.backends.hf.families.table import supported_models_markdown

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n", text.index("<!-- supported-models:start")) + 1
    end = text.index("<!-- supported-models:end -->")
    assert text[start:end] == supported_models_markdown(), "regenerate the README table from the registry"


def test_the_tests_the_models_table_names_exist():
    import re as _re

    from kosmos_eval.backends.hf.families.table import MORE_TESTS

    named = {name for text in MORE_TESTS.values() for name in _re.findall(r"test_\w+\.py", text)}
    assert named and all((ROOT / "tests" / name).is_file() for name in named)


TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def test_every_test_a_promise_page_names_exists():
    """docs/safety.md pins each promise to a test by name: a renamed or deleted test must not leave a promise
    standing on nothing."""
    page = ROOT / "docs" / "safety.md"
    missing, current = [], None
    for file, name in TEST_REFERENCE.findall(page.read_text(encoding="utf-8")):
        if file:
            current = ROOT / file
            if not current.exists():
                missing.append(file)
                continue
        if name and (current is None or f"def {name}(" not in current.read_text(encoding="utf-8")):
            missing.append(f"{current}::{name}")
    assert missing == []
