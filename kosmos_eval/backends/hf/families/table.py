"""The README's "Supported models" table, rendered from the family registry (a test keeps them equal), so
the table can never claim what the declarations do not say. What the table says is proven by
tests/test_conformance.py, which every declared family passes on a tiny random checkpoint."""

from __future__ import annotations

from kosmos_eval.backends.hf.families import Family, families

HEADER = ("family", "model type", "ranking", "packing", "generation", "chat template", "notes")


def _cells(family: Family) -> tuple[str, ...]:
    types = ", ".join(f"`{t}`" for t in family.model_types)
    if family.refuse:
        return (family.label, types, "refused", "-", "-", "-", family.refuse)
    ranking = "exact" + ("" if family.multi_image else ", one image per prompt")
    generation = "padded greedy loop, beam" if family.padded_greedy else "the model's own `generate`"
    chat = "yes" if family.adapter_class().supports_chat else "no"
    return (family.label, types, ranking, "yes" if family.packing else "no", generation, chat, family.notes)


def supported_models_markdown() -> str:
    rows = [HEADER, tuple("---" for _ in HEADER), *(_cells(f) for f in families().values())]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows) + "\n"
