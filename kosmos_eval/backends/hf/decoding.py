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


# Settings of a generation config that the harness's own loops (search.py) honour or that cannot change which
# token greedy or beam search picks: the format's ids, settings every request overrides (beam width, token
# budget, no sampling, so the sampling knobs are unused), what `generate` returns rather than decides, and the
# beam search rules the loop implements (length_penalty, early_stopping).
OWN_LOOP_IGNORES = frozenset(
    {
        "bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id",
        "max_length", "max_new_tokens", "num_beams", "do_sample", "use_cache",
        "temperature", "top_k", "top_p", "min_p", "top_h", "typical_p", "epsilon_cutoff", "eta_cutoff",
        "output_attentions", "output_hidden_states", "output_scores", "output_logits", "return_dict_in_generate",
        "length_penalty", "early_stopping", "transformers_version", "_from_model_config",
    }
)  # fmt: skip
# settings that are present but neutral (a checkpoint may write the default out)
NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "repetition_penalty": (1.0,),
    "encoder_repetition_penalty": (1.0,),
    "no_repeat_ngram_size": (0,),
    "encoder_no_repeat_ngram_size": (0,),
    "min_length": (0,),
    "min_new_tokens": (0,),
    "num_return_sequences": (1,),
    "renormalize_logits": (False,),
    "remove_invalid_values": (False,),
    "diversity_penalty": (0.0,),
    "num_beam_groups": (1,),
    "guidance_scale": (1.0,),
}


def own_loop_rules(config: Any) -> dict[str, Any] | None:
    """The beam search rules `generate` would follow under `config` ({"length_penalty", "early_stopping"}), or
    None where the config asks for something the harness's own loops do not do (a repetition penalty, n-gram
    blocking, forced or suppressed tokens, stop strings, ...): then `generate` decodes."""
    present = {} if config is None else config.to_diff_dict()
    for name, value in present.items():
        if value is not None and name not in OWN_LOOP_IGNORES and value not in NEUTRAL_VALUES.get(name, ()):
            return None
    get = (lambda name: None) if config is None else (lambda name: getattr(config, name, None))
    penalty, stopping = get("length_penalty"), get("early_stopping")
    return {
        "length_penalty": 1.0 if penalty is None else float(penalty),
        "early_stopping": False if stopping is None else stopping,
    }
