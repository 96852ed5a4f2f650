"""Real runs the results tests read back: the chance baseline and the tiny Kosmos-2 on a Raven set in the IQ50
layout. The set is written by the sample generator into a folder of its own, without the bundled sample's
marker, so these runs read as runs on user data (a run on the bundled sample is never set beside the paper)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from kosmos_eval.config import RunConfig
from kosmos_eval.generators.raven import write_problem_set
from kosmos_eval.runner.run import evaluate


@functools.cache
def raven_data() -> Path:
    """50 generated problems in the IQ50 layout (the bundled sample's problems, as a user's own folder)."""
    folder = Path(tempfile.mkdtemp(prefix="kosmos-eval-raven-")) / "iq50"
    write_problem_set(folder)
    return folder


def chance_run(output: Path, seed: int = 1234, limit: int = 20) -> Path:
    """The chance baseline on the first `limit` Raven problems; returns the run folder."""
    config = RunConfig(
        task="raven", backend="chance", seed=seed, limit=limit, output_dir=str(output), data_dir=str(raven_data())
    )
    return evaluate(config, progress=False).run_dir


def tiny_raven_run(output: Path, model: Path, limit: int = 3) -> Path:
    """The tiny random Kosmos-2 in `model` on the first `limit` Raven problems, fp32 on the CPU."""
    config = RunConfig(
        task="raven",
        backend="hf",
        model_args={"pretrained": str(model), "dtype": "float32"},
        device="cpu",
        limit=limit,
        output_dir=str(output),
        data_dir=str(raven_data()),
    )
    return evaluate(config, progress=False).run_dir
