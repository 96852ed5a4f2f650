"""Tiny random checkpoints of the LLaVA-style projector families: LLaVA-NeXT, LLaVA-OneVision, Aya Vision,
Mistral 3 (Pixtral vision), InternVL and LFM2-VL.

Each has a 2-layer vision tower and a 2-layer text model of width 64, a PIL image processor (no torchvision)
and the smallest image grid its processor allows: 32-pixel images with one 32x32 any-resolution tile besides
the base view (LLaVA-NeXT, LLaVA-OneVision) or one tile only (Aya Vision, InternVL); Mistral 3 keeps the test
images' own 48x40 size in 4-pixel patches, so its image_sizes are not square.
LFM2-VL's only image processor needs torchvision, so its checkpoint has the model and tokenizer only (the
family refuses before a processor is needed), and no chat template: no run could read one.
The others ship a chat template (tiny.chat_template) writing each image as the marker their processor expands,
as their real templates write it: '<image>\\n' (LLaVA-NeXT, LLaVA-OneVision), '<image>' (Aya Vision), '[IMG]'
(Mistral 3) and '<IMG_CONTEXT>\\n' (InternVL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kosmos_eval.tiny import save, tiny_builder
from kosmos_eval.tiny.tokenizer import llama_style_tokenizer, unigram

WIDTH = 64
IMAGE = 32
PATCH = 8


def _text(config_class: type, tokenizer: Any, **extra: Any) -> Any:
    return config_class(
        vocab_size=len(tokenizer),
        hidden_size=WIDTH,
        intermediate_size=2 * WIDTH,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def _vision(config_class: type, **extra: Any) -> Any:
    return config_class(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=IMAGE, **extra
    )


def _model(model_class: type, config: Any, seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    return model_class(config).eval()


@tiny_builder("llava_next")
def build_llava_next(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessorPil,
        LlavaNextProcessor,
    )

    tokenizer = llama_style_tokenizer(["<image>"])
    pinpoints = [[IMAGE, IMAGE]]  # one any-resolution tile besides the base image: the smallest grid there is
    image_processor = LlavaNextImageProcessorPil(
        size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE}, image_grid_pinpoints=pinpoints
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
        image_token="<image>",
    )
    config = LlavaNextConfig(
        vision_config=_vision(CLIPVisionConfig, patch_size=PATCH),
        text_config=_text(LlamaConfig, tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    return save(out_dir, _model(LlavaNextForConditionalGeneration, config, seed), processor, image_marker="<image>\n")


@tiny_builder("llava_onevision")
def build_llava_onevision(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        LlavaOnevisionProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )

    from kosmos_eval.backends.hf.loading import without_video

    tokenizer = llama_style_tokenizer(["<image>", "<video>"])
    pinpoints = [[IMAGE, IMAGE]]
    image_processor = LlavaOnevisionImageProcessorPil(
        size={"height": IMAGE, "width": IMAGE}, image_grid_pinpoints=pinpoints
    )
    processor = without_video(LlavaOnevisionProcessor)(
        image_processor=image_processor,
        tokenizer=tokenizer,
        num_image_tokens=(IMAGE // PATCH) ** 2,
        vision_feature_select_strategy="full",
        image_token="<image>",
        video_token="<video>",
        vision_aspect_ratio="anyres_max_9",
    )
    config = LlavaOnevisionConfig(
        vision_config=_vision(SiglipVisionConfig, patch_size=PATCH),
        text_config=_text(Qwen2Config, tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        vision_aspect_ratio="anyres_max_9",
    )
    return save(
        out_dir, _model(LlavaOnevisionForConditionalGeneration, config, seed), processor, image_marker="<image>\n"
    )


AYA_TOKENS = ["<image>", "<|START_OF_IMG|>", "<|END_OF_IMG|>", "<|IMG_PATCH|>", "<|IMG_LINE_BREAK|>"]


@tiny_builder("aya_vision")
def build_aya_vision(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        AyaVisionConfig,
        AyaVisionForConditionalGeneration,
        AyaVisionProcessor,
        Cohere2Config,
        GotOcr2ImageProcessorPil,
        SiglipVisionConfig,
    )

    tokenizer = llama_style_tokenizer(AYA_TOKENS)
    # one tile per image (the global one): max_patches=1 turns the crop into tiles off
    image_processor = GotOcr2ImageProcessorPil(
        size={"height": IMAGE, "width": IMAGE}, crop_to_patches=False, min_patches=1, max_patches=1
    )
    processor = AyaVisionProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=PATCH, img_size=IMAGE, downsample_factor=2
    )
    config = AyaVisionConfig(
        vision_config=_vision(SiglipVisionConfig, patch_size=PATCH, vision_use_head=False),
        text_config=_text(Cohere2Config, tokenizer, sliding_window=512),
        image_token_index=tokenizer.convert_tokens_to_ids("<|IMG_PATCH|>"),
        downsample_factor=2,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    return save(out_dir, _model(AyaVisionForConditionalGeneration, config, seed), processor, image_marker="<image>")


@tiny_builder("mistral3")
def build_mistral3(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        Mistral3Config,
        Mistral3ForConditionalGeneration,
        MistralConfig,
        PixtralImageProcessorPil,
        PixtralVisionConfig,
    )

    from kosmos_eval.backends.hf.families.llava_like import pixtral_processor_class

    tokenizer = llama_style_tokenizer(["[IMG]", "[IMG_BREAK]", "[IMG_END]"])
    # 4-pixel patches merged 2x2, longest edge 48: a 48x40 image keeps its size and becomes 6x5 image tokens
    # (rows ended by [IMG_BREAK], the last by [IMG_END]), so image_sizes are not square
    patch = 4
    image_processor = PixtralImageProcessorPil(size={"longest_edge": 48}, patch_size={"height": patch, "width": patch})
    processor = pixtral_processor_class()(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=patch, spatial_merge_size=2
    )
    config = Mistral3Config(
        vision_config=PixtralVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            head_dim=8,
            image_size=48,
            patch_size=patch,
        ),
        text_config=_text(MistralConfig, tokenizer, head_dim=16, sliding_window=None),
        image_token_index=tokenizer.convert_tokens_to_ids("[IMG]"),
        spatial_merge_size=2,
        vision_feature_layer=-1,
    )
    return save(out_dir, _model(Mistral3ForConditionalGeneration, config, seed), processor, image_marker="[IMG]")


@tiny_builder("internvl")
def build_internvl(out_dir: Path, seed: int = 0) -> Path:
    from tokenizers import processors
    from transformers import (
        GotOcr2ImageProcessorPil,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVisionConfig,
        PreTrainedTokenizerFast,
        Qwen2Config,
    )

    from kosmos_eval.backends.hf.loading import without_video

    raw = unigram()
    raw.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 0)])
    # InternVL's processor reads its image markers from the tokenizer's named special tokens
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_special_tokens={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    )
    image_processor = GotOcr2ImageProcessorPil(
        size={"height": IMAGE, "width": IMAGE}, crop_to_patches=False, min_patches=1, max_patches=1
    )
    seq = (IMAGE // PATCH) ** 2 // 4  # downsample_ratio 0.5 merges 2x2 patches
    processor = without_video(InternVLProcessor)(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_length=seq
    )
    config = InternVLConfig(
        vision_config=InternVLVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=[IMAGE, IMAGE],
            patch_size=[PATCH, PATCH],
        ),
        text_config=_text(Qwen2Config, tokenizer),
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=seq,
        downsample_ratio=0.5,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    return save(
        out_dir, _model(InternVLForConditionalGeneration, config, seed), processor, image_marker="<IMG_CONTEXT>\n"
    )


@tiny_builder("lfm2_vl")
def build_lfm2_vl(out_dir: Path, seed: int = 0) -> Path:
    """Model and tokenizer only: LFM2-VL's image processor (Lfm2VlImageProcessor) needs torchvision, and the
    family refuses at load before any processor is built. The tokenizer carries a chat template writing the
    family's `<image>`, as real checkpoints carry one."""
    from transformers import Lfm2Config, Lfm2VlConfig, Lfm2VlForConditionalGeneration, Siglip2VisionConfig

    tokenizer = llama_style_tokenizer(["<image>", "<|image_start|>", "<|image_end|>"])
    config = Lfm2VlConfig(
        vision_config=Siglip2VisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            patch_size=PATCH,
            num_patches=16,
        ),
        text_config=Lfm2Config(
            vocab_size=len(tokenizer),
            hidden_size=WIDTH,
            intermediate_size=2 * WIDTH,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            full_attn_idxs=[1],
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        projector_hidden_size=WIDTH,
        downsample_factor=2,
    )
    model = _model(Lfm2VlForConditionalGeneration, config, seed)
    return save(out_dir, model, tokenizer, image_marker="<image>")
