"""The protocol, not the checkpoint, decides how text is decoded.

transformers' `generate` fills every setting a call leaves open from the checkpoint's generation_config.json,
and instruct checkpoints ship preferences there: repetition penalties, n-gram blocking, sampling with a
temperature and top-p, suppressed or biased tokens, minimum lengths. Left in, they change which token is chosen,
so the same weights answer differently from one checkpoint packaging to the next, and no longer follow the
paper's protocol (greedy, or beam search of the template's width). By default (`generation_config=protocol`)
the model's generation config is therefore replaced, once at load time, by one that keeps only what defines
the model's own format: its special token ids (begin, end, padding, the decoder's start) and the tokens an
encoder-decoder must emit first or last (Florence-2 forces `<s>` after its start token). Everything else is
transformers' neutral default; each request then sets greedy or its beam width and its token budget from the
template's `decoding:` block. `--model-args generation_config=checkpoint` keeps the checkpoint's settings.
The summary records the settings in effect, in full.
"""

from __future__ import annotations

from typing import Any

POLICIES = ("protocol", "checkpoint")
# what a checkpoint's generation config may keep under the protocol: the model's format, not preferences
STRUCTURAL = (
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "decoder_start_token_id",
    "forced_bos_token_id",
    "forced_eos_token_id",
)


def protocol_config(checkpoint: Any) -> Any:
    """A generation config with only the checkpoint's structural settings (see the module docstring)."""
    from transformers import GenerationConfig

    kept = {name: getattr(checkpoint, name, None) for name in STRUCTURAL} if checkpoint is not None else {}
    return GenerationConfig(**{name: value for name, value in kept.items() if value is not None})


def settings(config: Any) -> dict[str, Any]:
    """The generation settings that differ from transformers' defaults (what decides decoding besides the
    request's beam width and token budget)."""
    if config is None:
        return {}
    return {k: v for k, v in sorted(config.to_diff_dict().items()) if k != "transformers_version"}
