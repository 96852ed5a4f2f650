"""The transformers backend. Registered here without importing torch or transformers: the implementation
(backend.HFBackend) is imported only when a model is actually loaded, so `kosmos-eval list`, reports and the
chance baseline start fast."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kosmos_eval.backends.hf import decoding
from kosmos_eval.backends.hf.files import static_fingerprint
from kosmos_eval.backends.hf.loading import DTYPES, resolve_device
from kosmos_eval.backends.hf.text_only import refuse_image_task
from kosmos_eval.config import DEFAULT_MODEL_ID
from kosmos_eval.core.backend import BackendInfo
from kosmos_eval.core.options import OptionReader
from kosmos_eval.core.registry import register_backend
from kosmos_eval.errors import UserError

MODEL_ARGS = {
    "pretrained": f"hub id or local folder (default {DEFAULT_MODEL_ID})",
    "revision": "hub revision (branch, tag or commit)",
    "dtype": "float32 | bfloat16 | float16 | auto (bf16 on GPU, fp32 on CPU; default auto)",
    "device": "cpu | cuda | cuda:N | auto (default: --device, else auto)",
    "trust_remote_code": "true to allow custom model code from the hub (default false)",
    "device_map": "auto (or balanced, sequential): spread a model too large for one GPU over all visible GPUs",
    "attn_implementation": "eager | sdpa | flash_attention_2 (default: transformers' choice; packing needs eager/sdpa)",
    "generation_config": "protocol (default: decoding as the task's template says, the checkpoint's preferences "
    "such as repetition penalties and sampling dropped) | checkpoint (keep generation_config.json's settings)",
    "chat_template": "true: render prompts through the checkpoint's chat template, for instruct checkpoints "
    "(default false: the paper's plain interleaved text; docs/models.md)",
    "packing": "true | false: score ranking continuations in shared-prefix packs (default true where supported)",
    "decode_loop": "harness (default: the harness's own greedy and beam loops, prompts of any length in one "
    "batch, where the family has them and the generation config allows) | generate (transformers' generate, "
    "equal-length batches)",
    "max_pack_tokens": "longest packed sequence (default 1024 on GPU, 512 on CPU)",
    "max_forward_tokens": "tokens (batch x padded length) per forward pass (default 32768 on GPU, 4096 on CPU)",
    "padding_side": "left | right: where packed rows are padded (results do not depend on it; default right)",
    "image_workers": "background threads decoding images ahead of the model (default 4; 0 = none)",
}


@dataclass(frozen=True)
class HFArgs:
    """The typed model args that do not name files: read before the model loads (a typo costs a second, not a
    checkpoint load) and again when a finished run has nothing left to compute."""

    trust_remote_code: bool
    image_workers: int
    chat_template: bool
    generation_policy: str
    packing: bool
    decode_loop: str
    max_pack_tokens: int | None
    max_forward_tokens: int | None
    padding_side: str


def read_model_args(model_args: Mapping[str, str]) -> HFArgs:
    """Every typed hf model arg, checked; one UserError line naming the key and value otherwise."""
    from kosmos_eval.backends.hf.loading import missing_folder

    missing = missing_folder(model_args.get("pretrained", ""))
    if missing is not None:  # a mistyped folder, said before any run starts (a suite's first, a scorer's start)
        raise missing
    args = OptionReader(model_args, "--model-args")
    dtype = model_args.get("dtype", "auto")
    if dtype not in DTYPES:
        raise UserError(f"--model-args dtype={dtype!r}: expected one of {', '.join(DTYPES)}")
    return HFArgs(
        trust_remote_code=args.flag_value("trust_remote_code", False),
        image_workers=args.integer("image_workers", 4, minimum=0),
        chat_template=args.flag_value("chat_template", False),
        generation_policy=args.choice("generation_config", decoding.POLICIES),
        packing=args.flag_value("packing", True),
        decode_loop=args.choice("decode_loop", ("harness", "generate")),
        max_pack_tokens=args.optional_integer("max_pack_tokens"),
        max_forward_tokens=args.optional_integer("max_forward_tokens"),
        padding_side=args.choice("padding_side", ("right", "left")),
    )


def check_task(model_args: Mapping[str, str], task: str, images: bool) -> None:
    """A task that shows images, asked of a text-only checkpoint whose config is at hand: refused before loading."""
    refuse_image_task(model_args, task, images, DEFAULT_MODEL_ID)


HF = register_backend(
    BackendInfo(
        name="hf",
        implementation="kosmos_eval.backends.hf.backend:HFBackend",
        description="transformers checkpoints: Kosmos-2 and the declared model families (hub id or folder)",
        model_args=MODEL_ARGS,
        # equal results with and without them (packing and batching are pinned to the naive computation by tests)
        speed_only_args=frozenset(
            {
                "device_map",
                "packing",
                "decode_loop",
                "max_pack_tokens",
                "max_forward_tokens",
                "padding_side",
                "image_workers",
            }
        ),
        flag_args=frozenset({"trust_remote_code", "chat_template"}),
        model_arg="pretrained",
        default_model=DEFAULT_MODEL_ID,
        model_may_be_folder=True,
        static_fingerprint=static_fingerprint,
        check_args=read_model_args,
        check_device=resolve_device,
        check_task=check_task,
    )
)
