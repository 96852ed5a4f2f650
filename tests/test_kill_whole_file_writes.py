"""A run killed (SIGKILL-like: no `finally` runs) at each of its whole-file writes, then rerun, leaves no
temporary file behind and the same summary and export bytes as an uninterrupted run.

Each killed run is a real process that dies with os._exit at the chosen write, after the temporary file is
written and before it is renamed into place, which is what a kill or a power cut at that moment leaves. The
writes of `run vqav2 --sample --model chance --limit 4` are run.json (created, then given the fingerprint),
the VQAv2 submission export, summary.json and timing.json."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here runs the CLI in subprocesses, killed and rerun

COMMAND = ["run", "vqav2", "--sample", "--model", "chance", "--limit", "4"]
WRITES = ["run.json", "run.json", "vqav2_test-dev_submission.json", "summary.json", "timing.json"]
KILLER = """
import os, sys
import kosmos_eval.core.files as files
real, calls, at = os.replace, [0], int(sys.argv[1])
def replace(source, target):
    if calls[0] == at:
        os._exit(137)  # killed with the temporary file written: nothing below this line runs
    calls[0] += 1
    return real(source, target)
files.os.replace = replace
sys.argv = ["kosmos-eval", *sys.argv[2:]]
from kosmos_eval.cli import main
main()
"""


def kosmos_eval(*args: str, kill_at: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    code = ["-c", KILLER, str(kill_at)] if kill_at is not None else ["-m", "kosmos_eval"]
    return subprocess.run([sys.executable, *code, *args], capture_output=True, text=True, env=env, timeout=300)


def folder_files(root: Path) -> dict[str, bytes]:
    (folder,) = [path for path in root.iterdir() if path.is_dir()]
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.name != "timing.json"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One --output for every run here: summaries name their folder, so only runs of one path compare."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def uninterrupted(root: Path) -> dict[str, bytes]:
    done = kosmos_eval(*COMMAND, "--output", str(root))
    assert done.returncode == 0, done.stderr
    files = folder_files(root)
    shutil.rmtree(root)
    return files


@pytest.mark.parametrize("at", range(len(WRITES)), ids=[f"{i}-{name}" for i, name in enumerate(WRITES)])
def test_a_kill_at_a_whole_file_write_leaves_nothing_after_the_rerun(at: int, root: Path, uninterrupted) -> None:
    try:
        killed = kosmos_eval(*COMMAND, "--output", str(root), kill_at=at)
        assert killed.returncode == 137, killed.stderr
        temps = [p.name for p in root.rglob(".*.tmp")]
        assert len(temps) == 1 and temps[0].startswith(f".{WRITES[at]}."), temps  # what the kill left
        rerun = kosmos_eval(*COMMAND, "--output", str(root))
        assert rerun.returncode == 0, rerun.stderr
        assert list(root.rglob(".*.tmp")) == []
        assert folder_files(root) == uninterrupted
    finally:
        shutil.rmtree(root, ignore_errors=True)
