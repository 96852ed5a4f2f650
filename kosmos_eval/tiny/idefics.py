"""Tiny random Idefics-style checkpoints: Idefics2 (SigLIP, perceiver resampler, Mistral), Idefics3 and SmolVLM
(SigLIP, pixel-shuffle connector, Llama). Two layers, width 64, 4 image tokens per image (or per tile), image
splitting off (the conformance suite's 9-image contexts stay ~100 tokens; tests/conformance/idefics.py turns it
on to check the tiled layout too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kosmos_eval.tiny import save, tiny_builder
from kosmos_eval.tiny.tokenizer import llama_style_tokenizer

IMAGE_TOKENS = ["<fake_token_around_image>", "<image>", "<end_of_utterance>"]
# Idefics3 / SmolVLM also mark the global image and every tile (<row_i_col_j>, up to 6 x 6) with tokens
TILE_TOKENS = ["<global-img>"] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]


def _text_config(model_type: str, tokenizer: Any) -> dict[str, Any]:
    return {
        "model_type": model_type,
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 1024,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        # wide enough logits that a random model's argmax is not decided by float noise
        "initializer_range": 0.2,
        "tie_word_embeddings": False,
    }


def _vision_config(image_size: int) -> dict[str, Any]:
    return {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": image_size,
        "patch_size": 8,
    }


@tiny_builder("idefics2")
def build_idefics2(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Idefics2Config,
        Idefics2ForConditionalGeneration,
        Idefics2ImageProcessorPil,
        Idefics2Processor,
    )

    tokenizer = llama_style_tokenizer(extra_tokens=IMAGE_TOKENS)
    # images keep their aspect ratio between 24 and 48 pixels a side (the 48 x 40 test images stay as they
    # are), as Idefics2 keeps it between 378 and 980
    image_processor = Idefics2ImageProcessorPil(
        size={"shortest_edge": 24, "longest_edge": 48}, do_image_splitting=False
    )
    processor = Idefics2Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4)
    config = Idefics2Config(
        vision_config=_vision_config(48),
        perceiver_config={
            "hidden_size": 64,
            "rms_norm_eps": 1e-6,
            "resampler_n_latents": 4,
            "resampler_depth": 1,
            "resampler_n_heads": 2,
            "resampler_head_dim": 16,
            "num_key_value_heads": 1,
        },
        text_config=_text_config("mistral", processor.tokenizer),
        image_token_id=processor.image_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Idefics2ForConditionalGeneration(config).eval()
    return save(out_dir, model, processor, image_marker="<image>")


def _idefics3_like(out_dir: Path, seed: int, config_class: Any, model_class: Any, processor: Any) -> Path:
    import torch

    config = config_class(
        vision_config=_vision_config(32),
        text_config=_text_config("llama", processor.tokenizer),
        image_token_id=processor.image_token_id,
        scale_factor=2,  # 4 x 4 patches of a 32-pixel tile, pixel-shuffled into 4 tokens
        tie_word_embeddings=False,
        pad_token_id=processor.tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = model_class(config).eval()
    return save(out_dir, model, processor, image_marker="<image>")


def _tiling_image_processor(image_processor_class: Any) -> Any:
    # the longest edge goes to 64 pixels, tiles are 32 (Idefics3: 1456 and 364); splitting is off here
    return image_processor_class(
        size={"longest_edge": 64}, max_image_size={"longest_edge": 32}, do_image_splitting=False
    )


@tiny_builder("idefics3")
def build_idefics3(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    tokenizer = llama_style_tokenizer(extra_tokens=IMAGE_TOKENS + TILE_TOKENS)
    processor = Idefics3Processor(
        image_processor=_tiling_image_processor(Idefics3ImageProcessorPil), tokenizer=tokenizer, image_seq_len=4
    )
    return _idefics3_like(out_dir, seed, Idefics3Config, Idefics3ForConditionalGeneration, processor)


@tiny_builder("smolvlm")
def build_smolvlm(out_dir: Path, seed: int = 0) -> Path:
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessorPil

    from kosmos_eval.backends.hf.families.idefics import smolvlm_image_processor

    tokenizer = llama_style_tokenizer(extra_tokens=IMAGE_TOKENS + TILE_TOKENS)
    # SmolVLM's own processor needs a video processor (torchvision) and num2words; the image-only stand-in the
    # harness loads it with saves as "SmolVLMProcessor", as real checkpoints declare it
    processor = smolvlm_image_processor()(
        image_processor=_tiling_image_processor(SmolVLMImageProcessorPil), tokenizer=tokenizer, image_seq_len=4
    )
    return _idefics3_like(out_dir, seed, SmolVLMConfig, SmolVLMForConditionalGeneration, processor)
