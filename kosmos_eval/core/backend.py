"""The one contract every model backend fulfils, and how the registry knows a backend before it is loaded.

Backends only turn a batch of requests into numbers or text; the runner's batcher decides what goes into a
batch and in which order, so the same batching logic serves every backend. Every hook the runner may call is
declared here with a default that does nothing, so the runner never probes a backend for what it offers.

`BackendInfo` is what the registry holds: the backend's name, where its implementation lives (imported only
when a model is built, so `kosmos-eval list` and reports never import torch), its `--model-args` with their
help, which of them change only speed (never part of a run's identity), whether its outputs depend on the
run seed, and how its model is named in run folders and tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kosmos_eval.core.options import FALSE_WORDS, TRUE_WORDS
from kosmos_eval.core.registry import import_object
from kosmos_eval.core.types import Context, GenerateRequest, ImageInput, RankRequest, RankResult, Request
from kosmos_eval.errors import UserError


@dataclass(frozen=True)
class PromptBudget:
    """How much prompt a backend's model takes, for tasks whose prompts carry text of any length (WebSRC's
    page text): `max_tokens` for prompt and answer together, `count(context)` the tokens a context takes
    (images included), `prefix(text, n)` the longest start of `text` that is at most `n` tokens."""

    max_tokens: int
    count: Callable[[Context], int]
    prefix: Callable[[str, int], str]


# --device is every backend's business and never part of what a run computes
UNIVERSAL_SPEED_ONLY = frozenset({"device"})


class Backend(ABC):
    """A loaded model (or server, or baseline) that answers the two request kinds."""

    name: ClassVar[str] = "backend"

    def __init__(self, seed: int = 1234, device: str | None = None) -> None:
        """Every backend is built as `Backend(seed=..., device=..., **model_args)` (BackendInfo.create);
        its model args are the keyword arguments it declares in its BackendInfo."""
        self.seed = seed
        self.device = device

    @abstractmethod
    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        """Summed log-probability and token count of every continuation of every request."""

    @abstractmethod
    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        """Generated text per request, cut at the first stop string or end of sequence."""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What identifies the model exactly: everything that can change its numbers (weights, tokenizer,
        processor, dtype, ...). A run folder refuses to be continued by a different fingerprint."""

    def default_batch_size(self) -> int:
        """Requests per batch when the user asks for `--batch-size auto` (a start; out-of-memory halves it)."""
        return 8

    # -- optional hooks: the defaults do nothing, so every backend can be called the same way -----------------
    def check_requests(self, requests: Sequence[Request]) -> None:
        """Refuse, with one UserError line, requests this backend cannot serve, before any is sent (e.g. a
        server without prompt log-probabilities asked to rank). Called on each stage's requests."""
        return None

    def start_step(self) -> None:
        """A new step begins (runner/steps.py): forget whatever earlier steps left behind that could change this
        step's numbers, such as cached image features. A feature computed in another batch than the one this
        step would compute it in differs in the last bits, so a cache that outlives a step makes a resumed run
        differ from an uninterrupted one; each step must compute the same whatever ran before it."""
        return None

    def rendered_prompt(self, context: Context) -> str | None:
        """The prompt text exactly as the model is given it, where the backend rewrites the task's plain
        rendering (a chat template); None where it does not. Runs keep it in each record (`prompt_rendered`),
        so a record says what the model saw."""
        return None

    def prefetch(self, requests: Sequence[Request]) -> None:
        """Start preparing the inputs of upcoming requests (image decoding) while the current batch runs."""
        return None

    def reduce_memory(self) -> bool:
        """After an out-of-memory at batch size 1: shrink internal forward passes and return True, or return
        False when nothing is left to shrink (the runner then gives up)."""
        return False

    def prompt_budget(self) -> PromptBudget | None:
        """The model's context size and token counting, or None where there is no limit to respect (a baseline)
        or none is known (a server)."""
        return None

    def decoding_settings(self) -> dict[str, Any]:
        """The decoding settings in effect besides each request's own (beam width, token budget, stop strings):
        recorded in full in the summary of every run."""
        return {}

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        """One feature vector per image (for `--sampler rices`)."""
        raise UserError(f"--sampler rices needs image features, which the {self.name!r} backend does not give")


def _local_name(model_id: str) -> str:
    """A local folder goes by its name (no machine path in tables); a hub id stays whole (org/name)."""
    local = Path(model_id).expanduser()
    return local.resolve().name if local.is_absolute() or local.exists() else model_id


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: everything the runner and reporting need to know without loading it."""

    name: str
    implementation: str | type[Backend]  # a Backend subclass, or "module:Class" imported on first use
    description: str
    model_args: Mapping[str, str] = field(default_factory=dict)  # key -> help, shown by --help and errors
    speed_only_args: frozenset[str] = frozenset()  # model args that change speed, never results
    # true/false model args: any accepted spelling (True, yes, 1) stands in the run identity as true / false, so
    # `chat_template=True` and `chat_template=true` are one run folder and one leaderboard row
    flag_args: frozenset[str] = frozenset()
    seeded: bool = False  # outputs depend on the run seed: a sweep builds one backend per seed
    model_arg: str | None = None  # the model arg naming the model ("pretrained", "model")
    default_model: str | None = None  # the model when `model_arg` is not given (else the backend's name)
    model_may_be_folder: bool = False  # the model arg may name a local folder (shown by its name in tables)
    check_args: Callable[[Mapping[str, str]], None] | None = None  # extra validation of the model args
    # whether the device asked for (--device or --model-args device=) exists here, checked without loading
    check_device: Callable[[str | None], None] | None = None
    # refuses, in one line and before the model loads, a task the model cannot take (a text-only checkpoint asked
    # for a task that shows images): called with the model args, the task's name and whether its examples carry
    # images; None where the backend takes every task
    check_task: Callable[[Mapping[str, str], str, bool], None] | None = None
    # the parts of `Backend.fingerprint()` knowable without loading the model (files of a local folder), so a
    # finished run can still notice a changed model; None where nothing is (the default)
    static_fingerprint: Callable[[Mapping[str, str]], dict[str, Any] | None] | None = None

    def backend_class(self) -> type[Backend]:
        if not self.implementation:  # not registered: the registry says so, with the known names
            from kosmos_eval.core.registry import BACKENDS

            BACKENDS.get(self.name)
        if isinstance(self.implementation, str):
            return import_object(self.implementation)
        return self.implementation

    def validate(self, model_args: Mapping[str, str]) -> None:
        unknown = sorted(set(model_args) - set(self.model_args) - UNIVERSAL_SPEED_ONLY)
        if unknown:
            known = ", ".join(self.model_args) or "none"
            raise UserError(f"--model-args: unknown key {unknown[0]!r} for --model {self.name} (known: {known})")
        if self.check_args is not None:
            self.check_args(model_args)

    def check(self, model_args: Mapping[str, str], device: str | None) -> None:
        """Everything about the model args and the device that can fail without loading the model: run also
        when a finished run has nothing left to compute, so a typo or a missing GPU is never "successful"."""
        self.validate(model_args)
        if self.check_device is not None:
            self.check_device(device)

    def check_task_inputs(self, model_args: Mapping[str, str], task: str, images: bool) -> None:
        """Whether the model can take the task's prompts, as far as is known without loading it (`check_task`)."""
        if self.check_task is not None:
            self.check_task(model_args, task, images)

    def create(self, seed: int, device: str | None, model_args: Mapping[str, str]) -> Backend:
        """The loaded backend (model args checked first, so a typo fails before anything loads)."""
        self.validate(model_args)
        return self.backend_class()(seed=seed, device=device, **dict(model_args))

    def identity_args(self, model_args: Mapping[str, str]) -> dict[str, str]:
        """The model args that decide what a run computes (the speed-only ones left out)."""
        skip = self.speed_only_args | UNIVERSAL_SPEED_ONLY
        return {key: self._spelling(key, value) for key, value in sorted(model_args.items()) if key not in skip}

    def _spelling(self, key: str, value: str) -> str:
        """`value` in one spelling where `key` is a true/false arg (anything else as given)."""
        if key in self.flag_args and value.lower() in TRUE_WORDS + FALSE_WORDS:
            return "true" if value.lower() in TRUE_WORDS else "false"
        return value

    def model_id(self, model_args: Mapping[str, str]) -> str:
        """The model as given (hub id, folder, server model name), for run folder names."""
        if self.model_arg and model_args.get(self.model_arg):
            return str(model_args[self.model_arg])
        return self.default_model or self.name

    def model_name(self, model_args: Mapping[str, str]) -> str:
        """How the model goes by in tables: a local folder by its name, anything else as given."""
        model = self.model_id(model_args)
        return _local_name(model) if self.model_may_be_folder else model


def fingerprint_changes(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between two model fingerprints, in words. Only keys both have are compared, so a
    fingerprint computed without loading the model (`BackendInfo.static_fingerprint`) compares with a full
    one, and a key an older harness did not record is not a change. `files` (name -> hash) is compared file
    by file, so the refusal can say "tokenizer.json changed"."""
    changes = []
    for key in sorted(set(before) & set(now)):
        if key == "files" and isinstance(before[key], Mapping) and isinstance(now[key], Mapping):
            old, new = before[key], now[key]
            changes += [f"{name} changed" for name in sorted(set(old) & set(new)) if old[name] != new[name]]
            changes += [f"{name} added" for name in sorted(set(new) - set(old))]
            changes += [f"{name} removed" for name in sorted(set(old) - set(new))]
        elif before[key] != now[key]:
            changes.append(f"{key} {before[key]!r} -> {now[key]!r}")
    return changes
