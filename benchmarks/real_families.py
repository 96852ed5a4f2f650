"""LLaVA-1.5-7B- and Qwen2.5-VL-7B-shaped models with random weights, built in memory (nothing downloaded).

The shapes are the public checkpoints' configs: LLaVA 1.5 is CLIP ViT-L/14 at 336 pixels (576 image tokens)
before a 32-layer 4096-wide Llama with a 32,064-token head; Qwen2.5-VL-7B a 32-block 1280-wide windowed
vision tower (14-pixel patches merged 2x2) before a 28-layer 3584-wide text model with grouped-query attention
(4 KV heads) and a 152,064-token head. Tokenizers are the small ones of kosmos_eval/tiny, image processors
the families' PIL ones; the heads keep their full vocabulary, so they cost what they really cost. `tiny=True`
builds the same classes at kosmos_eval/tiny's shapes on the CPU, so the --tiny smoke test runs this code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kosmos_eval.errors import UserError

QWEN_IMAGE_PIXELS = 224 * 224  # every benchmark image becomes 16 x 16 patches: 64 image tokens


def llava(tiny: bool) -> tuple[Any, Any, Any]:
    """(model class, config, processor) of LLaVA 1.5 7B's shape, or kosmos_eval/tiny's."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    from kosmos_eval.tiny import clip_image_processor
    from kosmos_eval.tiny.tokenizer import llama_style_tokenizer

    tokenizer = llama_style_tokenizer()
    image, patch = (32, 8) if tiny else (336, 14)
    processor = LlavaProcessor(
        image_processor=clip_image_processor(image),
        tokenizer=tokenizer,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
    )
    vision = (
        {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
        if tiny
        else {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16}
    )
    text = (
        {"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}
        | {"num_attention_heads": 4, "num_key_value_heads": 4}
        if tiny
        else {"vocab_size": 32064, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32}
        | {"num_attention_heads": 32, "num_key_value_heads": 32}
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**vision, image_size=image, patch_size=patch),
        text_config=LlamaConfig(
            **text,
            max_position_embeddings=4096,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1 if tiny else -2,
    )
    return LlavaForConditionalGeneration, config, processor


def qwen2_5_vl(tiny: bool) -> tuple[Any, Any, Any]:
    """(model class, config, processor) of Qwen2.5-VL 7B's shape, or kosmos_eval/tiny's."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2Tokenizer,
        Qwen2VLImageProcessorPil,
    )

    from kosmos_eval.backends.hf.loading import without_video
    from kosmos_eval.tiny import qwen as tiny_qwen

    tokenizer = tiny_qwen._tokenizer(Qwen2Tokenizer, tiny_qwen.QWEN_TOKENS)
    patch, merge = (tiny_qwen.PATCH, tiny_qwen.MERGE) if tiny else (14, 2)
    pixels = {"shortest_edge": 16 * 16, "longest_edge": 64 * 64} if tiny else {"shortest_edge": QWEN_IMAGE_PIXELS}
    if not tiny:
        pixels["longest_edge"] = QWEN_IMAGE_PIXELS
    image_processor = Qwen2VLImageProcessorPil(size=pixels, patch_size=patch, merge_size=merge, temporal_patch_size=2)
    processor = without_video(Qwen2_5_VLProcessor)(image_processor=image_processor, tokenizer=tokenizer)
    if tiny:
        vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 4, "fullatt_block_indexes": [1]}
        text = {**tiny_qwen.TEXT, "vocab_size": len(tokenizer)}
        rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}
    else:
        vision = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16}
        vision["fullatt_block_indexes"] = [7, 15, 23, 31]
        text = {"vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28}
        text |= {"num_attention_heads": 28, "num_key_value_heads": 4, "max_position_embeddings": 32768}
        rope = {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}
    config = Qwen2_5_VLConfig(
        vision_config={
            **vision,
            "patch_size": patch,
            "spatial_merge_size": merge,
            "temporal_patch_size": 2,
            "out_hidden_size": text["hidden_size"],
            "window_size": (2 * merge * patch) if tiny else 112,
        },
        text_config={
            **text,
            "rope_parameters": rope,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": None,
        },
        **tiny_qwen._qwen_ids(tokenizer),
    )
    config.eos_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    return Qwen2_5_VLForConditionalGeneration, config, processor


SHAPES: dict[str, Callable[[bool], tuple[Any, Any, Any]]] = {"llava": llava, "qwen2_5_vl": qwen2_5_vl}


def build_backend(family: str, tiny: bool, seed: int) -> Any:
    """The real HFBackend around the family's random-weight model (bf16 on the GPU, or tiny fp32 on CPU)."""
    from kosmos_eval.backends.hf.backend import HFBackend
    from kosmos_eval.backends.hf.families import families
    from kosmos_eval.backends.hf.loading import LoadedModel

    if not tiny and not torch.cuda.is_available():
        raise UserError("no CUDA GPU is visible: run the real-size benchmark on the GPU machine, or add --tiny")
    model_class, config, processor = SHAPES[family](tiny)
    device, dtype = ("cpu", torch.float32) if tiny else ("cuda", torch.bfloat16)
    torch.manual_seed(seed)
    with torch.device(device):
        model = model_class._from_config(config, dtype=dtype)
    model.eval()
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    return HFBackend.from_loaded(
        LoadedModel(
            model=model,
            processor=processor,
            family=families()[family],
            model_type=config.model_type,
            pretrained=f"random-{family}{'-tiny' if tiny else ''}",
            revision=None,
            weights_sha256=None,
            dtype=str(dtype).replace("torch.", ""),
            device=device,
        )
    )
