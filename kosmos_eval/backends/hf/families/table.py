"""The README's "Supported models" table, rendered from the family registry (a test keeps them equal), so
the table can never claim what the declarations do not say. What the table says is proven by
tests/test_conformance.py, which every declared family passes on a tiny random checkpoint."""

from __future__ import annotations

from kosmos_eval.backends.hf.families import Family, families

HEADER = ("family", "model type", "ranking", "packing", "generation", "chat template", "tested", "notes")
SUITE = "conformance suite, tiny checkpoint"
# checks beyond the suite, by family (files under tests/)
MORE_TESTS = {
    "kosmos2": "official processor parity (test_hf_parity.py), own loops row by row (test_own_decoding.py)",
    "qwen2_vl": "packs shared across requests (test_qwen_packing.py)",
    "qwen2_5_vl": "packs shared across requests (test_qwen_packing.py)",
    "qwen3_vl": "packs shared across requests (test_qwen_packing.py)",
    "glm4v": "packs shared across requests (test_qwen_packing.py)",
    "idefics2": "image splitting on, sliding window in packs (test_idefics_splitting.py)",
    "idefics3": "image splitting on (test_idefics_splitting.py)",
    "smolvlm": "image splitting on (test_idefics_splitting.py)",
    "llava": "chat template (test_chat_template.py, test_tiny_chat_template.py), served by vLLM's dialect "
    "(test_openai_backend.py)",
    **dict.fromkeys(
        ("llava_next", "llava_onevision", "aya_vision", "mistral3", "internvl", "gemma4"),
        "a run through its tiny checkpoint's chat template (test_tiny_chat_template.py)",
    ),
    "causal_lm": "every declared type's tiny model, language-task runs against a naive forward, image tasks "
    "refused (test_text_only_models.py)",
}


def _cells(family: Family) -> tuple[str, ...]:
    types = ", ".join(f"`{t}`" for t in family.model_types)
    if family.refuse:
        return (family.label, types, "refused", "-", "-", "-", "the refusal (conformance suite)", family.refuse)
    ranking = "exact" + (", text only" if family.text_only else "" if family.multi_image else ", one image per prompt")
    generation = "own greedy / beam loops, any lengths batched" if family.own_decoding else "the model's own `generate`"
    chat = "yes" if family.adapter_class().supports_chat else "no"
    tested = SUITE + (f"; {MORE_TESTS[family.name]}" if family.name in MORE_TESTS else "")
    packing = "yes" if family.packing else "no"
    return (family.label, types, ranking, packing, generation, chat, tested, family.notes)


def supported_models_markdown() -> str:
    rows = [HEADER, tuple("---" for _ in HEADER), *(_cells(f) for f in families().values())]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows) + "\n"
