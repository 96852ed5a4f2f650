"""Tokenizers for the tiny models, trained with the `tokenizers` library and made deterministic.

The Unigram trainer learns the same pieces on every run but not the same scores (they differ in the last
digits, and so do the ids it hands out), so a rebuilt model had other token ids. The trained pieces are kept
and everything else is recomputed here: the ids are the special tokens first, then the pieces in a fixed
order; the scores are log relative frequencies of the pieces in the corpus, counted in plain Python. A
rebuild therefore writes byte-identical tokenizer files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # XLM-R order, as Kosmos-2's tokenizer has them
METASPACE = "\u2581"

# Enough English for the prompts in prompts/ to tokenize into real pieces rather than single letters.
CORPUS = """
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


def _pieces(vocab_size: int) -> list[str]:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, unk_token="<unk>")
    lines = [line for line in CORPUS.strip().splitlines() if line]
    tokenizer.train_from_iterator(lines * 20, trainer)
    vocab = json.loads(tokenizer.to_str())["model"]["vocab"]
    return sorted({piece for piece, _ in vocab} - set(SPECIAL_TOKENS))


def unigram(vocab_size: int = 400, special_tokens: Sequence[str] = SPECIAL_TOKENS) -> Any:
    """A `tokenizers.Tokenizer` (Unigram, NFKC, Metaspace) with deterministic ids and scores."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    text = METASPACE + CORPUS.strip().replace("\n", " ").replace(" ", METASPACE)
    pieces = _pieces(vocab_size)
    counts = {piece: text.count(piece) + 1 for piece in pieces}  # +1: pieces the corpus splits differently
    total = sum(counts.values())
    scored = sorted(((piece, math.log(counts[piece] / total)) for piece in pieces), key=lambda ps: (-ps[1], ps[0]))
    vocab = [(token, 0.0) for token in special_tokens] + [(piece, round(score, 6)) for piece, score in scored]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=list(special_tokens).index("<unk>")))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    return tokenizer


def xlmr_tokenizer(vocab_size: int = 400) -> Any:
    """Wrapped as XLMRobertaTokenizerFast (the tokenizer class Kosmos-2 uses)."""
    from transformers import XLMRobertaTokenizerFast

    return XLMRobertaTokenizerFast(
        tokenizer_object=unigram(vocab_size),
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
    )


def llama_style_tokenizer(extra_tokens: Sequence[str] = ("<image>",), vocab_size: int = 400) -> Any:
    """The same pieces, adding only <s> in front (as Llama tokenizers do), plus the family's special tokens
    (image placeholders, chat markers) as additional special tokens."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    raw = unigram(vocab_size)
    raw.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 0)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    if extra_tokens:
        tokenizer.add_special_tokens({"additional_special_tokens": list(extra_tokens)})
    return tokenizer


def byte_level_tokenizer(vocab_size: int = 400) -> Any:
    """A GPT-2-style tokenizer: byte-level BPE learned from the same corpus, one special token
    (<|endoftext|>, begin, end and unknown at once), no token added in front of a text. The BPE trainer breaks
    ties by the pair itself, so the merges and ids come out the same on every run."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = [line for line in CORPUS.strip().splitlines() if line]
    raw.train_from_iterator(lines * 20, trainer)
    end = "<|endoftext|>"
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token=end, eos_token=end, unk_token=end)
