"""Tiny random Florence-2 (DaViT vision tower, BART encoder-decoder) and Kosmos-2.5 (Pix2Struct-style patch
encoder, latent-query resampler, Kosmos text decoder). Two layers, width 64 (Kosmos-2.5's patch encoder: one),
Florence-2 with 32-pixel images (17 image tokens), Kosmos-2.5 with 8 latent image slots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kosmos_eval.tiny import save, tiny_builder
from kosmos_eval.tiny.tokenizer import unigram


def _tokenizer(named: dict[str, str], plain: list[str]) -> Any:
    """The tiny Unigram pieces as a tokenizer that adds no special tokens of its own (both processors write
    `<s>` / `</s>` themselves), with the family's tokens, `named` ones also as the attributes its processor
    reads (`tokenizer.image_token`, `tokenizer.boi_token`, ...)."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=unigram(),
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
        extra_special_tokens=dict(named),
    )
    tokenizer.add_special_tokens({"additional_special_tokens": plain}, replace_extra_special_tokens=False)
    return tokenizer


@tiny_builder("florence2")
def build_florence2(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        BartConfig,
        CLIPImageProcessorPil,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
        Florence2VisionConfig,
    )

    tokenizer = _tokenizer({"image_token": "<image>"}, ["<image>"])
    # 32 pixels -> 8 x 8 after the first stage (stride 4), 4 x 4 after the second: 16 spatial tokens and one
    # temporal (mean) token, as Florence-2 gives 24 x 24 + 1 = 577 for 768 pixels
    image_processor = CLIPImageProcessorPil(
        size={"height": 32, "width": 32},
        crop_size={"height": 32, "width": 32},
        do_center_crop=False,
        image_seq_length=17,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)
    text = BartConfig(
        vocab_size=len(tokenizer),
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=256,
        dropout=0.0,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
        init_std=0.2,  # wide enough logits that a random model's argmax is not decided by float noise
    )
    vision = Florence2VisionConfig(
        depths=(1, 1),
        patch_size=(7, 3),
        patch_stride=(4, 2),
        patch_padding=(3, 1),
        patch_prenorm=(False, True),
        embed_dim=(16, 32),
        num_heads=(2, 4),
        num_groups=(2, 4),
        window_size=2,
        drop_path_rate=0.0,
        projection_dim=64,
        max_position_embeddings=16,
    )
    config = Florence2Config(text_config=text, vision_config=vision, image_token_id=processor.image_token_id)
    torch.manual_seed(seed)
    model = Florence2ForConditionalGeneration(config).eval()
    # Florence-2's own generation settings: the decoder starts with </s>, then <s> is forced, no 3-gram repeats
    generation = model.generation_config
    generation.decoder_start_token_id = tokenizer.eos_token_id
    generation.bos_token_id = tokenizer.bos_token_id
    generation.eos_token_id = tokenizer.eos_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    generation.forced_bos_token_id = tokenizer.bos_token_id
    generation.forced_eos_token_id = tokenizer.eos_token_id
    generation.no_repeat_ngram_size = 3
    return save(out_dir, model, processor)


@tiny_builder("kosmos2_5")
def build_kosmos2_5(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Kosmos2_5Config,
        Kosmos2_5ForConditionalGeneration,
        Kosmos2_5ImageProcessorPil,
        Kosmos2_5Processor,
    )

    # Kosmos-2.5 reserves image slots with <s> between <image> and </image>
    tokenizer = _tokenizer(
        {"boi_token": "<image>", "eoi_token": "</image>", "image_token": "<s>"}, ["<image>", "</image>"]
    )
    # 4 x 4 patches (Kosmos-2.5: 16 x 16); the processor asks for up to 4096 of them, as for real checkpoints
    image_processor = Kosmos2_5ImageProcessorPil(patch_size={"height": 4, "width": 4})
    processor = Kosmos2_5Processor(image_processor=image_processor, tokenizer=tokenizer, num_image_tokens=8)
    config = Kosmos2_5Config(
        text_config={
            "vocab_size": len(tokenizer),
            "embed_dim": 64,
            "layers": 2,
            "ffn_dim": 128,
            "attention_heads": 4,
            "max_position_embeddings": 512,
            "dropout": 0.0,
            "init_std": 0.2,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "tie_word_embeddings": False,
        },
        vision_config={
            "hidden_size": 32,
            "patch_embed_hidden_size": 4 * 4 * 3,
            "intermediate_size": 64,
            "head_dim": 8,
            # one layer, one head: the processor always gives 4096 patches (padding included), and
            # attention over them is what makes a tiny Kosmos-2.5 slow
            "num_hidden_layers": 1,
            "num_attention_heads": 1,
            "max_num_patches": 4096,
        },
        latent_query_num=8,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Kosmos2_5ForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)
