"""Loading a transformers checkpoint (hub id or local folder) and identifying it exactly.

Every failure to get the weights becomes one ModelUnavailableError line that says why and what to do, since
the most common case is simply "offline and not cached".
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kosmos_eval.errors import ModelUnavailableError, UserError

DTYPES = ("float32", "bfloat16", "float16", "auto")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    processor: Any
    model_type: str
    pretrained: str
    revision: str | None
    weights_sha256: str | None
    dtype: str
    device: str


def resolve_device(requested: str | None) -> str:
    import torch

    if requested in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {requested!r} requested but no CUDA GPU is visible; use --device cpu")
    return requested


def resolve_dtype(name: str, device: str):
    import torch

    if name not in DTYPES:
        raise UserError(f"--model-args dtype={name!r} is not one of {', '.join(DTYPES)}")
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("0", "", "false", "no")


def hub_reachable(timeout: float = 3.0) -> bool:
    """One short TCP connection to the hub endpoint: a machine without network fails here in seconds
    instead of spending half a minute in the hub client's retries."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _unavailable(pretrained: str, exc: Exception | None) -> ModelUnavailableError:
    if Path(pretrained).exists():
        detail = f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}" if exc else "no config.json"
        reason = f"the folder has no loadable checkpoint ({detail})"
    elif hub_offline():
        reason = "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    elif exc is None:
        reason = "it is not in the local Hugging Face cache and the hub cannot be reached from this machine"
    else:
        reason = f"it could not be fetched or found in the cache ({str(exc).splitlines()[0][:160]})"
    return ModelUnavailableError(
        f"Cannot load model {pretrained!r}: {reason}. Download it where there is network "
        f"(`hf download {pretrained}`), pass --model-args pretrained=LOCAL_FOLDER, "
        "or run the random baseline with --model chance."
    )


def weights_sha256(folder: Path) -> str:
    """SHA-256 over the weight files of a local checkpoint (names and bytes), so local models are pinned."""
    digest = hashlib.sha256()
    files = sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def load_model(
    pretrained: str,
    revision: str | None,
    dtype: str,
    device: str | None,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    device_map: str | None = None,
) -> LoadedModel:
    """`device_map` (e.g. "auto") spreads the model over every visible GPU (then CPU) for models larger than
    one GPU; inputs then go to the device of the input embeddings."""
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor, Kosmos2ForConditionalGeneration

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    common: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    extra: dict[str, Any] = {"dtype": torch_dtype}
    if attn_implementation:
        extra["attn_implementation"] = attn_implementation
    if device_map:
        extra["device_map"] = device_map

    def load(local_files_only: bool) -> tuple[Any, Any, Any]:
        config = AutoConfig.from_pretrained(pretrained, local_files_only=local_files_only, **common)
        model_class = (
            Kosmos2ForConditionalGeneration if config.model_type == "kosmos-2" else AutoModelForImageTextToText
        )
        try:
            model = model_class.from_pretrained(pretrained, local_files_only=local_files_only, **common, **extra)
        except ValueError as exc:
            if "Unrecognized configuration" in str(exc):
                raise UserError(
                    f"Model {pretrained!r} (model_type {config.model_type!r}) is not an image-text-to-text model "
                    "that transformers can load with AutoModelForImageTextToText"
                ) from exc
            raise
        processor = AutoProcessor.from_pretrained(pretrained, local_files_only=local_files_only, **common)
        return config, model, processor

    is_local = Path(pretrained).is_dir()
    try:
        # A local folder, or a hub id already in the cache: never touch the network.
        config, model, processor = load(local_files_only=True)
    except (OSError, ValueError) as exc:
        if is_local or hub_offline():
            raise _unavailable(pretrained, exc) from exc
        if not hub_reachable():
            raise _unavailable(pretrained, None) from exc
        try:
            config, model, processor = load(local_files_only=False)
        except (OSError, ValueError) as exc2:
            raise _unavailable(pretrained, exc2) from exc2
    if device_map:
        model.eval()
        device = str(model.get_input_embeddings().weight.device)
    else:
        model.to(device).eval()
    local = Path(pretrained)
    return LoadedModel(
        model=model,
        processor=processor,
        model_type=config.model_type,
        pretrained=pretrained,
        revision=getattr(config, "_commit_hash", None) or revision,
        weights_sha256=weights_sha256(local) if local.is_dir() else None,
        dtype=str(torch_dtype).replace("torch.", ""),
        device=device,
    )


def describe(loaded: LoadedModel) -> dict[str, Any]:
    import transformers

    return {
        "backend": "hf",
        "model": loaded.pretrained,
        "model_type": loaded.model_type,
        "architecture": loaded.model.__class__.__name__,
        "revision": loaded.revision,
        "weights_sha256": loaded.weights_sha256,
        "dtype": loaded.dtype,
        "transformers": transformers.__version__,
    }
