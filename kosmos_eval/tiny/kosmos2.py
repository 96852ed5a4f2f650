"""A tiny random Kosmos-2 (2 layers, width 64, 32-pixel images, 8 image slots).

The harness takes the slot count from the model's `latent_query_num`. Kosmos2Processor's own default of 64
slots is a class attribute that its saved config cannot change, so calling this checkpoint's processor
directly needs `num_image_tokens=8` (as tests/test_hf_parity.py does); 64 slots would make every test
sequence eight times longer.
"""

from __future__ import annotations

from pathlib import Path

from kosmos_eval.tiny import clip_image_processor, save, tiny_builder
from kosmos_eval.tiny.tokenizer import xlmr_tokenizer


@tiny_builder("kosmos2")
def build_kosmos2(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import Kosmos2Config, Kosmos2ForConditionalGeneration, Kosmos2Processor

    processor = Kosmos2Processor(
        image_processor=clip_image_processor(32), tokenizer=xlmr_tokenizer(), num_patch_index_tokens=16
    )
    config = Kosmos2Config(
        text_config={
            "vocab_size": len(processor.tokenizer),
            "embed_dim": 64,
            "layers": 2,
            "attention_heads": 4,
            "ffn_dim": 128,
            "max_position_embeddings": 512,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        latent_query_num=8,
    )
    torch.manual_seed(seed)
    model = Kosmos2ForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)
