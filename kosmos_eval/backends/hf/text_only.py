"""Which checkpoints are text-only language models, known before anything loads: the model types the causal-LM
family declares (families/causal_lm.py) and a checkpoint's model type read from its config.json.

Kept free of torch and transformers, so the runner's early checks (`BackendInfo.check_task`, called before the
model loads) cost a file read: a task that shows images, asked of a text-only model, is refused in one line
naming both instead of after loading the weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from kosmos_eval.errors import UserError

# AutoModelForCausalLM model types the causal-LM family declares (each has a tiny builder in kosmos_eval/tiny)
MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "gpt2")


def local_model_type(pretrained: str, revision: str | None = None) -> str | None:
    """The checkpoint's model type from its config.json, read without loading anything and without the network:
    a local folder's, or a hub id's cached copy; None where neither is at hand."""
    folder = Path(pretrained).expanduser()
    path: Path | None = folder / "config.json" if folder.is_dir() else None
    if path is None:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(pretrained, "config.json", revision=revision)
        except Exception:  # not a repo id (a mistyped path): loading the model says so in its own words
            return None
        path = Path(cached) if isinstance(cached, str) else None
    if path is None or not path.is_file():
        return None
    try:
        model_type = json.loads(path.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return model_type if isinstance(model_type, str) else None


def refuse_image_task(model_args: Mapping[str, str], task: str, images: bool, default_model: str) -> None:
    """One line naming the task and the model, before the model loads, when a task that shows images is asked
    of a text-only checkpoint; nothing where the checkpoint's config is not at hand (the backend refuses the
    task's requests after loading instead)."""
    if not images:
        return
    pretrained = model_args.get("pretrained") or default_model
    model_type = local_model_type(pretrained, model_args.get("revision"))
    if model_type in MODEL_TYPES:
        raise UserError(
            f"Task {task!r} shows the model images, and {pretrained} (model type {model_type!r}) is a text-only "
            "language model: run it on the language tasks, the commonsense probes or websrc with "
            "--task-option setting=text_only"
        )
