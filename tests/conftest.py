"""Shared fixtures. Tests never touch the network: the hub is forced offline before transformers loads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("KOSMOS_EVAL_DATA", None)
os.environ["KOSMOS_EVAL_CACHE"] = tempfile.mkdtemp(prefix="kosmos-eval-cache-")  # never the user's cache

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(*parts: str) -> Path:
    """A folder of ../shared/data, or skip the test where the samples are not present."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared sample data not present at {path}")
    return path


@pytest.fixture(scope="session")
def tiny_kosmos2(tmp_path_factory) -> Path:
    from kosmos_eval.tiny import build_tiny_model

    return build_tiny_model("kosmos2", tmp_path_factory.mktemp("tiny") / "kosmos2")


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory) -> Path:
    from kosmos_eval.tiny import build_tiny_model

    return build_tiny_model("llava", tmp_path_factory.mktemp("tiny") / "llava")


@pytest.fixture(scope="session")
def kosmos2_backend(tiny_kosmos2):
    from kosmos_eval.backends.hf.backend import HFBackend

    return HFBackend(pretrained=str(tiny_kosmos2), dtype="float32", device="cpu")


@pytest.fixture(scope="session")
def llava_backend(tiny_llava):
    from kosmos_eval.backends.hf.backend import HFBackend

    return HFBackend(pretrained=str(tiny_llava), dtype="float32", device="cpu")
