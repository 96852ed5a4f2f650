"""Real runs the results tests read back: the chance baseline and the tiny Kosmos-2 on the bundled Raven set."""

from __future__ import annotations

from pathlib import Path

from kosmos_eval.config import RunConfig
from kosmos_eval.runner.run import evaluate


def chance_run(output: Path, seed: int = 1234, limit: int = 20) -> Path:
    """The chance baseline on the first `limit` Raven problems; returns the run folder."""
    config = RunConfig(task="raven", backend="chance", seed=seed, limit=limit, output_dir=str(output))
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
    )
    return evaluate(config, progress=False).run_dir
