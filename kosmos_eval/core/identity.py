"""A finished run's identity, defined once: everything that can change its numbers.

The leaderboard keys its rows by it, `compare` pairs runs by it and the report groups by it, so two runs that
differ in anything that can move a number are never merged, averaged or silently swapped for one another.
Everything is read from a run's summary.json:

- `summary["identity"]`: the folder identity the runner computed before the model loaded (task, split, shots,
  seed, backend, identity model args, data dir, task options, prompt hash, sampler when shots > 0, and
  `data: "bundled sample"` on a bundled sample);
- `summary["fingerprint"]`: the model as loaded (for hf: weights and file hashes, dtype, transformers version,
  `chat_template_sha256` when prompts went through a chat template);
- `summary["decoding"]`: the template's decoding blocks and the backend's decoding policy in effect;
- `summary["variant"]`: the task options that differ from their defaults, in one canonical spelling (so
  `cot=1` and `cot=true`, or a default given explicitly, are one setting).

Older summaries lack some of these: the identity falls back to `summary["config"]`, and a field nothing
recorded is None. Such a run then has an identity of its own, which may keep it apart from a newer run of the
same thing; it is never merged with a run it cannot be shown to equal.

Limit, example ids, batch size, device, speed-only model args and the output folder are not identity: they
change how much or how fast is computed, not what a record holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

SAMPLE_DATA = "bundled sample"  # what the runner's identity and the summary's data origin say on a sample
HASH_LENGTH = 10
# the top-level fields of an identity; `data` and `model` are dicts (see run_identity)
IDENTITY_FIELDS = (
    "task",
    "variant",
    "split",
    "shots",
    "sampler",
    "seed",
    "prompt_hash",
    "decoding",
    "data",
    "model",
)


def on_sample(summary: Mapping[str, Any]) -> bool:
    """Whether the run was computed on a bundled synthetic sample (older summaries only name the origin)."""
    recorded = summary.get("identity") or {}
    data = summary.get("data") or {}
    return recorded.get("data") == SAMPLE_DATA or bool(data.get("sample")) or data.get("origin") == SAMPLE_DATA


def run_identity(
    summary: Mapping[str, Any], variant: str | None = None, model_args: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The full identity of the run `summary` describes.

    `variant` and `model_args` are fallbacks a caller that knows the registries can give for summaries older
    than the fields they replace (the canonical variant; the model args without the speed-only ones): core
    knows no task or backend. Recorded values always win.
    """
    recorded: Mapping[str, Any] = summary.get("identity") or {}
    config: Mapping[str, Any] = summary.get("config") or {}
    decoding: Mapping[str, Any] = summary.get("decoding") or {}
    fingerprint = summary.get("fingerprint") or None

    def first(name: str, default: Any = None) -> Any:
        for source in (summary, recorded, config):
            if source.get(name) is not None:
                return source[name]
        return default

    shots = int(first("shots", 0))
    sampler = None
    if shots > 0:  # zero-shot runs draw no demos: the sampler changes nothing
        sampler = recorded.get("sampler") or summary.get("sampler") or config.get("sampler")
    if "model_args" in recorded:
        args = recorded["model_args"]
    else:
        args = model_args if model_args is not None else config.get("model_args")
    return {
        "task": str(summary["task"]),
        "variant": _variant(summary, recorded, config, variant),
        "split": str(first("split", "")),
        "shots": shots,
        "sampler": sampler,
        "seed": int(first("seed", 0)),
        "prompt_hash": recorded.get("prompt_hash"),
        "decoding": decoding.get("template"),
        "data": {
            "sample": on_sample(summary),
            "dir": recorded["data_dir"] if "data_dir" in recorded else config.get("data_dir"),
        },
        "model": {
            "backend": recorded.get("backend") or config.get("backend") or (fingerprint or {}).get("backend"),
            "model_args": dict(sorted((args or {}).items())),
            "fingerprint": fingerprint,
            "decoding": decoding.get("backend"),
        },
    }


def _variant(
    summary: Mapping[str, Any], recorded: Mapping[str, Any], config: Mapping[str, Any], fallback: str | None
) -> str:
    if summary.get("variant") is not None:
        return str(summary["variant"])
    if fallback is not None:
        return fallback
    options = recorded.get("task_options") or config.get("task_options") or {}
    return ";".join(f"{key}={value}" for key, value in sorted(options.items()))


def setting_identity(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The identity without the seed: what several seeds of one setting are averaged over.

    A seeded backend (the chance baseline) also records the run seed in its fingerprint; that copy goes too,
    or no two seeds of its runs would ever be one setting.
    """
    setting = {key: value for key, value in identity.items() if key != "seed"}
    model = dict(identity.get("model") or {})
    fingerprint = model.get("fingerprint")
    if isinstance(fingerprint, Mapping) and "seed" in fingerprint and fingerprint["seed"] == identity.get("seed"):
        model["fingerprint"] = {key: value for key, value in fingerprint.items() if key != "seed"}
    setting["model"] = model
    return setting


def model_identity(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The model side alone (backend, identity model args, fingerprint, decoding policy): what tells two
    models apart in tables. Take it from a setting identity so that seeds do not split one model in two."""
    return dict(identity.get("model") or {})


def task_identity(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The identity without the model and without where the data lies (a baseline stored on another machine
    reads its data from another folder): what `compare` pairs a baseline and a candidate run by. Sample vs
    real data stays in: a run on the bundled sample measures nothing about a model."""
    data = identity.get("data") or {}
    task = {key: value for key, value in identity.items() if key != "model"}
    task["data"] = {"sample": bool(data.get("sample"))}
    return task


def identity_hash(identity: Mapping[str, Any], length: int = HASH_LENGTH) -> str:
    """A short stable hash of an identity (or any part of one): key order and spelling do not matter."""
    blob = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def fingerprint_id(fingerprint: Mapping[str, Any] | None, length: int = 12) -> str:
    """A short id of a model fingerprint: its weights hash where known (so a reader can match it against a
    checkpoint's file), else a hash of the whole; "" where nothing was recorded."""
    if not fingerprint:
        return ""
    sha = fingerprint.get("weights_sha256")
    return str(sha)[:length] if sha else identity_hash(fingerprint, length)
