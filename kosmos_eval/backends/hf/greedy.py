"""When an adapter's own greedy loop over left-padded rows may stand in for transformers' `generate`.

transformers' `generate` numbers some families' positions by counting tokens, so with left padding every
generated token would get a position shifted by the row's padding, and prompts of different lengths (every
VQA question) could only be batched by equal length. Families that declare `padded_greedy` have a loop that
gives every token the position it has in its own unpadded sequence, masks the padding out of attention and
keeps a KV cache, so each row decodes exactly as it would alone (families/kosmos2.py).

Only plain greedy decoding is done there. Where the checkpoint's generation config asks for anything that
changes the choice of token (repetition penalties, n-gram blocking, forced or suppressed tokens), `supported`
is False and the backend keeps transformers' `generate` with equal-length batches.
"""

from __future__ import annotations

from kosmos_eval.backends.hf.adapters import Adapter

NEUTRAL = {
    "repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "encoder_no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
}


def supported(adapter: Adapter) -> bool:
    """Whether the adapter's loop decodes exactly what `generate(do_sample=False, num_beams=1)` would."""
    if not adapter.family.padded_greedy:
        return False
    config = adapter.generation_config
    return config is None or all(getattr(config, name, None) in allowed for name, allowed in NEUTRAL.items())
