"""Run files carry a format version and match a published JSON Schema; every reader checks them on read.

The schemas in kosmos_eval/runner/schemas/ are checked here with the reference validator (the jsonschema
package) on files real runs write, and our own checker (runner/schema.py, which readers use on every record)
must agree with it on those files and on broken ones.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.config import RunConfig
from kosmos_eval.errors import DataError
from kosmos_eval.runner.run import evaluate
from kosmos_eval.runner.schema import RECORD_FORMAT, SUMMARY_FORMAT, check_record, check_summary, schema


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    """Run folders of a ranking task and a few-shot generation task with exports, on the chance baseline."""
    root = tmp_path_factory.mktemp("runs")
    raven = evaluate(RunConfig(task="raven", backend="chance", output_dir=str(root), limit=3), progress=False)
    vqa = RunConfig(task="vqav2", backend="chance", split="val", shots=2, sample=True, output_dir=str(root), limit=3)
    return {"raven": raven.run_dir, "vqav2": evaluate(vqa, progress=False).run_dir}


def reference(kind: str):
    return jsonschema.Draft202012Validator(schema(kind, SUMMARY_FORMAT if kind == "summary" else RECORD_FORMAT))


def test_the_published_schemas_are_valid_json_schema():
    for kind in ("summary", "record"):
        jsonschema.Draft202012Validator.check_schema(schema(kind, 2))


@pytest.mark.parametrize("task", ["raven", "vqav2"])
def test_what_a_run_writes_matches_its_schema(written, task):
    summary = json.loads((written[task] / "summary.json").read_text())
    assert summary["format_version"] == SUMMARY_FORMAT
    reference("summary").validate(summary)
    assert check_summary(summary, "summary.json") is summary
    for line in (written[task] / "samples.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["record_format"] == RECORD_FORMAT
        reference("record").validate(record)
        check_record(record, "samples.jsonl:1")


SUMMARY_BREAKS = [
    ("metrics.accuracy.value", lambda s: s["metrics"]["accuracy"].update(value="high"), "expected a number or null"),
    ("identity.prompt_hash", lambda s: s["identity"].pop("prompt_hash"), "missing"),
    ("shots", lambda s: s.update(shots=-1), "expected at least 0"),
    ("n", lambda s: s.update(n=True), "expected an integer, found true"),
    ("format_version", lambda s: s.update(format_version="2"), "expected a format version"),
    ("notes[0]", lambda s: s.update(notes=[3]), "expected a string"),
]
RECORD_BREAKS = [
    ("outputs[0].logprobs[1]", lambda r: r["outputs"][0]["logprobs"].__setitem__(1, "x"), "expected a number"),
    ("outputs[0].is_greedy", lambda r: r["outputs"][0].pop("is_greedy"), "missing"),
    ("id", lambda r: r.update(id=1.5), "expected a string or an integer, found 1.5"),
    ("images[0]", lambda r: r.update(images=[None]), "expected a string, found null"),
    ("prompt", lambda r: r.pop("prompt"), "missing"),
]


@pytest.mark.parametrize(("field", "change", "message"), SUMMARY_BREAKS, ids=[b[0] for b in SUMMARY_BREAKS])
def test_a_broken_summary_is_refused_by_both_validators_naming_the_field(written, field, change, message):
    summary = copy.deepcopy(json.loads((written["raven"] / "summary.json").read_text()))
    change(summary)
    assert not reference("summary").is_valid(summary)
    with pytest.raises(DataError, match="^" + re.escape(f"x/summary.json: field '{field}': {message}")):
        check_summary(summary, "x/summary.json")


@pytest.mark.parametrize(("field", "change", "message"), RECORD_BREAKS, ids=[b[0] for b in RECORD_BREAKS])
def test_a_broken_record_is_refused_by_both_validators_naming_the_field(written, field, change, message):
    record = copy.deepcopy(json.loads((written["raven"] / "samples.jsonl").read_text().splitlines()[0]))
    change(record)
    assert not reference("record").is_valid(record)
    with pytest.raises(DataError, match="^" + re.escape(f"s.jsonl:7: field '{field}': {message}")):
        check_record(record, "s.jsonl:7")


def test_files_from_before_versions_are_read_and_newer_ones_refused():
    legacy_summary = {"task": "raven", "metrics": {}, "n": 0}  # format 1: the readers' old checks only
    assert check_summary(legacy_summary, "old/summary.json") is legacy_summary
    assert check_record({"id": "a", "prediction": 1}, "old/samples.jsonl:1")["id"] == "a"
    with pytest.raises(DataError, match="no 'task' and no 'metrics' field"):
        check_summary({"n": 1}, "old/summary.json")
    with pytest.raises(DataError, match=r"a summary of format 3, written by a newer kosmos-eval .* upgrade"):
        check_summary({"format_version": 3, "task": "raven"}, "new/summary.json")


@pytest.mark.parametrize("command", ["leaderboard", "compare", "report", "score"])
def test_every_reader_refuses_a_summary_that_does_not_match_in_one_line(written, tmp_path, command):
    folder = tmp_path / written["raven"].name
    import shutil

    shutil.copytree(written["raven"], folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary["metrics"]["accuracy"]["n"] = "three"
    (folder / "summary.json").write_text(json.dumps(summary))
    args = {
        "leaderboard": ["leaderboard", str(folder)],
        "compare": ["compare", str(folder), str(folder)],
        "report": ["report", str(folder), "-o", str(tmp_path / "r.html")],
        "score": ["score", str(folder)],
    }[command]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert f"{folder / 'summary.json'}: field 'metrics.accuracy.n': expected an integer" in lines[0]


def test_every_reader_refuses_a_record_that_does_not_match(written, tmp_path):
    import shutil

    folder = shutil.copytree(written["raven"], tmp_path / written["raven"].name)
    samples = folder / "samples.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    record = json.loads(lines[1])
    record["images"] = "exp-1/query-1.png"  # a string where a list belongs
    lines[1] = json.dumps(record) + "\n"
    samples.write_text("".join(lines))
    (folder / "samples.jsonl.commits").write_text(f"{samples.stat().st_size}\n")
    result = CliRunner().invoke(app, ["compare", str(folder), str(folder)])
    assert result.exit_code == 2
    assert f"{samples}:2: field 'images': expected a list" in result.output
