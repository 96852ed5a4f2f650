"""Readers for the IQ50 one-by-one layout and RAVEN .npz, on the real samples and on broken copies."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kosmos_eval.errors import DataError
from kosmos_eval.formats.raven import read_raven
from kosmos_eval.generators.raven import write_problem_set
from tests.conftest import shared

BUNDLED = Path(__file__).resolve().parents[1] / "kosmos_eval" / "data" / "samples" / "raven"


def test_reads_real_iq50_with_its_panel_counts():
    problems = read_raven(shared("iq50"))  # the iq50 root: the reader finds obo/ itself
    assert len(problems) == 50
    assert [p.id for p in problems[:3]] == ["exp-1", "exp-2", "exp-3"]  # numeric, not lexical order
    counts = Counter(len(p.panels) for p in problems)
    assert counts == {3: 38, 4: 3, 8: 9}
    eight = sorted(int(p.id.split("-")[1]) for p in problems if len(p.panels) == 8)
    assert eight == [11, 12, 13, 14, 30, 31, 32, 48, 50]
    assert all(len(p.candidates) == 6 and p.answer_index == 0 for p in problems)
    assert problems[0].candidates[0].key == "exp-1/answer-a.png"  # relative: the same on every machine
    assert problems[0].panels[2].load().size[0] > 0


def test_reads_real_raven_npz_with_targets():
    folder = shared("raven-npz-sample")
    problems = read_raven(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(problems) == len(manifest)
    for problem in problems:
        assert len(problem.panels) == 8 and len(problem.candidates) == 8
        assert problem.answer_index == manifest[problem.id + ".npz"]["target"]
    raw = np.load(folder / (problems[0].id + ".npz"))["image"]
    assert np.array_equal(np.asarray(problems[0].candidates[3].load().convert("L")), raw[11])


def _copy_problem(tmp_path: Path, n_given: int = 3) -> Path:
    root = tmp_path / "iq"
    write_problem_set(root, n=3)
    return root


def test_missing_panel_is_reported_with_its_folder(tmp_path):
    root = _copy_problem(tmp_path)
    (root / "exp-2" / "query-2.png").unlink()
    with pytest.raises(DataError, match=r"exp-2: query panels must be numbered 1..N"):
        read_raven(root)


def test_missing_candidate_is_reported(tmp_path):
    root = _copy_problem(tmp_path)
    (root / "exp-1" / "answer-c.png").unlink()
    with pytest.raises(DataError, match=r"exp-1: expected candidates answer-a.png"):
        read_raven(root)


def test_corrupt_image_names_the_file(tmp_path):
    root = _copy_problem(tmp_path)
    (root / "exp-1" / "query-1.png").write_bytes(b"not a png")
    problems = read_raven(root)
    with pytest.raises(DataError, match=r"exp-1/query-1.png: cannot read image"):
        problems[0].panels[0].load()


def test_malformed_npz_names_the_file(tmp_path):
    np.savez(tmp_path / "bad.npz", image=np.zeros((10, 8, 8), dtype=np.uint8), target=np.array(2))
    with pytest.raises(DataError, match=r"bad.npz: 'image' must have shape \(16, H, W\)"):
        read_raven(tmp_path)
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    from kosmos_eval.formats.raven import _npz_arrays

    _npz_arrays.cache_clear()
    with pytest.raises(DataError, match=r"bad.npz: cannot read .npz"):
        read_raven(tmp_path)


def test_folder_without_raven_data(tmp_path):
    with pytest.raises(DataError, match="no Raven data found"):
        read_raven(tmp_path)


def test_generated_candidates_are_distinct_and_differ_in_one_attribute():
    shipped = json.loads((BUNDLED / "manifest.json").read_text())
    for problem in shipped["problems"]:
        candidates = [tuple(c.values()) for c in problem["candidates"]]
        assert len(set(candidates)) == 6
        answer = candidates[0]
        for wrong in candidates[1:]:
            assert sum(a != b for a, b in zip(answer, wrong, strict=True)) == 1


def test_generated_3x3_rules_hold_on_the_answer():
    shipped = json.loads((BUNDLED / "manifest.json").read_text())
    for problem in (p for p in shipped["problems"] if p["kind"] == "matrix_3x3"):
        grid = problem["given"] + [problem["candidates"][0]]
        for attr, rule in problem["rules"].items():
            rows = [[grid[r * 3 + c][attr] for c in range(3)] for r in range(3)]
            if rule == "constant":
                assert all(len(set(row)) == 1 for row in rows)
            elif rule == "progression":
                assert all(row[1] - row[0] == row[2] - row[1] != 0 for row in rows)
            elif rule == "arithmetic":
                carry = 1 if attr == "count" else 0
                assert all(row[2] == row[0] + row[1] + carry for row in rows)
            elif rule == "distribute_three":
                assert all(sorted(row) == sorted(rows[0]) for row in rows) and len(set(rows[0])) == 3


def test_copy_of_bundled_layout_reads_like_iq50(tmp_path):
    shutil.copytree(BUNDLED / "exp-1", tmp_path / "obo" / "exp-1")
    (problem,) = read_raven(tmp_path)
    assert problem.id == "exp-1" and len(problem.panels) == 3
