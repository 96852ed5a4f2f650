"""Tiny random Gemma- and Llama-based checkpoints: PaliGemma, Gemma 3, Gemma 4, Mllama (Llama 3.2 Vision),
Llama 4. Width 64, two text layers (Mllama: three, the middle one cross-attention), 32-pixel images or tiles
with 16 image tokens (Gemma 4: at most 70, the smallest budget its processor allows), no tiling or crops.
Output heads are untied and the initialisation wider than the default (0.2), so a random model's outputs
depend on its whole input (tied and narrow, it repeats its last input token), and weights that start at zero
(Gemma 3's image projection, Mllama's cross-attention gates) are set, so images reach the text."""

from __future__ import annotations

from pathlib import Path

from kosmos_eval.tiny import save, tiny_builder
from kosmos_eval.tiny.tokenizer import llama_style_tokenizer


def named_tokenizer(plain: list[str], named: dict[str, str]):
    """The tiny Llama-style tokenizer with the family's special tokens, `named` ones also as the tokenizer
    attributes its processor reads (`tokenizer.boi_token`, `tokenizer.image_token_id`, ...); "\n" is a plain
    token, as in Gemma's and Llama's vocabularies (processors write it around images and after prompts)."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    base = llama_style_tokenizer(extra_tokens=[*plain, *named.values()])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=base.backend_tokenizer,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_special_tokens=dict(named),
    )
    tokenizer.add_tokens([AddedToken("\n", normalized=False)])
    return tokenizer


@tiny_builder("paligemma")
def build_paligemma(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from tokenizers import AddedToken
    from transformers import (
        GemmaConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessorPil,
        SiglipVisionConfig,
    )

    tokenizer = llama_style_tokenizer(extra_tokens=["<image>"])
    # "\n" is a plain token of Gemma's vocabulary, and PaliGemma's processor ends every prompt with it
    tokenizer.add_tokens([AddedToken("\n", normalized=False)])
    image_processor = SiglipImageProcessorPil(size={"height": 32, "width": 32}, image_seq_length=16)
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)  # adds <loc>/<seg> tokens
    config = PaliGemmaConfig(
        vision_config=SiglipVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
            vision_use_head=False,
        ),
        text_config=GemmaConfig(
            vocab_size=len(processor.tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=16,
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=0.2,
        ),
        image_token_index=processor.image_token_id,
        vocab_size=len(processor.tokenizer),
        projection_dim=64,
        hidden_size=64,
        # an output head of its own: tied to the embeddings, a random tiny model repeats its last input token
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = PaliGemmaForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)


@tiny_builder("gemma3")
def build_gemma3(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessorPil,
        Gemma3Processor,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    tokenizer = named_tokenizer(
        [], {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}
    )
    image_processor = Gemma3ImageProcessorPil(size={"height": 32, "width": 32}, do_pan_and_scan=False)
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_length=16)
    config = Gemma3Config(
        vision_config=SiglipVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
            vision_use_head=False,
        ),
        text_config=Gemma3TextConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            query_pre_attn_scalar=16,
            # one local layer with a window shorter than an image's 16 tokens, one global layer, as
            # Gemma 3 interleaves them
            sliding_window=12,
            layer_types=["sliding_attention", "full_attention"],
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=0.2,
        ),
        mm_tokens_per_image=16,
        boi_token_index=tokenizer.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tokenizer.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tokenizer.image_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config).eval()
    with torch.no_grad():  # initialised to zeros, which would make every image the same to the LM
        model.model.multi_modal_projector.mm_input_projection_weight.normal_(0.0, 0.2)
    return save(out_dir, model, processor, image_marker="<start_of_image>")


@tiny_builder("mllama")
def build_mllama(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        MllamaConfig,
        MllamaForConditionalGeneration,
        MllamaImageProcessorPil,
        MllamaProcessor,
        MllamaTextConfig,
        MllamaVisionConfig,
    )

    tokenizer = named_tokenizer(["<|python_tag|>"], {"image_token": "<|image|>"})
    # one 32-pixel tile per image: no tiling
    image_processor = MllamaImageProcessorPil(size={"height": 32, "width": 32}, max_image_tiles=1)
    processor = MllamaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    config = MllamaConfig(
        vision_config=MllamaVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_global_layers=1,
            attention_heads=4,
            image_size=32,
            patch_size=8,
            max_num_tiles=1,
            supported_aspect_ratios=[[1, 1]],
            intermediate_layers_indices=[0],
            vision_output_dim=64,  # hidden_size x (1 + intermediate layers)
        ),
        text_config=MllamaTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=3,  # self-attention, cross-attention (to the images), self-attention
            cross_attention_layers=[1],
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=0.2,
        ),
        image_token_index=tokenizer.image_token_id,
    )
    torch.manual_seed(seed)
    model = MllamaForConditionalGeneration(config).eval()
    with torch.no_grad():  # the gates start closed (zero), which would keep the images out of the text entirely
        for layer in model.model.language_model.layers:
            if hasattr(layer, "cross_attn_attn_gate"):
                layer.cross_attn_attn_gate.fill_(1.0)
                layer.cross_attn_mlp_gate.fill_(1.0)
    return save(out_dir, model, processor, image_marker="<|image|>")


@tiny_builder("llama4")
def build_llama4(out_dir: Path, seed: int = 0) -> Path:
    """Model and tokenizer only: Llama 4's image processor exists only for torchvision, so no processor can be
    made here; the family refuses at load (its own forward fails in this transformers), before any is read. The
    tokenizer carries a chat template writing the family's `<|image|>`, as real checkpoints carry one."""
    import torch
    from transformers import Llama4Config, Llama4ForConditionalGeneration, Llama4TextConfig, Llama4VisionConfig

    tokenizer = named_tokenizer(
        ["<|patch|>", "<|tile_x_separator|>", "<|tile_y_separator|>"],
        {"boi_token": "<|image_start|>", "eoi_token": "<|image_end|>", "image_token": "<|image|>"},
    )
    config = Llama4Config(
        vision_config=Llama4VisionConfig(
            hidden_size=32,
            intermediate_size=128,  # hidden_size / pixel_shuffle_ratio**2: the pixel-shuffled width
            num_hidden_layers=2,
            num_attention_heads=4,
            vision_output_dim=64,
            image_size=32,
            patch_size=8,
            projector_input_dim=64,
            projector_output_dim=64,
        ),
        text_config=Llama4TextConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            intermediate_size_mlp=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            num_local_experts=2,
            attention_chunk_size=16,
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        boi_token_index=tokenizer.boi_token_id,
        eoi_token_index=tokenizer.eoi_token_id,
        image_token_index=tokenizer.image_token_id,
    )
    torch.manual_seed(seed)
    model = Llama4ForConditionalGeneration(config).eval()
    return save(out_dir, model, tokenizer, image_marker="<|image|>")


@tiny_builder("gemma4")
def build_gemma4(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Gemma4Config,
        Gemma4ForConditionalGeneration,
        Gemma4ImageProcessorPil,
        Gemma4TextConfig,
        Gemma4VisionConfig,
    )
    from transformers.models.gemma4.feature_extraction_gemma4 import Gemma4AudioFeatureExtractor

    from kosmos_eval.backends.hf.families.gemma import gemma4_image_processor

    tokenizer = named_tokenizer(
        [],
        {
            "boi_token": "<|image>",
            "eoi_token": "<image|>",
            "image_token": "<|image|>",
            "boa_token": "<|audio>",
            "eoa_token": "<audio|>",
            "audio_token": "<|audio|>",
        },
    )
    # 4-pixel patches pooled 2x2, the smallest soft-token budget the processor allows (70): an image becomes
    # at most 70 tokens, its aspect ratio kept. (Without pooling, kernel 1, Gemma4VisionModel keeps the padding
    # patches instead of the real ones: its pooler returns a padding mask where a validity mask is expected.)
    image_processor = Gemma4ImageProcessorPil(patch_size=4, max_soft_tokens=70, pooling_kernel_size=2)
    processor = gemma4_image_processor()(
        feature_extractor=Gemma4AudioFeatureExtractor(),
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=None,
        image_seq_length=70,
    )
    text = Gemma4TextConfig(
        vocab_size=len(processor.tokenizer),
        vocab_size_per_layer_input=len(processor.tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        global_head_dim=16,
        hidden_size_per_layer_input=8,
        layer_types=["sliding_attention", "full_attention"],
        sliding_window=12,
        use_bidirectional_attention="vision",
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=0.2,
        tie_word_embeddings=False,
    )
    vision = Gemma4VisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        head_dim=8,
        patch_size=4,
        pooling_kernel_size=2,
        position_embedding_size=64,
    )
    config = Gemma4Config(
        text_config=text,
        vision_config=vision,
        boi_token_id=tokenizer.boi_token_id,
        eoi_token_id=tokenizer.eoi_token_id,
        image_token_id=tokenizer.image_token_id,
        boa_token_id=tokenizer.boa_token_id,
        eoa_token_index=tokenizer.eoa_token_id,
        audio_token_id=tokenizer.audio_token_id,
        video_token_id=processor.video_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Gemma4ForConditionalGeneration(config).eval()
    # the template writes each image as <|image|>, which the processor expands to <|image> <|image|>*n <image|>
    return save(out_dir, model, processor, image_marker="<|image|>")
