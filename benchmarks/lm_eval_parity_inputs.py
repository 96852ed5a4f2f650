"""What benchmarks/lm_eval_parity.py feeds both harnesses: seeded rows and one tiny checkpoint saved twice.

The rows are synthetic but in each task's hub schema (PIQA, HellaSwag, COPA, BoolQ), built to exercise the rules
the parity check is about: HellaSwag contexts whose cleaned text ends in whitespace, short choices where
acc_norm's divisor decides the pick, accents and typographic quotes for the byte-level tokenizer. The model is a
tiny random LLaVA 1.5 for kosmos-eval and its language model, same weights and tokenizer, exported as a plain
LlamaForCausalLM for lm-eval. Kept apart from the script, which runs the two harnesses and compares them, so
that the inputs can be read (and changed) without the comparison around them. Nothing is downloaded.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

PEOPLE = ("The man", "A woman", "The girl", "Two boys", "The chef", "My neighbour", "The old farmer", "José")
VERBS = ("cuts", "washes", "paints", "lifts", "folds", "throws", "stirs", "repairs", "polishes", "opens")
THINGS = ("the red bucket", "a wooden chair", "the café sign", "some paper", "the bicycle tyre", "a glass jar")
THINGS += ("the garden hose", "an old blanket", "the kitchen floor", "a loaf of bread", "the “naïve” poster")
PLACES = ("in the yard", "at the sink", "on a ladder", "near the window", "by the river", "inside the garage")
EXTRAS = ("slowly", "with care", "while talking", "again and again", "for a few minutes", "— then stops")


def clause(rng: random.Random, people: bool = True) -> str:
    words = [rng.choice(PEOPLE)] if people else []
    words += [rng.choice(VERBS), rng.choice(THINGS)]
    words += [rng.choice(PLACES)] * rng.randint(0, 1) + [rng.choice(EXTRAS)] * rng.randint(0, 1)
    return " ".join(words)


def sentences(rng: random.Random, low: int, high: int) -> str:
    return " ".join(clause(rng) + "." for _ in range(rng.randint(low, high)))


def piqa_row(rng: random.Random, i: int) -> dict[str, Any]:
    goal = rng.choice(("How do I", "To", "What is the best way to")) + " " + clause(rng, people=False).lower()
    goal += "?" if goal.startswith(("How", "What")) else ""
    sols = [clause(rng, people=False).capitalize() + "." + " " + sentences(rng, 0, 3) for _ in range(2)]
    if i % 3 == 0:  # short solutions, where acc_norm's divisor (with or without the delimiter) can decide
        sols = [f"{verb} {thing}" for verb, thing in zip(rng.sample(VERBS, 2), rng.sample(THINGS, 2), strict=True)]
    return {"goal": goal, "sol1": sols[0].strip(), "sol2": sols[1].strip(), "label": rng.randint(0, 1)}


def hellaswag_row(rng: random.Random, i: int) -> dict[str, Any]:
    label = rng.choice(("Washing dishes", "Home and Garden", "Cutting the grass", "Food and Entertaining"))
    if i % 2:  # WikiHow style: markup tags; every fourth row ends in a tag that leaves trailing whitespace
        ctx_a = f"[header] How to {rng.choice(VERBS)[:-1]} {rng.choice(THINGS)} [title] {sentences(rng, 1, 2)}"
        ctx_b = "" if i % 4 == 1 else f"[step] {clause(rng).lower()} {rng.choice(('[title]', '[substeps]'))}"
        endings = [f"[step] {sentences(rng, 1, 4)} [title] {clause(rng)}" for _ in range(4)]
    else:  # ActivityNet style: ctx_b starts lower-case and may hold names that capitalize() lower-cases
        ctx_a = sentences(rng, 1, 3)
        ctx_b = clause(rng).lower() + rng.choice((" and Mary", " while John", ""))
        endings = [clause(rng, people=False) + "." * rng.randint(0, 1) + " " * (j == 3) for j in range(4)]
    ctx = f"{ctx_a} {ctx_b}".strip() if ctx_b else ctx_a
    row = {"ind": 100 + i, "activity_label": label, "ctx_a": ctx_a, "ctx_b": ctx_b, "ctx": ctx, "endings": endings}
    more = {"source_id": f"parity~{i}", "split": "val", "split_type": "indomain"}
    return {**row, **more, "label": str(rng.randint(0, 3))}  # the hub's label is a string


def copa_row(rng: random.Random, i: int) -> dict[str, Any]:
    premise = clause(rng) + "."
    picks = [clause(rng) + "." for _ in range(2)]
    if i % 3 == 0:  # short alternatives, where acc_norm's divisor can decide
        picks = [f"{who} {verb}." for who, verb in zip(rng.sample(PEOPLE, 2), rng.sample(VERBS, 2), strict=True)]
    if i % 5 == 0:
        picks[0] = f"I {clause(rng, people=False)}."  # lm-eval lower-cases the first letter: "I" -> "i"
    row = {"premise": premise, "choice1": picks[0], "choice2": picks[1], "question": rng.choice(("cause", "effect"))}
    return {**row, "idx": i, "label": rng.randint(0, 1)}


def boolq_row(rng: random.Random, i: int) -> dict[str, Any]:
    passage = f"{rng.choice(THINGS).title()} -- " + sentences(rng, 1, 12)
    question = ("does " + clause(rng).lower()).replace("é", "e")
    return {"question": question, "passage": passage, "idx": i, "label": rng.randint(0, 1)}


MAKERS = {"piqa": piqa_row, "hellaswag": hellaswag_row, "copa": copa_row, "boolq": boolq_row}


def build_models(work: Path, corpus: list[str], seed: int) -> tuple[Path, Path]:
    """(LLaVA folder for kosmos-eval, LlamaForCausalLM folder for lm-eval) with the same text weights."""
    import torch
    import transformers as tf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    special = ["<s>", "</s>", "<pad>", "<image>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=900, special_tokens=special, show_progress=False, initial_alphabet=alphabet
    )
    raw.train_from_iterator(corpus, trainer)
    raw.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    tokenizer = tf.PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    sizes = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
    ids = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2}  # <s>, </s>, <pad>; <image> is 3
    text = tf.LlamaConfig(
        vocab_size=len(tokenizer), num_key_value_heads=2, max_position_embeddings=2048, **sizes, **ids
    )
    vision = tf.CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8
    )
    select = {"vision_feature_select_strategy": "default"}
    config = tf.LlavaConfig(vision_config=vision, text_config=text, image_token_id=3, vision_feature_layer=-1, **select)
    torch.manual_seed(seed)
    llava = tf.LlavaForConditionalGeneration(config).eval()
    image_processor = tf.CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = tf.LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=8, num_additional_image_tokens=1, **select
    )
    llama = tf.LlamaForCausalLM(text).eval()
    llama.model.load_state_dict(llava.model.language_model.state_dict())
    llama.lm_head.load_state_dict(llava.lm_head.state_dict())
    tokens = torch.tensor([tokenizer(corpus[0])["input_ids"]])
    with torch.no_grad():
        gap = (llava(input_ids=tokens).logits - llama(input_ids=tokens).logits).abs().max().item()
    if gap > 1e-5:
        sys.exit(f"the exported Llama differs from the LLaVA language model (max logit gap {gap:.2e})")
    llava_dir, llama_dir = work / "models" / "llava", work / "models" / "llama"
    llava.save_pretrained(llava_dir)
    processor.save_pretrained(llava_dir)
    llama.save_pretrained(llama_dir)
    tokenizer.save_pretrained(llama_dir)
    return llava_dir, llama_dir
