"""Tiny random Qwen-VL family checkpoints: Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Qwen3.5 and GLM-4V.

Each has 2 text layers of width 64 (M-RoPE splits the rotary frequencies of each head over temporal, height
and width sections, as in the real configs), a 2-block vision tower of width 32 with 8-pixel patches merged
2x2, and the family's PIL image processor resizing in 16-pixel steps: the 48x40 test images become 48 wide
and 32 high, a grid of 2 x 3 merged patches (6 image tokens; height and width positions differ). The
tokenizer is a byte-level BPE learned here deterministically from the shared corpus, of the class the family's
checkpoints use (no BOS, `<|endoftext|>` ends and pads), plus the family's image and video markers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kosmos_eval.tiny import save, tiny_builder

QWEN_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
GLM_TOKENS = (
    "<|begin_of_image|>",
    "<|end_of_image|>",
    "<|image|>",
    "<|begin_of_video|>",
    "<|end_of_video|>",
    "<|video|>",
)
PATCH = 8
MERGE = 2
TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
}  # head dim 64 / 4 = 16


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: each byte as a printable character (the table ByteLevel uses)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _bpe(pretokenize: Any, merges_wanted: int = 300) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE vocabulary and merges learned from the shared corpus in plain Python: the most frequent
    pair first, ties broken by the pair itself, so a rebuild learns the same merges (the `tokenizers` trainer
    is not guaranteed to)."""
    from kosmos_eval.tiny.tokenizer import CORPUS

    table = _bytes_to_unicode()
    words: dict[tuple[str, ...], int] = {}
    for line in CORPUS.strip().splitlines():
        for piece, _ in pretokenize(line):
            words[tuple(piece)] = words.get(tuple(piece), 0) + 1
    vocab = {table[b]: b for b in range(256)}
    merges: list[tuple[str, str]] = []
    for _ in range(merges_wanted):
        pairs: dict[tuple[str, str], int] = {}
        for word, count in words.items():
            for pair in itertools.pairwise(word):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        vocab[best[0] + best[1]] = len(vocab)
        merged: dict[tuple[str, ...], int] = {}
        for word, count in words.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if word[i : i + 2] == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + count
        words = merged
    return vocab, merges


def _tokenizer(tokenizer_class: type | None, extra_tokens: Sequence[str]) -> Any:
    """A byte-level BPE tokenizer of the family's own class (Qwen2Tokenizer, Qwen3_5Tokenizer: what
    AutoTokenizer builds for the model type), or a plain fast tokenizer around the same BPE (GLM-4V's
    checkpoints ship a tokenizer.json); `<|endoftext|>` ends and pads, as in Qwen's and GLM's vocabularies."""
    from transformers import PreTrainedTokenizerFast, Qwen2Tokenizer

    base = tokenizer_class or Qwen2Tokenizer
    vocab, merges = _bpe(base()._tokenizer.pre_tokenizer.pre_tokenize_str)
    tokenizer = base(vocab=vocab, merges=merges)
    if tokenizer_class is None:
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=tokenizer.backend_tokenizer, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
        )
    tokenizer.add_special_tokens({"additional_special_tokens": list(extra_tokens)})
    return tokenizer


def _image_processor(cls: type) -> Any:
    # smart_resize keeps the pixel count within [shortest_edge, longest_edge] in steps of patch * merge
    return cls(
        size={"shortest_edge": 16 * 16, "longest_edge": 64 * 64},
        patch_size=PATCH,
        merge_size=MERGE,
        temporal_patch_size=2,
    )


def _processor(
    processor_class: type, image_processor_class: type, tokenizer_class: type | None, extra_tokens: Sequence[str]
) -> Any:
    from kosmos_eval.backends.hf.loading import without_video

    tokenizer = _tokenizer(tokenizer_class, extra_tokens)
    return without_video(processor_class)(image_processor=_image_processor(image_processor_class), tokenizer=tokenizer)


def _ids(tokenizer: Any, **tokens: str) -> dict[str, int]:
    return {key: tokenizer.convert_tokens_to_ids(token) for key, token in tokens.items()}


def _qwen_ids(tokenizer: Any) -> dict[str, int]:
    return _ids(
        tokenizer,
        image_token_id="<|image_pad|>",
        video_token_id="<|video_pad|>",
        vision_start_token_id="<|vision_start|>",
        vision_end_token_id="<|vision_end|>",
    )


def _text(tokenizer: Any, rope: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        **TEXT,
        "vocab_size": len(tokenizer),
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, **rope},
        "pad_token_id": tokenizer.pad_token_id,
        **more,
    }


def _special(tokenizer: Any) -> dict[str, Any]:
    """End and start ids, for the text configs that declare them (their defaults are the real vocabulary's)."""
    return {"eos_token_id": tokenizer.eos_token_id, "bos_token_id": None}


def _finish(
    out_dir: Path,
    seed: int,
    model_class: type,
    config: Any,
    processor: Any,
    image_marker: str = "<|vision_start|><|image_pad|><|vision_end|>",
) -> Path:
    import torch

    config.eos_token_id = processor.tokenizer.eos_token_id
    config.pad_token_id = processor.tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    return save(out_dir, model, processor, image_marker)


@tiny_builder("qwen2_vl")
def build_qwen2_vl(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        Qwen2Tokenizer,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
        Qwen2VLProcessor,
    )

    processor = _processor(Qwen2VLProcessor, Qwen2VLImageProcessorPil, Qwen2Tokenizer, QWEN_TOKENS)
    tokenizer = processor.tokenizer
    config = Qwen2VLConfig(
        vision_config={
            "depth": 2,
            "embed_dim": 32,
            "hidden_size": TEXT["hidden_size"],  # the merger's output: the text model's width
            "mlp_ratio": 2,
            "num_heads": 4,
            "patch_size": PATCH,
            "spatial_merge_size": MERGE,
            "temporal_patch_size": 2,
        },
        text_config=_text(tokenizer, {"mrope_section": [2, 3, 3]}, **_special(tokenizer)),
        **_qwen_ids(tokenizer),
    )
    return _finish(out_dir, seed, Qwen2VLForConditionalGeneration, config, processor)


@tiny_builder("qwen2_5_vl")
def build_qwen2_5_vl(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2Tokenizer,
        Qwen2VLImageProcessorPil,
    )

    processor = _processor(Qwen2_5_VLProcessor, Qwen2VLImageProcessorPil, Qwen2Tokenizer, QWEN_TOKENS)
    tokenizer = processor.tokenizer
    config = Qwen2_5_VLConfig(
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 4,
            "patch_size": PATCH,
            "spatial_merge_size": MERGE,
            "temporal_patch_size": 2,
            "out_hidden_size": TEXT["hidden_size"],
            # windows of 2x2 merged patches in block 0, full attention in block 1 (as Qwen2.5-VL alternates)
            "window_size": 2 * MERGE * PATCH,
            "fullatt_block_indexes": [1],
        },
        text_config=_text(tokenizer, {"mrope_section": [2, 3, 3]}, **_special(tokenizer)),
        **_qwen_ids(tokenizer),
    )
    return _finish(out_dir, seed, Qwen2_5_VLForConditionalGeneration, config, processor)


def _qwen3_vision(**more: Any) -> dict[str, Any]:
    return {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 4,
        "patch_size": PATCH,
        "spatial_merge_size": MERGE,
        "temporal_patch_size": 2,
        "out_hidden_size": TEXT["hidden_size"],
        "num_position_embeddings": 16,  # a 4x4 grid of learned positions, interpolated to each image
        **more,
    }


@tiny_builder("qwen3_vl")
def build_qwen3_vl(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        Qwen2Tokenizer,
        Qwen2VLImageProcessorPil,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
    )

    processor = _processor(Qwen3VLProcessor, Qwen2VLImageProcessorPil, Qwen2Tokenizer, QWEN_TOKENS)
    tokenizer = processor.tokenizer
    config = Qwen3VLConfig(
        vision_config=_qwen3_vision(deepstack_visual_indexes=[0]),  # block 0's features join text layer 0
        text_config=_text(tokenizer, {"mrope_section": [4, 2, 2], "mrope_interleaved": True}, head_dim=16),
        **_qwen_ids(tokenizer),
    )
    return _finish(out_dir, seed, Qwen3VLForConditionalGeneration, config, processor)


@tiny_builder("qwen3_5")
def build_qwen3_5(out_dir: Path, seed: int = 0) -> Path:
    from transformers import (
        Qwen2VLImageProcessorPil,
        Qwen3_5Config,
        Qwen3_5ForConditionalGeneration,
        Qwen3_5Tokenizer,
        Qwen3VLProcessor,
    )

    processor = _processor(Qwen3VLProcessor, Qwen2VLImageProcessorPil, Qwen3_5Tokenizer, QWEN_TOKENS)
    tokenizer = processor.tokenizer
    config = Qwen3_5Config(
        vision_config=_qwen3_vision(),
        text_config=_text(
            tokenizer,
            # Qwen3.5 rotates a quarter of each head: 8 of 32 dims, 4 frequencies over temporal, height, width
            {"mrope_section": [2, 1, 1], "mrope_interleaved": True, "partial_rotary_factor": 0.25},
            head_dim=32,
            **_special(tokenizer),
            # one Gated DeltaNet (linear attention) layer and one full-attention layer, as Qwen3.5 alternates
            layer_types=["linear_attention", "full_attention"],
            linear_conv_kernel_dim=4,
            linear_key_head_dim=16,
            linear_value_head_dim=16,
            linear_num_key_heads=2,
            linear_num_value_heads=4,
        ),
        **_qwen_ids(tokenizer),
    )
    return _finish(out_dir, seed, Qwen3_5ForConditionalGeneration, config, processor)


@tiny_builder("glm4v")
def build_glm4v(out_dir: Path, seed: int = 0) -> Path:
    from transformers import Glm4vConfig, Glm4vForConditionalGeneration, Glm4vImageProcessorPil, Glm4vProcessor

    processor = _processor(Glm4vProcessor, Glm4vImageProcessorPil, None, GLM_TOKENS)
    tokenizer = processor.tokenizer
    config = Glm4vConfig(
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 4,
            "image_size": 32,  # learned positions for a 4x4 patch grid, interpolated to each image
            "patch_size": PATCH,
            "spatial_merge_size": MERGE,
            "temporal_patch_size": 2,
            "out_hidden_size": TEXT["hidden_size"],
        },
        # GLM rotates half of each head (8 of 16 dims: 4 frequencies over temporal, height, width)
        text_config=_text(tokenizer, {"mrope_section": [2, 1, 1], "partial_rotary_factor": 0.5}),
        **_ids(
            tokenizer,
            image_token_id="<|image|>",
            video_token_id="<|video|>",
            image_start_token_id="<|begin_of_image|>",
            image_end_token_id="<|end_of_image|>",
            video_start_token_id="<|begin_of_video|>",
            video_end_token_id="<|end_of_video|>",
        ),
    )
    return _finish(
        out_dir, seed, Glm4vForConditionalGeneration, config, processor, "<|begin_of_image|><|image|><|end_of_image|>"
    )
