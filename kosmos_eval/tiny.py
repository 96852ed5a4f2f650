"""Tiny random models for smoke tests: `kosmos-eval tiny-model kosmos2|llava OUT_DIR`.

Each is built from a transformers config with a few layers of width 64 and a tokenizer trained here with the
`tokenizers` library (Unigram, special tokens in XLM-R order), saved with `save_pretrained` and loadable
through the normal `--model hf --model-args pretrained=OUT_DIR` path. Nothing is downloaded, so tests and
pipelines can run the whole hf code path offline. The scores such a model gives are meaningless.
"""

from __future__ import annotations

from pathlib import Path

ARCHITECTURES = ("kosmos2", "llava")
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]

# Enough English for the prompts in prompts/ to tokenize into real pieces rather than single letters.
_CORPUS = """
Here are three images: The following image is: Is it correct? Yes No yes no
Here are four images: Here are eight images: An image of a cat on a sofa. The photo of the dog.
Question: what is the sentiment of the opinion? Answer: positive negative
Question: does this picture contain real hate speech? Answer: yes no
Given the context below from web page, extract the answer from the given text like this:
Question: Who is the publisher of this book? Answer: Penguin Books Ltd. Context: Q: A:
Introduce this picture in detail: The color of the sky is blue. Is the sofa larger than the cat?
a man riding a horse, two people walking down a street, a red bus parked next to a building
black blue brown green grey orange pink purple red white yellow woodpecker penguin sparrow
"""


def _train_unigram(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, unk_token="<unk>")
    lines = [line for line in _CORPUS.strip().splitlines() if line]
    tokenizer.train_from_iterator(lines * 20, trainer)
    return tokenizer


def train_tokenizer(vocab_size: int = 400):
    """A Unigram tokenizer wrapped as XLMRobertaTokenizerFast (the tokenizer class Kosmos-2 uses)."""
    from transformers import XLMRobertaTokenizerFast

    return XLMRobertaTokenizerFast(
        tokenizer_object=_train_unigram(vocab_size),
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
    )


def train_llama_style_tokenizer(vocab_size: int = 400):
    """The same Unigram model, adding only <s> in front (as Llama tokenizers do), plus an <image> token."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    raw = _train_unigram(vocab_size)
    raw.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 0)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return tokenizer


def _image_processor(image_size: int):
    from transformers import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )


def build_tiny_kosmos2(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import Kosmos2Config, Kosmos2ForConditionalGeneration, Kosmos2Processor

    processor = Kosmos2Processor(
        image_processor=_image_processor(32), tokenizer=train_tokenizer(), num_patch_index_tokens=16
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
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def build_tiny_llava(out_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tokenizer = train_llama_style_tokenizer()
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    processor = LlavaProcessor(
        image_processor=_image_processor(32),
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
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def build_tiny_model(architecture: str, out_dir: Path, seed: int = 0) -> Path:
    builders = {"kosmos2": build_tiny_kosmos2, "llava": build_tiny_llava}
    if architecture not in builders:
        from kosmos_eval.errors import UserError

        raise UserError(f"tiny-model: unknown architecture {architecture!r} (choose from {', '.join(ARCHITECTURES)})")
    return builders[architecture](Path(out_dir), seed=seed)
