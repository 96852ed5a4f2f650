"""One run identity for leaderboard, compare and report: runs that differ in anything that can change a number
are never merged, silently dropped or silently picked, and models that share a name are told apart.

Real runs (the chance baseline, two tiny random Kosmos-2 checkpoints) where a model matters; elsewhere a real
chance run folder copied and its summary edited to say what another model or setting would have recorded."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from kosmos_eval.cli import app
from kosmos_eval.core.identity import identity_hash, run_identity, setting_identity
from kosmos_eval.errors import UserError
from kosmos_eval.reporting.compare import compare_runs, comparison_markdown
from kosmos_eval.reporting.junit import write_junit
from kosmos_eval.reporting.leaderboard import leaderboard, wide
from kosmos_eval.reporting.report import build_report
from kosmos_eval.reporting.runs import find_runs, load_run
from tests.runs import chance_run, raven_data, tiny_raven_run

runner = CliRunner()
WEIGHTS_A, WEIGHTS_B = "a1" * 32, "b2" * 32


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One real chance run on Raven (6 examples) that the tests copy and edit."""
    return chance_run(tmp_path_factory.mktemp("template"), limit=6)


def copy_run(template: Path, dest: Path, edit: Any = None) -> Path:
    """`template` copied to `dest`, its summary passed through `edit(summary)`."""
    shutil.copytree(template, dest)
    summary = json.loads((dest / "summary.json").read_text())
    if edit is not None:
        edit(summary)
    summary["run_dir"] = str(dest)
    (dest / "summary.json").write_text(json.dumps(summary))
    return dest


def checkpoint(folder: str, weights: str, created: str = "2026-01-01T00:00:00+00:00", **args: str) -> Any:
    """An edit: the run was made by the hf backend on the checkpoint `folder` (weights hash `weights`)."""

    def edit(summary: dict) -> None:
        summary["model"] = Path(folder).name
        summary["created"] = created
        summary["config"].update(backend="hf", model_args={"pretrained": folder, **args})
        summary["identity"].update(backend="hf", model_args={"pretrained": folder, **args})
        summary["fingerprint"] = {"backend": "hf", "model": folder, "weights_sha256": weights, "dtype": "float32"}
        if args.get("chat_template") == "true":
            summary["fingerprint"]["chat_template_sha256"] = "c7" * 32
        summary["decoding"] = {"template": {}, "backend": {"generation_config": "protocol"}}

    return edit


def few_shot(sampler: str, base: Any) -> Any:
    def edit(summary: dict) -> None:
        base(summary)
        summary["shots"] = summary["config"]["shots"] = summary["identity"]["shots"] = 2
        summary["sampler"] = summary["config"]["sampler"] = summary["identity"]["sampler"] = sampler

    return edit


def headline(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["metric"] == "accuracy") & (table["source"] == "run")]


# -- the identity itself -------------------------------------------------------------------------------------


def test_identity_of_a_real_run_and_its_setting_without_the_seed(tmp_path):
    one, two = chance_run(tmp_path / "r", seed=1, limit=4), chance_run(tmp_path / "r", seed=2, limit=4)
    summary = json.loads((one / "summary.json").read_text())
    identity = run_identity(summary)
    assert {k: identity[k] for k in ("task", "variant", "split", "shots", "sampler", "seed")} == {
        "task": "raven",
        "variant": "",
        "split": "test",
        "shots": 0,
        "sampler": None,  # zero-shot: no demos drawn, the sampler changes nothing
        "seed": 1,
    }
    assert identity["prompt_hash"] == summary["identity"]["prompt_hash"] and len(identity["prompt_hash"]) == 64
    assert identity["data"] == {"sample": False, "dir": str(raven_data().resolve())}
    assert identity["model"] == {
        "backend": "chance",
        "model_args": {},
        "fingerprint": {"backend": "chance", "seed": 1},
        "decoding": {},
    }
    setting = setting_identity(identity)
    assert "seed" not in setting and setting["model"]["fingerprint"] == {"backend": "chance"}
    # two seeds: two identities, one setting (what seeds are averaged over); hashes are short and stable
    a, b = load_run(one), load_run(two)
    assert a.identity_hash != b.identity_hash and a.setting_hash == b.setting_hash
    assert a.identity_hash == identity_hash(identity) == identity_hash(dict(reversed(identity.items())))
    assert len(a.identity_hash) == 10


def test_an_old_summary_without_identity_fingerprint_or_variant_falls_back_to_its_config(template, tmp_path):
    def old(summary: dict) -> None:
        for key in ("format_version", "identity", "fingerprint", "variant", "decoding", "model", "sampler"):
            summary.pop(key)
        summary["config"].update(shots=2, sampler="fixed", model_args={"device": "cpu"})
        summary["shots"] = 2

    run = load_run(copy_run(template, tmp_path / "old", old))
    assert run.model == "chance" and run.sampler == "fixed" and run.fingerprint == ""
    assert run.identity["model"] == {"backend": "chance", "model_args": {}, "fingerprint": None, "decoding": None}
    assert run.identity["prompt_hash"] is None and run.identity["data"]["dir"] == str(raven_data())
    row = headline(leaderboard([run])).iloc[0]
    assert (row["model"], row["sampler"], row["shots"], row["identity"]) == ("chance", "fixed", 2, run.setting_hash)


# -- leaderboard ---------------------------------------------------------------------------------------------


def test_two_checkpoints_saved_in_folders_of_one_name_are_two_rows(tmp_path):
    from kosmos_eval.tiny import build_tiny_model

    models = [build_tiny_model("kosmos2", tmp_path / side / "ckpt", seed=seed) for side, seed in (("A", 0), ("B", 1))]
    for model in models:
        tiny_raven_run(tmp_path / "same", model, limit=2)
    runs = find_runs([tmp_path / "same"])
    weights = {run.summary["fingerprint"]["weights_sha256"] for run in runs}
    assert len(weights) == 2 and {run.model for run in runs} == {"ckpt"}
    rows = headline(leaderboard(runs))
    assert sorted(rows["model"]) == sorted(f"ckpt@{sha[:6]}" for sha in weights)
    assert sorted(rows["fingerprint"]) == sorted(sha[:12] for sha in weights)
    assert rows["identity"].nunique() == 2
    pivot = wide(leaderboard(runs))  # one row per model label: neither checkpoint hides the other
    assert sorted(pivot["model"]) == sorted(rows["model"]) and pivot["raven accuracy 0-shot"].notna().all()

    result = runner.invoke(app, ["leaderboard", str(tmp_path / "same"), "--no-paper"])
    assert result.exit_code == 0, result.output
    assert all(f"ckpt@{sha[:6]}" in result.stdout for sha in weights)
    assert result.stderr == ""  # two identities: nothing left out


def test_chat_template_and_sampler_on_one_checkpoint_are_separate_rows_and_wide_columns(template, tmp_path):
    root = tmp_path / "runs"
    copy_run(template, root / "plain", checkpoint("/m/ckpt", WEIGHTS_A))
    copy_run(template, root / "chat", checkpoint("/m/ckpt", WEIGHTS_A, chat_template="true"))
    copy_run(template, root / "random", few_shot("random", checkpoint("/m/ckpt", WEIGHTS_A)))
    copy_run(template, root / "fixed", few_shot("fixed", checkpoint("/m/ckpt", WEIGHTS_A)))
    runs = find_runs([root])
    rows = headline(leaderboard(runs))
    assert len(rows) == 4
    plain = rows[rows["chat_template"] == ""]
    chat = rows[rows["chat_template"] != ""]
    assert list(chat["chat_template"]) == ["on:c7c7c7c7"]
    # same weights: the fingerprint does not tell the two models apart, the model identity's hash does
    (chat_label,) = set(chat["model"])
    (plain_label,) = set(plain["model"])
    assert chat_label.startswith("ckpt#") and plain_label.startswith("ckpt#") and chat_label != plain_label
    assert sorted(plain["sampler"]) == ["", "fixed", "random"]
    assert rows["identity"].nunique() == 4

    pivot = wide(leaderboard(runs)).set_index("model")
    assert list(pivot.columns) == [
        "source",
        "raven accuracy 0-shot",
        "raven accuracy 2-shot",
        "raven accuracy 2-shot [sampler=fixed]",
    ]
    assert sorted(pivot.index) == sorted([chat_label, plain_label])
    value = rows["value"].iloc[0]  # every copy holds the template's numbers
    assert pivot.loc[chat_label, "raven accuracy 0-shot"] == pytest.approx(value)
    assert pivot.loc[plain_label, "raven accuracy 2-shot [sampler=fixed]"] == pytest.approx(value)


def test_wide_keeps_two_settings_of_one_model_behind_one_column(template, tmp_path):
    def val_split(summary: dict) -> None:
        summary["split"] = summary["identity"]["split"] = "val"

    copy_run(template, tmp_path / "r" / "test")
    copy_run(template, tmp_path / "r" / "val", val_split)
    pivot = wide(leaderboard(find_runs([tmp_path / "r"])))
    assert list(pivot.columns) == [
        "source",
        "model",
        "raven accuracy 0-shot [split=test]",
        "raven accuracy 0-shot [split=val]",
    ]
    assert list(pivot["model"]) == ["chance"]


def test_one_identity_in_two_roots_is_one_row_and_stderr_names_the_run_left_out(template, tmp_path):
    old = copy_run(template, tmp_path / "one" / "run", checkpoint("/m/ckpt", WEIGHTS_A))
    new = copy_run(template, tmp_path / "two" / "run", checkpoint("/m/ckpt", WEIGHTS_A, "2026-02-01T00:00:00+00:00"))
    result = runner.invoke(app, ["leaderboard", str(tmp_path / "one"), str(tmp_path / "two"), "--no-paper"])
    assert result.exit_code == 0, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"left out {old} (raven 0-shot, seed 1234): same identity ")
    assert f"as {new}, which is newer (2026-02-01T00:00:00+00:00 vs 2026-01-01T00:00:00+00:00)" in line
    table = runner.invoke(app, ["leaderboard", str(tmp_path), "--no-paper", "-o", str(tmp_path / "b.csv")])
    frame = pd.read_csv(tmp_path / "b.csv", keep_default_na=False)
    assert table.exit_code == 0 and list(frame[frame["metric"] == "accuracy"]["run_dir"]) == [str(new)]
    assert {"sampler", "chat_template", "prompt", "identity"} <= set(frame.columns)
    every = runner.invoke(app, ["leaderboard", str(tmp_path), "--no-paper", "--all", "-o", str(tmp_path / "a.csv")])
    frame = pd.read_csv(tmp_path / "a.csv", keep_default_na=False)
    assert every.exit_code == 0 and "left out" not in every.stderr
    assert sorted(frame[frame["metric"] == "accuracy"]["run_dir"]) == sorted([str(old), str(new)])


def test_a_newer_partial_rerun_does_not_replace_a_fuller_run(tmp_path):
    full = chance_run(tmp_path / "full", limit=6)
    partial = chance_run(tmp_path / "partial", limit=3)  # newer or as new, same identity (limit is not identity)
    runs = find_runs([tmp_path / "full", tmp_path / "partial"])
    assert len({run.identity_hash for run in runs}) == 1
    row = headline(leaderboard(runs)).iloc[0]
    assert (row["run_dir"], row["n"]) == (str(full), 6)
    result = runner.invoke(app, ["leaderboard", str(tmp_path / "full"), str(tmp_path / "partial"), "--no-paper"])
    assert f"left out {partial} " in result.stderr and "which covers more examples (6 vs 3)" in result.stderr


# -- compare -------------------------------------------------------------------------------------------------


def test_compare_refuses_a_side_with_two_runs_that_could_pair(template, tmp_path):
    a = copy_run(template, tmp_path / "base" / "a", checkpoint("/m/A/ckpt", WEIGHTS_A))
    b = copy_run(template, tmp_path / "base" / "b", checkpoint("/m/B/ckpt", WEIGHTS_B))
    cand = copy_run(template, tmp_path / "cand" / "c", checkpoint("/m/C/ckpt", "c3" * 32))
    with pytest.raises(UserError, match="ambiguous"):
        compare_runs(find_runs([tmp_path / "base"]), find_runs([tmp_path / "cand"]))
    result = runner.invoke(app, ["compare", str(tmp_path / "base"), str(cand)])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith("error: ambiguous: more than one run of raven 0-shot seed 1234 could be paired")
    assert f"{a} (ckpt@a1a1a1," in line and f"{b} (ckpt@b2b2b2," in line and f"candidate: {cand} (ckpt@c3c3c3" in line


def test_compare_names_both_models_and_folders_in_markdown_junit_and_output(template, tmp_path):
    base = copy_run(template, tmp_path / "A" / "raven", checkpoint("/m/A/ckpt", WEIGHTS_A))
    cand = copy_run(template, tmp_path / "B" / "raven", checkpoint("/m/B/ckpt", WEIGHTS_B))
    other = copy_run(template, tmp_path / "B" / "seed2", checkpoint("/m/B/ckpt", WEIGHTS_B))
    summary = json.loads((other / "summary.json").read_text())
    summary["seed"] = summary["identity"]["seed"] = 2
    (other / "summary.json").write_text(json.dumps(summary))
    comparison = compare_runs(find_runs([tmp_path / "A"]), find_runs([tmp_path / "B"]))
    text = f"raven 0-shot: baseline `ckpt@a1a1a1` ({base}), candidate `ckpt@b2b2b2` ({cand})"
    assert f"- {text}" in comparison_markdown(comparison, 0.05).splitlines()
    assert any(
        note.startswith("only in the candidate: raven 0-shot") and "ckpt@b2b2b2" in note for note in comparison.notes
    )

    junit = write_junit(comparison, tmp_path / "c.xml")
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    properties = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
    assert properties == {
        "baseline_model": "ckpt@a1a1a1",
        "baseline_run": str(base),
        "candidate_model": "ckpt@b2b2b2",
        "candidate_run": str(cand),
    }
    result = runner.invoke(app, ["compare", str(tmp_path / "A"), str(tmp_path / "B")])
    assert result.exit_code == 0, result.output
    assert text in result.stdout


def test_compare_in_roots_names_a_prompt_difference_instead_of_leaving_runs_unpaired(template, tmp_path):
    def edited_prompt(summary: dict) -> None:
        summary["identity"]["prompt_hash"] = "0" * 64

    def seed_two(summary: dict) -> None:
        summary["seed"] = summary["identity"]["seed"] = 2

    copy_run(template, tmp_path / "base" / "one")
    copy_run(template, tmp_path / "base" / "two", seed_two)
    copy_run(template, tmp_path / "cand" / "one", edited_prompt)
    base, cand = find_runs([tmp_path / "base"]), find_runs([tmp_path / "cand"])
    with pytest.raises(UserError, match="prompt hash differs"):
        compare_runs(base, cand)
    forced = compare_runs(base, cand, force=True)
    assert [pair.baseline_run for pair in forced.pairs] == [str(tmp_path / "base" / "one")]
    assert any(note.startswith("raven 0-shot: compared despite: prompt hash differs") for note in forced.notes)
    assert any(note.startswith("only in the baseline: raven 0-shot") for note in forced.notes)


# -- report --------------------------------------------------------------------------------------------------


def test_report_labels_models_that_share_a_name(template, tmp_path):
    copy_run(template, tmp_path / "r" / "a", checkpoint("/m/A/ckpt", WEIGHTS_A))
    copy_run(template, tmp_path / "r" / "b", checkpoint("/m/B/ckpt", WEIGHTS_B))
    html = build_report(find_runs([tmp_path / "r"]), max_samples=1)
    cells = [row.split("<td>")[1].split("</td>")[0] for row in html.split('<tr class="metrics-row"')[1:]]
    assert cells == ["ckpt@a1a1a1", "ckpt@b2b2b2"]
    assert "raven 0-shot (" in html and " — ckpt@b2b2b2" in html
