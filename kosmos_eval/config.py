"""One frozen description of a run: what the CLI parses, what the runner executes, what summary.json records."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
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
    return parse_pairs(text, "--model-args", "pretrained=PATH,dtype=bfloat16")


def parse_pairs(text: str | None, flag: str, example: str) -> dict[str, str]:
    """`k=v,k=v` -> {k: v} for `flag`; a key given twice or an item without `=` is one line naming it."""
    if not text:
        return {}
    args: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise UserError(f"{flag}: {redact(item)!r} is not key=value (example: {example})")
        key, value = item.split("=", 1)
        key = key.strip()
        if key in args:
            raise UserError(f"{flag}: {key!r} is given twice")
        args[key] = value.strip()
    return args


# What `--gen-kwargs` may set: the decoding settings every backend honours per request (GenerateRequest's beam
# width, token budget and beam length penalty). The first two are whole numbers of at least 1.
GEN_KWARGS = {
    "max_new_tokens": "tokens generated at most",
    "num_beams": "beam search width (1 = greedy)",
    "length_penalty": "beam search: a hypothesis's log-probability / length ** length_penalty (default 1.0)",
}
_NOT_SAMPLED = "decoding is greedy or beam search, never sampled, as in the paper"
_TEMPLATE_STOPS = "stop strings come from the task's template, which its post-processing and re-scoring also read"
# keys lm-evaluation-harness users pass that the backends do not honour per request: why, in one line
UNSUPPORTED_GEN_KWARGS = {
    **dict.fromkeys(("do_sample", "temperature", "top_p", "top_k"), _NOT_SAMPLED),
    **dict.fromkeys(("until", "stop"), _TEMPLATE_STOPS),
}
# ...except where the value asks for what the protocol does anyway (lm-eval commands often carry them): no-ops
ALREADY_SO = {"do_sample": ("false", "0"), "temperature": ("0", "0.0")}


def parse_gen_kwargs(text: str | None) -> dict[str, int | float]:
    """`--gen-kwargs k=v,k=v` (lm-evaluation-harness's spelling) -> the decoding settings laid over a generation
    task's template. Unknown keys and bad values are refused here, before any data or model loads, because a
    setting a backend silently ignored would label a run as changed when nothing changed."""
    settings: dict[str, int | float] = {}
    for key, value in parse_pairs(text, "--gen-kwargs", "max_new_tokens=20,num_beams=5").items():
        if value.lower() in ALREADY_SO.get(key, ()):
            continue
        if key in UNSUPPORTED_GEN_KWARGS:
            raise UserError(f"--gen-kwargs {key}={value} is not supported: {UNSUPPORTED_GEN_KWARGS[key]}")
        if key not in GEN_KWARGS:
            raise UserError(f"--gen-kwargs: unknown key {key!r} (known: {', '.join(GEN_KWARGS)})")
        if key == "length_penalty":
            settings[key] = _finite(key, value)
            continue
        number = int(value) if value.isascii() and value.isdigit() else 0
        if number < 1:
            raise UserError(f"--gen-kwargs {key} must be a whole number of at least 1, got {value!r}")
        settings[key] = number
    return settings


def _finite(key: str, value: str) -> float:
    """A finite number (any sign: transformers accepts negative penalties, which favour short hypotheses)."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise UserError(f"--gen-kwargs {key} must be a finite number, got {value!r}")
    return number


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
    # a task that reads its bundled sample when no data is configured (Raven) may do so; false in a suite given
    # a data root, where such a task without its folder reads its hub copy like every other task
    sample_fallback: bool = True
    gen_kwargs: dict[str, int | float] = field(default_factory=dict)  # --gen-kwargs: laid over the template's decoding

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
        if self.gen_kwargs:  # only when given, so every run folder made before --gen-kwargs keeps its name
            identity["gen_kwargs"] = dict(sorted(self.gen_kwargs.items()))
        return identity

    def outside_paper(self, paper_shots: Sequence[int]) -> list[str]:
        """Why this run is not one of the paper's settings ([] when it is): shots the paper does not report for
        the task, decoding changed with --gen-kwargs. Such a run is labelled and never set beside the paper's
        number, since the paper's number answers another question."""
        reasons = []
        if not paper_shots:
            reasons.append(f"{self.task} is a user task: the paper has no such task")
        elif self.shots not in paper_shots:
            reported = ", ".join(str(k) for k in paper_shots)
            reasons.append(f"--shots {self.shots}, where the paper reports {reported}")
        if self.gen_kwargs:
            given = ",".join(f"{key}={value}" for key, value in sorted(self.gen_kwargs.items()))
            reasons.append(f"--gen-kwargs {given}, where the paper decodes as prompts/{self.task}.yaml says")
        return reasons

    def setting_notes(self, paper_shots: Sequence[int]) -> list[str]:
        """The summary's note on a setting the paper does not report ([] for the paper's settings)."""
        reasons = self.outside_paper(paper_shots)
        if not reasons:
            return []
        return [f"setting: not one the paper reports ({'; '.join(reasons)}), so not compared with it"]

    def setting_label(self, paper_shots: Sequence[int]) -> dict[str, Any]:
        """The summary's fields that label the setting: `paper_setting` (false where the paper reports no such
        setting) with `why_not_paper_setting`, and the --gen-kwargs given. Readers (leaderboard, report) keep a
        run outside the paper's settings off the paper's numbers by them."""
        reasons = self.outside_paper(paper_shots)
        label: dict[str, Any] = {"paper_setting": not reasons}
        if reasons:
            label["why_not_paper_setting"] = reasons
        if self.gen_kwargs:
            label["gen_kwargs"] = dict(sorted(self.gen_kwargs.items()))
        return label

    @staticmethod
    def identity_hash(identity: dict[str, Any]) -> str:
        blob = json.dumps(identity, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def backend_info(self) -> BackendInfo:
        """The registered backend this run uses (what its model args mean, which change only speed). A name
        nobody registered is a backend object handed to `evaluate()` by a program: it has no model args of
        its own (building one by that name fails with the registry's error)."""
        from kosmos_eval.core.backend import BackendInfo
        from kosmos_eval.core.registry import BACKENDS

        if self.backend in BACKENDS:
            return BACKENDS.get(self.backend)
        return BackendInfo(name=self.backend, implementation="", description="a backend given to evaluate()")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
