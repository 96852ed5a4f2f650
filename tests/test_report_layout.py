"""`kosmos-eval report` as a newcomer first sees it (issue 30): the page opens on the metrics with the runs'
notes folded and each note once, tables scroll inside their box at 800 and 1,400 px, a caption is an "error"
against its own run's CIDEr, and a filter that hides every curve hides the curves' heading too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.generators.vqa import write_vqav2
from kosmos_eval.reporting.page import CSP, SCRIPT, _sha256
from kosmos_eval.reporting.report import build_report
from kosmos_eval.reporting.runs import find_runs
from kosmos_eval.reporting.sample_view import error_threshold, is_error
from kosmos_eval.runner.run import evaluate
from tests.runs import chance_run

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHARED_NOTE = "data: the bundled synthetic sample, a smoke test only"
QUESTIONS = [
    ("What color is the cat? " + "a long question " * 12, ["red"] * 10, "other"),
    ("Is it a dog?", ["yes"] * 10, "yes/no"),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    vqa = tmp_path_factory.mktemp("vqav2")
    write_vqav2(vqa, "val", QUESTIONS)
    write_vqav2(vqa, "train", QUESTIONS, first_image=100)
    for shots in (0, 2):
        config = RunConfig(
            task="vqav2", shots=shots, split="val", backend="chance", data_dir=str(vqa), output_dir=str(out)
        )
        evaluate(config, progress=False)
    chance_run(out, limit=4)
    found = find_runs([out])
    for index, run in enumerate(found):  # one note every run carries, and one note of a single run
        run.summary["notes"] = [SHARED_NOTE, SHARED_NOTE] + (["only the first run"] if index == 0 else [])
    return found


@pytest.fixture(scope="module")
def report_file(runs, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(build_report(runs, "Layout report " + "with a long title " * 3), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open(browser, report_file, width: int, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report_file.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def test_notes_are_folded_and_each_note_is_listed_once(runs, report_file):
    html = report_file.read_text()
    header = html[html.index("<header>") : html.index("</header>")]
    assert "<details open" not in html
    assert header.count(SHARED_NOTE) == 1
    assert header.count("only the first run") == 1
    assert "all runs" in header and f"1 of {len(runs)} runs" in header
    assert "Notes (2 distinct)" in header


@pytest.mark.parametrize("width", [800, 1400])
def test_page_fits_the_width_and_opens_on_the_metrics(browser, report_file, tmp_path, width):
    page, errors = _open(browser, report_file, width)
    try:
        page.screenshot(path=str(tmp_path / f"report-{width}.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = page.locator("table.metrics").bounding_box()
        assert box is not None and box["y"] < 900  # its top is above the fold
        # the first run's number is on screen without scrolling sideways: the values come right after the setting
        value = page.locator("td.headline-value").first.bounding_box()
        assert value is not None and value["x"] + value["width"] <= width and value["y"] < 900
        assert not page.locator("li.note").first.is_visible()  # notes folded
        # a table wider than the page scrolls inside its box
        wraps = page.locator(".table-wrap").evaluate_all(
            "ws => ws.map(w => [getComputedStyle(w).overflowX, w.getBoundingClientRect().right])"
        )
        assert wraps and all(overflow == "auto" and right <= width for overflow, right in wraps)
        if width == 800:  # 13 columns do not fit 800 px: the metrics table scrolls in its box, not the page
            inner, outer = page.locator("table.metrics").evaluate(
                "t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]"
            )
            assert inner > outer
        page.locator("details.notes summary").click()
        assert page.locator("li.note").first.is_visible()
        assert errors == []
    finally:
        page.close()


def test_curves_heading_hides_with_its_last_curve(browser, report_file):
    page, errors = _open(browser, report_file, 1400)
    try:
        assert page.locator("#curves h2").is_visible()  # vqav2 at 0 and 2 shots: one curve
        page.select_option("#task-filter", "raven")
        assert page.locator("svg.line-chart:visible").count() == 0
        assert not page.locator("#curves h2").is_visible()
        page.select_option("#task-filter", "vqav2")
        assert page.locator("#curves h2").is_visible()
        page.select_option("#task-filter", "")
        assert page.locator("#curves h2").is_visible() and page.locator("svg.line-chart").is_visible()
        assert errors == []  # the changed script still runs under the page's CSP
    finally:
        page.close()
    assert _sha256(SCRIPT) in CSP


def test_cider_errors_are_the_runs_lowest_tenth():
    scores = [i / 10 for i in range(1, 21)]  # CIDEr 10, 20, ... 200: the lowest tenth is 10 and 20
    threshold = error_threshold("CIDEr", [*scores, None])
    assert threshold == (0.2, True)
    assert [s for s in scores if is_error({}, s, threshold)] == [0.1, 0.2]
    assert error_threshold("CIDEr", [0.5, 1.7, 0.9]) == (0.5, True)  # 3 images: the lowest one
    tied = [0.0] * 4 + [0.8] * 6  # a caption scoring 0 is an error however many share that score
    assert sum(is_error({}, s, error_threshold("CIDEr", tied)) for s in tied) == 4
    # a headline with full marks keeps "below 100"; no score falls back to the correct flag
    assert error_threshold("accuracy", scores) == (1.0, False)
    assert is_error({}, 0.9) and not is_error({}, 1.0)
    assert is_error({"correct": False}, None) and not is_error({"correct": True}, None)


def test_sample_browser_marks_the_lowest_tenth_of_a_captioning_run(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from kosmos_eval.reporting import sample_browser

    records = [{"id": str(i), "prompt": "", "prediction": "a cat", "references": ["a dog"]} for i in range(1, 21)]
    run = SimpleNamespace(records=records, summary={"headline": "CIDEr"}, path=tmp_path / "coco", task="coco_caption")
    monkeypatch.setattr(sample_browser, "sample_scores", lambda run: {r["id"]: int(r["id"]) / 10 for r in records})
    html = sample_browser.samples_section([run], ["coco"], max_samples=20)
    assert html.count('<tr class="sample error"') == 2 and html.count('<tr class="sample correct"') == 18
    assert "2 of 20 samples are errors (score at or below 20.0, the lowest tenth" in html
