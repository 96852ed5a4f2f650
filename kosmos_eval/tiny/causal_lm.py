"""Tiny random text-only language models, one per model type the causal-LM family declares
(backends/hf/families/causal_lm.py): `kosmos-eval tiny-model llama DIR`, `... gpt2 DIR`, `... gemma2 DIR`.

Two layers, width 64, built from the transformers config of the type with the tiny tokenizers (tokenizer.py):
the Llama-style one (adds <s> in front) for every type but GPT-2, which gets a byte-level BPE that adds nothing,
as GPT-2's own does. `causal_lm` (the family's name, which the conformance suite builds) is the Llama one. The
types with a sliding window get one shorter than the suite's prompts, so the window changes the numbers and a
packing that dropped it would be caught.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kosmos_eval.tiny import chat_template, tiny_builder
from kosmos_eval.tiny.tokenizer import byte_level_tokenizer, llama_style_tokenizer

WINDOW = 8  # sliding window of the types that have one (tokens)


def _config(model_type: str, tokenizer: Any) -> Any:
    from transformers import AutoConfig

    # wide enough logits that a random model's argmax is not decided by float noise
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id, "initializer_range": 0.2}
    if model_type == "gpt2":  # GPT-2's own names for the sizes; no padding token, as GPT-2 has none
        return AutoConfig.for_model(
            "gpt2", vocab_size=len(tokenizer), n_embd=64, n_layer=2, n_head=4, n_positions=1024, **ids
        )
    sizes: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 1024,
        "pad_token_id": tokenizer.pad_token_id,
        "tie_word_embeddings": False,
        **ids,
    }
    if model_type in ("mistral", "gemma2", "gemma3_text"):
        sizes["sliding_window"] = WINDOW
    if model_type == "gemma3_text":  # one local layer, one global, as Gemma 3 alternates them
        sizes["layer_types"] = ["sliding_attention", "full_attention"]
    return AutoConfig.for_model(model_type, **sizes)


def build_text_model(model_type: str, out_dir: Path, seed: int = 0) -> Path:
    """A tiny random `AutoModelForCausalLM` of `model_type` and its tokenizer, saved to `out_dir`."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = byte_level_tokenizer() if model_type == "gpt2" else llama_style_tokenizer(extra_tokens=())
    config = _config(model_type, tokenizer)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval()
    if model_type != "gpt2":  # instruct checkpoints of these types ship a chat template; GPT-2 has none
        tokenizer.chat_template = chat_template("")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def _register(*names: str, model_type: str) -> None:
    tiny_builder(*names)(lambda out_dir, seed=0: build_text_model(model_type, out_dir, seed))


_register("causal_lm", "llama", model_type="llama")
for _type in ("mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "gpt2"):
    _register(_type, model_type=_type)
