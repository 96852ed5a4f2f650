"""`kosmos-eval report` on a runs folder from someone else (issue 27): values planted in summaries and records
stay text, in the page's source and in a browser; no file outside the runs folder and the runs' data folders
is read or embedded; and the sample browser keeps to its size budget.

The run folders here are written by hand (summary.json in format 1, which has no published schema, and
samples.jsonl), as a hostile sender would: nothing in them was made by the harness."""

from __future__ import annotations

import base64
import inspect
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kosmos_eval.errors import DataError
from kosmos_eval.reporting.page import SCRIPT
from kosmos_eval.reporting.report import build_report, write_report
from kosmos_eval.reporting.runs import find_runs
from kosmos_eval.reporting.sample_browser import MIB, SAMPLE_BUDGET_MIB
from kosmos_eval.reporting.sample_view import Thumbnails
from tests.test_report import CHROMIUM_ARGS

pytestmark = pytest.mark.slow

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(1)</script>",
    "javascript:alert(1)",
    "<script>document.title='PWNED'</script>",
]
# every element the report itself writes: an injected <img>, <iframe> or <script> shows up as a tag not listed
OUR_TAGS = {
    "html", "head", "meta", "link", "title", "style", "body", "header", "h1", "h2", "h3", "p", "div", "label",
    "input", "select", "option", "details", "summary", "ul", "li", "a", "section", "table", "thead", "tbody",
    "tr", "th", "td", "span", "figure", "figcaption", "svg", "g", "line", "text", "polyline", "circle", "rect",
    "img", "script",
}  # fmt: skip
RECORDS_PER_RUN = 3
URL_ATTRIBUTES = {"href", "src", "xlink:href", "action", "formaction", "data", "srcdoc", "poster", "background"}


def _image(path: Path, colour: tuple[int, int, int], size: int = 32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), colour).save(path)
    return path


def _write_run(folder: Path, summary: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    """A run folder as someone else could send it: summary.json and samples.jsonl, nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder


def _summary(data_dir: Path | str, n: Any = 1, **fields: Any) -> dict[str, Any]:
    """A format-1 summary (no format_version: only `task` and `metrics` are required of it)."""
    return {
        "task": "vqav2",
        "model": "m",
        "shots": 0,
        "seed": 0,
        "headline": "accuracy",
        "metrics": {"accuracy": {"value": 0.5, "ci_low": 0.1, "ci_high": 0.9, "n": 1}},
        "n": n,
        "data": {"dir": str(data_dir)},
        **fields,
    }


def _hostile_summary(payload: str, shots: int, data_dir: Path, ids: list[str]) -> dict[str, Any]:
    """`payload` in every field of a summary (with the field's name after it, to find where it landed)."""

    def value(field: str) -> str:
        return f"{payload} {field}"

    identity = {
        "task": value("task"),
        "split": value("split"),
        "shots": shots,
        "seed": 0,
        "backend": value("backend"),
        "model_args": {value("arg"): value("arg-value")},
        "data_dir": str(data_dir),
        "task_options": {value("option"): value("option-value")},
        "prompt_hash": value("prompt_hash"),
        "sampler": value("sampler"),
    }
    return {
        "task": value("task"),
        "family": value("family"),
        "model": value("model"),
        "split": value("split"),
        "shots": shots,
        "sampler": value("sampler"),
        "seed": 0,
        "variant": value("variant"),
        "headline": value("headline"),
        "metrics": {
            value("headline"): {"value": 0.5, "ci_low": 0.25, "ci_high": 0.75, "n": 2},
            value("metric"): {"value": 0.125, "ci_low": None, "ci_high": None, "n": 2},
        },
        "breakdowns": {value("group"): {value("key"): {"value": 0.5, "n": 2}}},
        "notes": [value("note")],
        "n": value("n"),  # text where a number belongs
        "exports": {value("export"): value("export-path")},
        "decoding": {"template": {value("template"): value("template-value")}, "backend": {}},
        "config": {**identity, "example_ids": ids, "output_dir": value("output_dir")},
        "identity": identity,
        "run_dir": value("run_dir"),
        "fingerprint": {"backend": value("fingerprint")},
        "data": {"dir": str(data_dir), "origin": value("origin"), "sample": False},
        "versions": {"kosmos-eval": value("version")},
        "harness": {"commit": value("commit"), "dirty": True},
        "created": value("created"),
    }


def _hostile_records(payload: str) -> list[dict[str, Any]]:
    def value(field: str) -> str:
        return f"{payload} {field}"

    common = {
        "record_format": 2,
        "prompt": value("prompt"),
        "images": ["ok.png", value("image")],
        "demo_ids": [value("demo")],
        "question": value("question"),
        "question_type": value("question_type"),
        "answer_type": value("answer_type"),
        "outputs": [value("output")],
    }
    return [
        {**common, "id": value("id"), "prediction": value("prediction"), "answers": [value("answer")] * 2},
        {
            **common,
            "id": value("id2"),
            "label": 0,
            "options": [value("option")],
            "prediction": 1,
            "candidates": [{"index": 1, "image": value("candidate")}],
        },
        {
            **common,
            "id": value("id3"),
            "label": 2,
            "label_name": value("label_name"),
            value("setting"): {"prediction": 0, "prediction_name": value("prediction_name")},
        },
    ]


class Page(HTMLParser):
    """The elements, attributes, script bodies and text of a page, as an HTML parser reads them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "script":
            self._script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False

    def handle_data(self, data: str) -> None:
        if self._script:
            self.scripts[-1] += data
        else:
            self.text.append(data)

    def shown(self) -> str:
        """Everything a reader can see or hover: text and attribute values, unescaped."""
        values = [v or "" for _, attrs in self.elements for v in attrs.values()]
        return "\n".join(self.text + values)


@pytest.fixture
def hostile_root(tmp_path) -> Path:
    data = tmp_path / "data"
    _image(data / "ok.png", (0, 128, 255))
    root = tmp_path / "runs"
    for index, payload in enumerate(PAYLOADS):
        records = _hostile_records(payload)
        ids = [r["id"] for r in records]
        for shots in (0, 2):  # two shot settings: a k-shot curve, whose title and legend carry the payload
            summary = _hostile_summary(payload, shots, data, ids)
            _write_run(root / f"{index}-{shots}", summary, records)
    return root


def _set_n(root: Path, n: Any) -> None:
    for path in root.glob("*/summary.json"):
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["n"] = n
        path.write_text(json.dumps(summary), encoding="utf-8")


def _assert_structurally_safe(html: str) -> Page:
    page = Page(html)
    assert page.scripts == [SCRIPT]  # ours, and no other
    tags = {tag for tag, _ in page.elements}
    assert tags <= OUR_TAGS, tags - OUR_TAGS
    for tag, attrs in page.elements:
        handlers = [name for name in attrs if name.lower().startswith("on")]
        assert handlers == [], (tag, attrs)
        for name, value in attrs.items():
            if name.lower() in URL_ATTRIBUTES:
                url = (value or "").strip().lower()
                assert not url.startswith("javascript:"), (tag, attrs)
                # no URL takes a value from a run: in-page anchors, the empty icon, thumbnails made here
                assert (
                    url.startswith("#run-")
                    or url in ("data:,", "#metrics")
                    or url.startswith("data:image/jpeg;base64,")
                ), (tag, attrs)
        if tag == "img":
            assert attrs.get("class") == "thumb", attrs
    return page


def test_payloads_in_every_field_stay_text(hostile_root, tmp_path):
    # a number field holding text is refused in one line, never trusted or shown as markup
    with pytest.raises(DataError, match="'n'"):
        find_runs([hostile_root])
    _set_n(hostile_root, 2)
    html = build_report(find_runs([hostile_root]), title=PAYLOADS[0], roots=[hostile_root])
    page = _assert_structurally_safe(html)
    shown = page.shown()
    visible = [
        "task", "model", "split", "variant", "headline", "metric", "group", "key", "note", "origin", "version",
        "created", "id", "id2", "id3", "prompt", "prediction", "answer", "option", "candidate", "setting",
        "prediction_name", "label_name", "image",
    ]  # fmt: skip
    for payload in PAYLOADS:
        missing = [field for field in visible if f"{payload} {field}" not in shown]
        assert missing == [], (payload, missing)  # each planted value is on the page, as text
    assert 'data-series="' in html and "<svg" in html  # the charts were drawn with the planted labels
    assert html.count('<img class="thumb"') == RECORDS_PER_RUN * 2 * len(PAYLOADS)  # the real image still shows

    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    _assert_nothing_runs_in_chromium(path)


def _assert_nothing_runs_in_chromium(path: Path) -> None:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium): the structural checks passed")
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            # the filters compare data attributes holding the payloads: they must filter, not run them
            for value in page.locator("#task-filter option").evaluate_all("os => os.map(o => o.value)"):
                page.select_option("#task-filter", value)
            page.check("#errors-only")
            page.wait_for_timeout(200)
            state = page.evaluate(
                """() => ({
                    title: document.title,
                    scripts: document.scripts.length,
                    handlers: [...document.querySelectorAll('*')]
                        .filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length,
                    strangers: [...document.images].filter(i => !i.classList.contains('thumb')).length,
                    rows: document.querySelectorAll('tr.sample').length,
                })"""
            )
        finally:
            browser.close()
    assert dialogs == []
    assert state["title"] == PAYLOADS[0]  # the page title shows the planted title as text, not PWNED
    rows = RECORDS_PER_RUN * 2 * len(PAYLOADS)
    assert state == {"title": PAYLOADS[0], "scripts": 1, "handlers": 0, "strangers": 0, "rows": rows}


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("shots", lambda s: s.update(shots="<script>alert(1)</script>")),
        ("seed", lambda s: s.update(seed="1<script>")),
        ("metrics.accuracy.value", lambda s: s["metrics"]["accuracy"].update(value="<b>1</b>")),
        ("metrics.accuracy.ci_low", lambda s: s["metrics"]["accuracy"].update(ci_low="0.1<x>")),
        ("breakdowns.a.b.n", lambda s: s.update(breakdowns={"a": {"b": {"value": 0.5, "n": "<script>"}}})),
        ("identity.shots", lambda s: s.update(identity={"shots": "2<script>"})),
        ("data.dir", lambda s: s.update(data={"dir": ["/etc"]})),
    ],
)
def test_text_where_a_number_belongs_is_refused(tmp_path, field, change):
    summary = _summary(tmp_path)
    change(summary)
    _write_run(tmp_path / "runs" / "r", summary, [{"id": "1", "prompt": "p"}])
    with pytest.raises(DataError, match=f"field '{field}'"):
        find_runs([tmp_path / "runs"])


def test_files_outside_the_runs_and_data_folders_are_not_read(tmp_path, capsys):
    secret = tmp_path / "private"
    secret_record = {"id": "s", "prompt": "SECRET-PROMPT-7f3a", "images": [], "prediction": "SECRET-PREDICTION"}
    (secret / "notes.jsonl").parent.mkdir(parents=True)
    (secret / "notes.jsonl").write_text(json.dumps(secret_record) + "\n", encoding="utf-8")
    secret_png = _image(secret / "photo.png", (200, 10, 30))
    data = tmp_path / "data"
    _image(data / "ok.png", (0, 128, 255))
    (data / "link.png").symlink_to(secret_png)
    (data / "sub").mkdir()
    (tmp_path / "data-link").symlink_to(data)  # a data folder reached through a link is still the data folder
    root = tmp_path / "runs"

    record = {
        "id": "1",
        "prompt": "p",
        "prediction": "a",
        "images": ["ok.png", str(secret_png), "../private/photo.png", "link.png", "sub/../../private/photo.png"],
    }
    absolute = _write_run(
        root / "absolute", _summary(data, samples_file=str(secret / "notes.jsonl")), [record]
    )  # fmt: skip
    escaping = _write_run(
        root / "escaping", _summary(tmp_path / "data-link", samples_file="../../private/notes.jsonl"), [record]
    )
    linked = _write_run(root / "linked", _summary(data, samples_file="rescored.jsonl"), [record])
    (linked / "rescored.jsonl").symlink_to(secret / "notes.jsonl")

    html = build_report(find_runs([root]), roots=[root])
    errors = capsys.readouterr().err

    assert "SECRET" not in html
    secret_thumbnail = Thumbnails().data_url(secret_png)
    assert secret_thumbnail is not None and secret_thumbnail not in html
    assert base64.b64encode(secret_png.read_bytes()).decode() not in html
    ok_thumbnail = Thumbnails().data_url(data / "ok.png")
    assert html.count(f'src="{ok_thumbnail}"') == 3  # an image inside the data folder still shows, in each run
    assert html.count("outside the run's data folder: not read") == 3 * 4
    _assert_structurally_safe(html)

    lines = [line for line in errors.splitlines() if line.startswith("warning:")]
    for folder in (absolute, escaping, linked):
        about = [line for line in lines if line.startswith(f"warning: {folder}:")]
        assert sum("'samples_file'" in line for line in about) == 1, lines
        assert sum("'images'" in line for line in about) == 1, lines
    assert len(lines) == 6


def test_samples_keep_to_the_size_budget(tmp_path):
    data = tmp_path / "data"
    for index in range(9):
        _image(data / f"{index}.png", (index * 20, 50, 100), size=96)
    root = tmp_path / "runs"
    count = 3000
    records = [
        {"id": str(i), "prompt": "p", "prediction": f"{i} " + "long output " * 400, "images": ["0.png"]}
        for i in range(count)
    ]
    _write_run(root / "text", _summary(data, n=count), records)
    pictures = [{"id": str(i), "prompt": "p", "images": [f"{k}.png" for k in range(9)]} for i in range(count)]
    _write_run(root / "pictures", _summary(data, n=count, model="m2"), pictures)
    runaway = [{"id": "0", "prompt": "p", "prediction": "x" * 5_000_000}]
    _write_run(root / "runaway", _summary(data, n=1, model="m3"), runaway)

    budget = MIB // 4
    html = build_report(find_runs([root]), max_samples=10**6, max_sample_bytes=budget, roots=[root])
    samples = html[html.index('<section id="samples">') :]
    assert len(samples.encode("utf-8")) < budget + 8 * 1024  # rows within the budget; headings and notes beside
    assert len(html.encode("utf-8")) < budget + 64 * 1024
    rows = html.count('<tr class="sample ')
    assert 3 < rows < 2 * count
    assert f"{2 * count + 1 - rows} sample row(s) were left out" in html
    assert "past its size budget for samples (--max-samples-mib)" in html
    # thumbnails count: the nine-picture rows get fewer rows than the budget would give them as text alone
    pictures_table = html[html.index('data-run="pictures"') :]
    pictures_rows = pictures_table[: pictures_table.index("</table>")].count('<tr class="sample ')
    assert 0 < pictures_rows < budget // 3 // 1000
    # one runaway generation is clipped, not dropped and not allowed to take the budget
    runaway_table = html[html.index('data-run="runaway"') :]
    assert runaway_table[: runaway_table.index("</table>")].count('<tr class="sample ') == 1
    assert "4990000 more characters not shown" in html


def test_cli_caps_a_large_max_samples_by_size(tmp_path):
    from typer.testing import CliRunner

    import kosmos_eval.cli.report as cli_report
    from kosmos_eval.cli import app

    data = tmp_path / "data"
    _image(data / "0.png", (1, 2, 3))
    records = [{"id": str(i), "prompt": "q " * 200, "prediction": "a " * 2000, "images": ["0.png"]} for i in range(500)]
    _write_run(tmp_path / "runs" / "r", _summary(data, n=500), records)
    output = tmp_path / "r.html"
    args = ["report", str(tmp_path / "runs"), "-o", str(output), "--max-samples", "100000"]
    result = CliRunner().invoke(app, [*args, "--max-samples-mib", "0.5"])
    assert result.exit_code == 0, result.output
    assert output.stat().st_size < 0.5 * MIB + 64 * 1024
    assert "were left out to keep this page" in output.read_text(encoding="utf-8")
    bad = CliRunner().invoke(app, [*args, "--max-samples-mib", "-1"])
    assert bad.exit_code == 2 and "--max-samples-mib" in bad.output
    # the CLI's default is the report's (written out there so the CLI starts without the reporting modules)
    default = inspect.signature(cli_report.report_command).parameters["max_samples_mib"].default
    assert default == SAMPLE_BUDGET_MIB
    # without the option the default budget holds too
    write_report([tmp_path / "runs"], output, max_samples=100000)
    assert output.stat().st_size < SAMPLE_BUDGET_MIB * MIB + 64 * 1024
