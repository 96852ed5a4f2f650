"""A tiny random LLaVA 1.5 (CLIP vision tower, Llama text model)."""

from __future__ import annotations

from pathlib import Path

from kosmos_eval.tiny import clip_image_processor, save, tiny_builder
from kosmos_eval.tiny.tokenizer import llama_style_tokenizer


@tiny_builder("llava")
def build_llava(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tokenizer = llama_style_tokenizer()
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    processor = LlavaProcessor(
        image_processor=clip_image_processor(32),
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
        image_token="<image>",
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        image_token_id=image_token_id,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    return save(out_dir, model, processor, image_marker="<image>")
