"""Loading a transformers checkpoint (hub id or local folder) and identifying it exactly.

The checkpoint's model type selects its declared family (families/), which names the model class. The
processor is loaded without its video part: image evaluation never needs it, and video processors need
torchvision, which many CPU machines and CI images do not have (and which has no build for every torch).

Every failure to get the weights becomes one ModelUnavailableError line that says why and what to do, since
the most common case is simply "offline and not cached".
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kosmos_eval.backends.hf.families import Family, family_for, processor_standin
from kosmos_eval.backends.hf.files import checkpoint_files
from kosmos_eval.core.progress import notice
from kosmos_eval.errors import ModelUnavailableError, UserError

DTYPES = ("float32", "bfloat16", "float16", "auto")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    processor: Any
    family: Family
    model_type: str
    pretrained: str
    revision: str | None
    weights_sha256: str | None
    dtype: str
    device: str
    files: dict[str, str] | None = None  # SHA-256 of every other file of a local folder (files.py)


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


def damaged_weights(folder: Path) -> tuple[Path, str] | None:
    """The first .safetensors file of `folder` whose layout is broken, and how: shorter than its own header
    says (a cut download or copy), or a header that is not the format's JSON."""
    for path in sorted(folder.rglob("*.safetensors")):
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if length < 0 or 8 + length > size:
                return path, f"{size:,} bytes, shorter than its header says: the file is cut off"
            try:
                header = json.loads(handle.read(length))
            except ValueError:
                return path, "its header is not valid: not a safetensors file, or damaged"
        ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
        needed = 8 + length + max(ends, default=0)
        if needed > size:
            return path, f"{size:,} of {needed:,} bytes: the file is cut off"
    return None


def looks_like_path(pretrained: str) -> bool:
    """Whether `pretrained` is meant as a folder rather than a hub id (`owner/name`): it starts with /, ./,
    ../ or ~, or holds a separator a hub id never has."""
    if pretrained.startswith(("/", "./", "../", "~", ".\\")):
        return True
    return (os.sep != "/" and os.sep in pretrained) or pretrained.count("/") > 1


def missing_folder(pretrained: str) -> ModelUnavailableError | None:
    """One line for a model folder that does not exist (a mistyped path), naming close folder names in its
    nearest existing parent; None when `pretrained` is not meant as a path or exists."""
    if not looks_like_path(pretrained):
        return None
    folder = Path(pretrained).expanduser()
    if folder.exists():
        return None
    parent = folder.parent
    while not parent.is_dir() and parent != parent.parent:
        parent = parent.parent
    hint = ""
    try:
        names = [entry.name for entry in parent.iterdir() if entry.is_dir()] if parent.is_dir() else []
    except OSError:
        names = []
    if parent == folder.parent:
        close = difflib.get_close_matches(folder.name, names, n=3, cutoff=0.6)
        if close:
            hint = "; did you mean " + " or ".join(repr(str(parent / name)) for name in close) + "?"
    else:
        hint = f"; the nearest existing folder is {str(parent)!r}"
    return ModelUnavailableError(
        f"Cannot load model {pretrained!r}: the folder {str(folder.absolute())!r} does not exist{hint}"
    )


def _unavailable(pretrained: str, exc: Exception | None) -> ModelUnavailableError:
    missing = missing_folder(pretrained)
    if missing is not None:
        return missing
    local = Path(pretrained)
    if local.is_dir():
        damaged = damaged_weights(local)
        if damaged is not None:
            return ModelUnavailableError(
                f"Cannot load model {pretrained!r}: weight file {damaged[0]} is damaged ({damaged[1]}); copy or "
                "download the checkpoint again"
            )
        missing = "no config.json" if not (local / "config.json").is_file() else None
        detail = missing or (f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}" if exc else "unknown cause")
        return ModelUnavailableError(
            f"Cannot load model {pretrained!r}: the folder holds no loadable checkpoint ({detail}); give a folder "
            "written by save_pretrained (config, weights, processor files), or a hub id"
        )
    if local.exists():
        return ModelUnavailableError(f"Cannot load model {pretrained!r}: it is a file; give the checkpoint's folder")
    if hub_offline():
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
    from transformers import AutoConfig

    missing = missing_folder(pretrained)
    if missing is not None:
        raise missing
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    source = f"folder {pretrained}" if Path(pretrained).is_dir() else f"{pretrained} (hub id)"
    notice(
        log,
        "loading model %s, revision %s, dtype %s, on %s",
        source,
        revision or "default",
        str(torch_dtype).replace("torch.", ""),
        f"device_map={device_map}" if device_map else device,
    )
    common: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    extra: dict[str, Any] = {"dtype": torch_dtype}
    if attn_implementation:
        extra["attn_implementation"] = attn_implementation
    if device_map:
        extra["device_map"] = device_map

    def load(local_files_only: bool) -> tuple[Any, Any, Any]:
        config = AutoConfig.from_pretrained(pretrained, local_files_only=local_files_only, **common)
        family = family_for(config.model_type)
        if family.refuse:
            raise UserError(f"{family.label} ({pretrained}): {family.refuse}")
        try:
            model = family.model_loader().from_pretrained(
                pretrained, local_files_only=local_files_only, **common, **extra
            )
        except ValueError as exc:
            if "Unrecognized configuration" in str(exc):
                raise UserError(not_loadable(pretrained, config.model_type, family)) from exc
            raise
        if family.text_only:  # a language model has a tokenizer where a multimodal model has a processor
            processor = load_tokenizer(pretrained, local_files_only=local_files_only, **common)
        else:
            processor = load_processor(pretrained, local_files_only=local_files_only, **common)
        return config, model, processor

    is_local = Path(pretrained).is_dir()
    try:
        # A local folder, or a hub id already in the cache: never touch the network.
        config, model, processor = load(local_files_only=True)
    except UserError:
        raise
    except Exception as exc:  # a damaged or incomplete folder fails in many ways; each is one line naming it
        if is_local or hub_offline():
            raise _unavailable(pretrained, exc) from exc
        if not hub_reachable():
            raise _unavailable(pretrained, None) from exc
        try:
            config, model, processor = load(local_files_only=False)
        except UserError:
            raise
        except Exception as exc2:
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
        family=family_for(config.model_type),
        model_type=config.model_type,
        pretrained=pretrained,
        revision=getattr(config, "_commit_hash", None) or revision,
        **(checkpoint_files(local) if local.is_dir() else {"weights_sha256": None}),
        dtype=str(torch_dtype).replace("torch.", ""),
        device=device,
    )


def not_loadable(pretrained: str, model_type: str, family: Family) -> str:
    """Why transformers cannot load the checkpoint with the family's class, in one line; a language model of a
    type no family declares is named as such (its numbers would be unverified, docs/models.md)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from kosmos_eval.backends.hf.text_only import MODEL_TYPES

    if family.name == "generic" and model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return (
            f"Model {pretrained!r} is a text-only language model of type {model_type!r}, which no family declares "
            f"(declared text-only types: {', '.join(MODEL_TYPES)}; docs/models.md says how to add one)"
        )
    return (
        f"Model {pretrained!r} (model_type {model_type!r}) is not an image-text-to-text model that transformers can "
        f"load with {family.model_class}"
    )


def load_tokenizer(pretrained: str, **kwargs: Any) -> Any:
    """A text-only checkpoint's tokenizer, which stands where a multimodal checkpoint's processor does."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(pretrained, **kwargs)


def without_video(processor_class: type) -> type:
    """The processor class with its video sub-processor left out: the same class for images (its __call__ and
    attributes are the class's own), loadable where torchvision is missing."""
    kept = [name for name in processor_class.get_attributes() if "video" not in name]
    if len(kept) == len(processor_class.get_attributes()):
        return processor_class
    return type(
        processor_class.__name__,
        (processor_class,),
        {"get_attributes": classmethod(lambda cls: list(kept)), "__module__": processor_class.__module__},
    )


def processor_class_for(pretrained: str, **kwargs: Any) -> type:
    """The processor class a checkpoint declares (processor_config.json), else its model type's default."""
    from transformers import AutoConfig, ProcessorMixin
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES, processor_class_from_name

    name = ProcessorMixin.get_processor_dict(pretrained, **kwargs)[0].get("processor_class")
    if name is None:
        model_type = AutoConfig.from_pretrained(pretrained, **kwargs).model_type
        name = PROCESSOR_MAPPING_NAMES.get(model_type)
    standin = processor_standin(name) if name else None
    if standin is not None:
        return standin
    found = processor_class_from_name(name) if name else None
    if found is None:
        raise ValueError(f"no processor class is known for {pretrained}")
    return found


def load_processor(pretrained: str, **kwargs: Any) -> Any:
    """The checkpoint's processor, without a video part (see the module docstring), or the image-only stand-in
    a family registered for its class (families.register_processor_standin)."""
    return without_video(processor_class_for(pretrained, **kwargs)).from_pretrained(pretrained, **kwargs)


def describe(loaded: LoadedModel) -> dict[str, Any]:
    import transformers

    return {
        "backend": "hf",
        "model": loaded.pretrained,
        "model_type": loaded.model_type,
        "family": loaded.family.name,
        "architecture": loaded.model.__class__.__name__,
        "revision": loaded.revision,
        "weights_sha256": loaded.weights_sha256,
        "files": loaded.files,
        "dtype": loaded.dtype,
        "transformers": transformers.__version__,
    }
