"""`kosmos-eval list` says "found" only where a run will find the data, and shows the bundled samples."""

from __future__ import annotations

import json
import re
import urllib.error

import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.data import hub

runner = CliRunner()
HUB_TASKS = ("boolq", "cb", "copa", "hellaswag", "piqa", "winograd", "winogrande", "rendered_sst2")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    hub.hub_reachable.cache_clear()
    yield tmp_path / "datasets-cache"
    hub.hub_reachable.cache_clear()


def _rows(output: str) -> dict[str, str]:
    """Each task's table row with its data note (below the table, `[N] ...`, wrapped) appended."""
    notes = dict(re.findall(r"^\[(\d+)\] (.*(?:\n    .*)*)", output, flags=re.M))
    rows = {}
    for line in output.splitlines()[1:]:
        if not line or line.startswith((" ", "[")):
            continue
        note = re.search(r"see \[(\d+)\]$", line)
        rows[line.split()[0]] = line + (" " + " ".join(notes[note[1]].split()) if note else "")
    return rows


def test_empty_cache_offline_claims_no_hub_data(empty_cache):
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "found: hub" not in result.output
    rows = _rows(result.output)
    for task in HUB_TASKS:
        assert "missing: hub" in rows[task] and "offline mode is set" in rows[task] and "--sample" in rows[task]
    assert "found: bundled sample" in rows["raven"]  # Raven's fallback (the README's first run) stays
    assert "no downloadable hub copy" in rows["storycloze"]


def test_a_prepared_copy_in_the_datasets_cache_counts_as_found(empty_cache):
    prepared = empty_cache / "aps___super_glue" / "boolq" / "0.0.0" / "0123abcd"
    prepared.mkdir(parents=True)
    (prepared / "dataset_info.json").write_text(json.dumps({"config_name": "boolq"}))
    rows = _rows(runner.invoke(app, ["list"]).output)
    assert f"found: hub aps/super_glue (boolq), cached copy ({prepared})" in rows["boolq"]
    assert "missing: hub aps/super_glue (cb)" in rows["cb"]  # another config of the same dataset is not there
    assert hub.cached_copy("Rowan/hellaswag", None) is None


def test_reachability_is_never_probed_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("probed the network although HF_HUB_OFFLINE is set")

    monkeypatch.setattr(hub.urllib.request, "urlopen", no_network)
    hub.hub_reachable.cache_clear()
    assert hub.hub_reachable() is False
    hub.hub_reachable.cache_clear()


@pytest.mark.parametrize(
    ("answer", "reachable"),
    [(urllib.error.HTTPError("https://hub", 503, "busy", {}, None), True), (urllib.error.URLError("dns"), False)],
)
def test_online_any_http_answer_means_reachable(monkeypatch, empty_cache, answer, reachable):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)

    def fake_urlopen(request, timeout):
        assert timeout == hub.PROBE_TIMEOUT_S and request.get_method() == "HEAD"
        raise answer

    monkeypatch.setattr(hub.urllib.request, "urlopen", fake_urlopen)
    status = hub.hub_status("allenai/winogrande", "winogrande_xl", "pass --data-dir")
    assert status.found is reachable
    assert ("downloaded by `datasets` on the first run" in status.where) is reachable
    assert ("the hub cannot be reached" in status.where) is not reachable
