"""`kosmos-eval report`: a page built from real runs (chance on Raven and VQAv2 at 0 and 2 shots, a tiny
random KOSMOS-2 on Raven), checked for what a reader sees in headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from kosmos_eval.config import RunConfig
from kosmos_eval.generators.vqa import write_vqav2
from kosmos_eval.reporting.report import build_report
from kosmos_eval.reporting.runs import find_runs
from kosmos_eval.reporting.sample_view import Thumbnails, gold_text, is_error, prediction_text, sample_scores
from kosmos_eval.reporting.svg import nice_axis
from kosmos_eval.runner.run import evaluate
from tests.runs import chance_run, tiny_raven_run

VQA_QUESTIONS = [
    ("What color is the cat?", ["red"] * 10, "other"),
    ("Is it a dog?", ["yes"] * 10, "yes/no"),
    ("How many cats are there?", ["2"] * 9 + ["3"], "number"),
]
RAVEN_LIMIT = 12  # enough that the seeded chance baseline gets some right (asserted below)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, tiny_kosmos2) -> Path:
    out = tmp_path_factory.mktemp("runs")
    vqa = tmp_path_factory.mktemp("vqav2")
    write_vqav2(vqa, "val", VQA_QUESTIONS)
    write_vqav2(vqa, "train", VQA_QUESTIONS, first_image=100)
    for shots in (0, 2):
        config = RunConfig(
            task="vqav2", shots=shots, split="val", backend="chance", data_dir=str(vqa), output_dir=str(out)
        )
        evaluate(config, progress=False)
    chance_run(out, limit=RAVEN_LIMIT)
    tiny_raven_run(out, tiny_kosmos2)
    return out


@pytest.fixture(scope="module")
def runs(runs_root):
    return find_runs([runs_root])


@pytest.fixture(scope="module")
def report_file(runs, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(build_report(runs, "Test report"), encoding="utf-8")
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


@pytest.fixture
def page(browser, report_file):
    """The report opened from its file URL; the test fails if the page logs any console error."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report_file.as_uri())
    page.wait_for_load_state("load")
    yield page
    assert errors == []
    page.close()


def _run(runs, task: str, model: str, shots: int = 0):
    (run,) = [r for r in runs if r.task == task and r.model == model and r.shots == shots]
    return run


def _metrics_row(page, task: str, model: str, shots: int) -> dict[str, str]:
    for row in page.locator("tr.metrics-row").all():
        cells = [c.inner_text().strip() for c in row.locator("td").all()]
        if cells[0] == model and cells[1] == task and cells[3] == str(shots):
            names = ["model", "task", "variant", "shots", "headline", "value", "ci", "paper", "delta"]
            return dict(zip([*names, "seed", "split", "n", "other"], cells, strict=True))
    raise AssertionError(f"no metrics row for {model} {task} {shots}-shot")


@pytest.mark.slow
def test_metrics_table_shows_each_run_beside_the_paper(page, runs):
    # paper: Raven zero-shot KOSMOS-1 22.0 (Table 6); VQAv2's 51.0 / 51.4 (Tables 4, 5) are test-dev numbers,
    # and these VQAv2 runs are on val: the cell names the paper's split instead of a number beside them
    paper = {("raven", 0): "22.0", ("vqav2", 0): "paper: test-dev", ("vqav2", 2): "paper: test-dev"}
    assert len(runs) == 4
    for run in runs:
        row = _metrics_row(page, run.task, run.model, run.shots)
        metric = run.summary["metrics"][run.summary["headline"]]
        assert row["headline"] == run.summary["headline"] == "accuracy"
        assert row["value"] == f"{metric['value'] * 100:.1f}"
        assert row["ci"] == f"[{metric['ci_low'] * 100:.1f}, {metric['ci_high'] * 100:.1f}]"
        assert row["n"] == str(run.summary["n"])
        assert row["paper"] == paper[(run.task, run.shots)]
        expected_delta = f"{metric['value'] * 100 - 22.0:+.1f}" if run.task == "raven" else ""
        assert row["delta"] == expected_delta
    raven = _metrics_row(page, "raven", "chance", 0)
    assert raven["paper"] == "22.0"
    assert raven["other"].startswith("accuracy_yes_vs_no ")  # the second metric, with its interval


@pytest.mark.slow
def test_kshot_curve_is_an_svg_with_legend(page, runs):
    charts = page.locator("svg.line-chart")
    assert charts.count() == 1  # only chance/vqav2 was run at two shot settings
    chart = charts.first
    assert chart.is_visible()
    legend = chart.locator("g.legend text").all_text_contents()
    # the runs are on val and the paper's VQAv2 numbers on test-dev: no paper series beside them
    assert legend == ["chance (runs)"]
    assert "vqav2" in chart.locator("title").first.text_content()
    ours = chart.locator('g.series[data-series="chance (runs)"] circle')
    assert ours.count() == 2  # 0 and 2 shots
    assert chart.locator("text.x-label").text_content() == "shots (k)"


def test_kshot_curve_on_the_papers_split_carries_the_papers_series(tmp_path):
    from kosmos_eval.data.locate import SAMPLE_MARKER, bundled_sample

    data = shutil.copytree(bundled_sample("storycloze"), tmp_path / "storycloze")
    (data / SAMPLE_MARKER).unlink()  # the sample's files, as a user's own folder
    for shots in (0, 1):
        config = RunConfig(
            task="storycloze", shots=shots, backend="chance", data_dir=str(data), output_dir=str(tmp_path)
        )
        evaluate(config, progress=False)
    html = build_report(find_runs([tmp_path]))
    assert 'data-series="chance (runs)"' in html
    # KOSMOS-1 reports StoryCloze at 0, 1 and 4 shots (Table 13): a series of three points
    series = html[html.index('data-series="KOSMOS-1 (paper)"') :]
    assert series[: series.index("</g>")].count("<circle") == 3


@pytest.mark.slow
def test_breakdowns_are_bar_charts_with_counts(page, runs):
    run = _run(runs, "vqav2", "chance", 0)
    answer_types = run.summary["breakdowns"]["answer_type"]
    assert {k: v["n"] for k, v in answer_types.items()} == {"other": 1, "yes/no": 1, "number": 1}
    labels = page.locator("svg.bar-chart").first.locator("text.bar-label").all_text_contents()
    assert sorted(labels) == ["number (n=1)", "other (n=1)", "yes/no (n=1)"]


@pytest.mark.slow
def test_thumbnails_are_loaded_images(page, runs):
    expected = sum(min(len(r["images"]), 9) for run in runs for r in run.records)
    thumbs = page.locator("img.thumb")
    assert thumbs.count() == expected > 0
    sizes = thumbs.evaluate_all("imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert all(done and 0 < w <= 96 and 0 < h <= 96 for done, w, h in sizes)
    assert page.locator(".missing-image").count() == 0


@pytest.mark.slow
def test_errors_only_hides_exactly_the_correct_rows(page, runs):
    correct, errors = set(), set()
    for run in runs:
        scores = sample_scores(run)
        for record in run.records:
            # raven rows: correct True/False; vqav2 rows: VQA accuracy, 1.0 only when 3+ annotators agree
            key = (run.path.name, str(record["id"]))
            (correct if scores[str(record["id"])] == 1.0 else errors).add(key)
    assert correct and errors  # the chance baseline gets some of the 12 Raven examples right
    rows = page.locator("tr.sample")
    assert rows.count() == len(correct) + len(errors)
    page.check("#errors-only")
    visible = page.locator("tr.sample:visible")
    assert visible.count() == len(errors)
    shown = visible.evaluate_all("rs => rs.map(r => [r.closest('section').dataset.run, r.dataset.id, r.className])")
    assert {(run, key) for run, key, _ in shown} == errors
    assert all(classes == "sample error" for _, _, classes in shown)
    page.uncheck("#errors-only")
    assert page.locator("tr.sample:visible").count() == len(correct) + len(errors)


@pytest.mark.slow
def test_task_filter_hides_other_tasks(page, runs):
    page.select_option("#task-filter", "raven")
    raven_rows = sum(len(run.records) for run in runs if run.task == "raven")
    assert page.locator("tr.sample:visible").count() == raven_rows
    assert not page.locator("svg.line-chart").is_visible()
    assert page.locator("tr.metrics-row:visible").count() == 2


@pytest.mark.slow
def test_header_names_harness_and_prompt_is_shown_as_text(page, runs):
    commit = runs[0].summary["harness"]["commit"]
    header = page.locator("header").inner_text()
    if commit:
        assert commit[:10] in header
    assert runs[0].summary["versions"]["kosmos-eval"] in header
    first_prompt = page.locator("td.prompt").first.inner_text()
    assert "<image1>" in first_prompt  # escaped in the source, so the browser shows the tag as text


def test_file_is_self_contained_and_escapes_prompts(report_file):
    html = report_file.read_text()
    assert re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", html) is None
    assert "http://" not in html and "https://" not in html
    assert "&lt;image1&gt;" in html and "<image1>" not in html


def test_cli_writes_a_truncated_report(runs_root, tmp_path):
    from typer.testing import CliRunner

    import kosmos_eval.cli.report  # noqa: F401  (registers the command until cli/__init__ imports it)
    from kosmos_eval.cli import app

    output = tmp_path / "out" / "r.html"
    result = CliRunner().invoke(app, ["report", str(runs_root), "-o", str(output), "--max-samples", "2"])
    assert result.exit_code == 0, result.output
    assert "4 run(s)" in result.output
    html = output.read_text()
    # 4 runs x 2 rows; Raven chance has 12 records, tiny Raven 3, each VQAv2 run 3: all four are cut
    assert html.count('<tr class="sample ') == 8
    assert f"Showing the first 2 of {RAVEN_LIMIT} samples" in html
    assert html.count("Showing the first 2 of 3 samples") == 3

    empty = CliRunner().invoke(app, ["report", str(tmp_path / "out"), "-o", str(tmp_path / "x.html")])
    assert empty.exit_code == 2
    assert "no finished runs" in empty.output


def test_record_fields_shown_generically(tmp_path):
    vqa = {"id": "1", "prediction": "red", "answers": ["red"] * 9 + ["blue"]}
    assert gold_text(vqa) == "red ×9 | blue"
    raven = {
        "answer": 0,
        "prediction": 5,
        "candidates": [{"index": 5, "image": "e/f.png"}, {"index": 0, "image": "e/a.png"}],
    }
    assert (gold_text(raven), prediction_text(raven)) == ("0: e/a.png", "5: e/f.png")
    ranking = {"options": [" bigger", " smaller"], "label": 1, "prediction": 0}
    assert (gold_text(ranking), prediction_text(ranking)) == ("1: smaller", "0: bigger")
    imagenet = {"label": 3, "label_name": "tench", "prediction": "goldfish"}
    assert gold_text(imagenet) == "3: tench"
    described = {"label": 0, "names": ["a", "b"], "with_text": {"prediction": 1, "prediction_name": "b"}}
    assert (gold_text(described), prediction_text(described)) == ("0: a", "with_text: b")
    sst2 = {"label": 0, "label_name": "negative", "prediction": 1, "prediction_name": "positive"}
    assert (gold_text(sst2), prediction_text(sst2)) == ("0: negative", "1: positive")
    # errors follow the headline's per-sample score; the flag decides only where there is no score
    assert not is_error({"correct": False, "correct_norm": True}, 1.0)  # HellaSwag: headline accuracy_norm
    assert is_error({"accuracy": 0.3}, 0.3) and is_error({"correct": False}, None)
    assert not is_error({"correct": True}, None) and not is_error({}, None)
    missing = Thumbnails().html("val2014/<gone>.jpg", str(tmp_path))
    assert 'class="missing-image"' in missing and "val2014/&lt;gone&gt;.jpg" in missing


def test_axis_ranges_are_round():
    # 106.8 / 5 steps = 21.4 -> next round step 25 -> top 125; 100 / 4 = 25 -> top 100
    assert nice_axis(106.8) == (125, 25)
    assert nice_axis(100.0, 4) == (100, 25)
    # 60.9 / 5 = 12.2 -> step 20 -> top 80
    assert nice_axis(60.9) == (80, 20)
