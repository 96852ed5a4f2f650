"""The outside of every hf-backend benchmark script: its command line, its table and its JSON file (issue 7).

Kept apart from benchmarks/common.py, which builds the model and computes the references, because this part
is about what a run records rather than what it measures: the options every script shares, the three-column
table each prints, and `results/benchmarks/<name>[.tiny].json` with the command line, the settings, a summary of
the model and the machine's environment beside the results. `run_script` is each script's entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import REPO_ROOT, Bench, decoder_non_embedding_params
from kosmos_eval.errors import UserError

RESULTS_DIR = REPO_ROOT / "results" / "benchmarks"
TINY_NOTE = "--tiny run: a 2-layer model in float32 on CPU; the timings are NOT benchmarks, only the checks count"


# -- what was measured, on what ----------------------------------------------------------------------------
def model_summary(bench: Bench) -> dict[str, Any]:
    config = bench.model.config
    return {
        "name": "Kosmos-2 architecture, random weights",
        "size": "tiny" if bench.tiny else "real",
        "dtype": bench.dtype_name,
        "device": bench.device,
        "decoder_layers": config.text_config.layers,
        "decoder_width": config.text_config.embed_dim,
        "vocab_size": config.text_config.vocab_size,
        "tokenizer_size": len(bench.tokenizer),
        "vision_layers": config.vision_config.num_hidden_layers,
        "vision_width": config.vision_config.hidden_size,
        "image_size": config.vision_config.image_size,
        "image_slots": bench.num_slots,
        "parameters": sum(p.numel() for p in bench.model.parameters()),
        "decoder_non_embedding_parameters": decoder_non_embedding_params(bench.model),
        "attn_implementation": getattr(config, "_attn_implementation", None),
    }


def environment(bench: Bench) -> dict[str, Any]:
    """Where the numbers were measured: device, library versions, harness commit."""
    import transformers

    from kosmos_eval.runner.provenance import harness_commit, package_versions

    cuda = bench.device.startswith("cuda")
    return {
        "device_name": torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine(),
        "device": bench.device,
        "cuda": torch.version.cuda if cuda else None,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "packages": package_versions(),
        "harness": harness_commit(),
    }


# -- command line and output ----------------------------------------------------------------------------------
def parser(name: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark shares; each script adds its own sizes."""
    p = argparse.ArgumentParser(prog=f"python benchmarks/{name}.py", description=description)
    p.add_argument("--tiny", action="store_true", help="tiny fp32 model on CPU: a smoke test, not a benchmark")
    p.add_argument("--out", type=Path, default=None, help=f"JSON path (default results/benchmarks/{name}[.tiny].json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    return p


def int_list(text: str) -> list[int]:
    """`1,16,64` -> [1, 16, 64] for argparse, with a one-line error for anything else."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,16,64, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers such as 1,16,64, got {text!r}")
    return values


def print_table(title: str, rows: Sequence[tuple[str, Any, str]]) -> None:
    """A three-column table (metric, value, target) on stdout; floats to 3 significant digits."""
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}\n{'metric'.ljust(width)}  {'value':>12}  target")
    for metric, value, target in rows:
        shown = "-" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)
        print(f"{metric.ljust(width)}  {shown:>12}  {target}")


def write_result(
    name: str, bench: Bench, args: argparse.Namespace, argv: Sequence[str], results: dict[str, Any]
) -> Path:
    """Write results/benchmarks/<name>.json (or --out) with the command line, settings and environment."""
    payload = {
        "benchmark": name,
        "tiny": bench.tiny,
        "note": TINY_NOTE if bench.tiny else "real-size Kosmos-2 architecture with random weights",
        "command": shlex.join(["python", f"benchmarks/{name}.py", *argv]),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "model": model_summary(bench),
        "environment": environment(bench),
        "results": results,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = args.out or RESULTS_DIR / (f"{name}.tiny.json" if bench.tiny else f"{name}.json")  # never clobber a real run
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {path}")
    return path


def run_script(main: Callable[[list[str] | None], Any]) -> None:
    """Entry point of a script: user errors become one line on stderr and exit status 2, no traceback."""
    try:
        main(None)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
