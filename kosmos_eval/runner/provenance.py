"""What a summary records about the software that produced it."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import kosmos_eval

PACKAGES = ("torch", "transformers", "datasets", "pycocoevalcap", "pillow", "numpy", "pandas", "typer")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version(), "kosmos-eval": kosmos_eval.__version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def harness_commit() -> dict[str, str | bool | None]:
    """The git commit of the harness's own source (not of the current directory), and whether it had local
    edits. None when the harness is installed from a wheel."""
    source = Path(kosmos_eval.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": bool(dirty)}


def start_provenance() -> Callable[[], dict[str, Any]]:
    """Begin the look-ups a summary records ({"versions": ..., "harness": ...}) in a background thread, and
    return the function that waits for them.

    Two git processes and a scan of the installed packages take 10-20 ms: nothing next to a model, but paid on
    the main thread at the end of every run they are a fixed cost of each small run. Started when a run starts,
    they finish while the data loads and the model computes."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kosmos-eval-provenance")
    future = executor.submit(lambda: {"versions": package_versions(), "harness": harness_commit()})
    executor.shutdown(wait=False)
    return future.result
