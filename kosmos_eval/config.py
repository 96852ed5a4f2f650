"""One frozen description of a run: what the CLI parses, what the runner executes, what summary.json records."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kosmos_eval.core.redact import redact
from kosmos_eval.errors import UserError

if TYPE_CHECKING:
    from kosmos_eval.core.backend import BackendInfo

DEFAULT_MODEL_ID = "microsoft/kosmos-2-patch14-224"


def parse_model_args(text: str | None) -> dict[str, str]:
    """Parse `k=v,k=v` (the lm-eval convention). Values stay strings; backends convert what they read."""
    if not text:
        return {}
    args: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise UserError(
                f"--model-args: {redact(item)!r} is not key=value (example: pretrained=PATH,dtype=bfloat16)"
            )
        key, value = item.split("=", 1)
        key = key.strip()
        if key in args:
            raise UserError(f"--model-args: {key!r} is given twice")
        args[key] = value.strip()
    return args


def parse_batch_size(text: str | int) -> int | None:
    """`auto` -> None (the backend's start size, halved on out-of-memory), otherwise a positive int."""
    if isinstance(text, int):
        value = text
    elif str(text).strip().lower() == "auto":
        return None
    else:
        try:
            value = int(text)
        except ValueError:
            raise UserError(f"--batch-size must be a positive integer or 'auto', got {text!r}") from None
    if value < 1:
        raise UserError(f"--batch-size must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class RunConfig:
    task: str
    shots: int = 0
    split: str | None = None
    backend: str = "hf"
    model_args: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None
    limit: int | None = None
    seed: int = 1234
    output_dir: str = "runs"
    batch_size: int | None = None  # None = auto
    device: str | None = None
    task_options: dict[str, str] = field(default_factory=dict)
    sampler: str = "random"  # few-shot demo sampler (kosmos_eval.fewshot.SAMPLERS)
    example_ids: tuple[str, ...] | None = None  # a fixed slice (suite files): only these examples, in this order
    sample: bool = False  # --sample: the task's bundled synthetic sample instead of real data

    def identity(self, prompt_hash: str, split: str, on_sample: bool = False) -> dict[str, Any]:
        """The fields that decide what a run computes. Same identity -> same run folder -> resume.

        `limit`, `example_ids`, batch size, device, the backend's speed-only model args and the output folder
        are left out on purpose: they change how much or how fast is computed, not what each record holds, so a
        run can be extended or resumed on another machine. `on_sample`: the data is the bundled sample (asked
        for with --sample, or a task's fallback), which a run on real data must never resume.
        """
        identity = {
            "task": self.task,
            "split": split,
            "shots": self.shots,
            "seed": self.seed,
            "backend": self.backend,
            "model_args": self.backend_info().identity_args(self.model_args),
            "data_dir": str(Path(self.data_dir).resolve()) if self.data_dir else None,
            "task_options": dict(sorted(self.task_options.items())),
            "prompt_hash": prompt_hash,
        }
        if self.shots > 0:  # zero-shot runs draw no demos: their identity (and folder) ignores the sampler
            identity["sampler"] = self.sampler
        if on_sample:  # a run on the bundled sample never shares a folder with one on real data
            identity["data"] = "bundled sample"
        return identity

    @staticmethod
    def identity_hash(identity: dict[str, Any]) -> str:
        blob = json.dumps(identity, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def backend_info(self) -> BackendInfo:
        """The registered backend this run uses (what its model args mean, which change only speed). A name
        nobody registered is a backend object handed to `evaluate()` by a program: it has no model args of
        its own (building one by that name fails with the registry's error)."""
        import kosmos_eval.backends  # noqa: F401  (registers the backends)
        from kosmos_eval.core.backend import BackendInfo
        from kosmos_eval.core.registry import BACKENDS

        if self.backend in BACKENDS:
            return BACKENDS.get(self.backend)
        return BackendInfo(name=self.backend, implementation="", description="a backend given to evaluate()")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
