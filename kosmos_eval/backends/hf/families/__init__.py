"""Model families, declared in one place: what is true of each family's inputs, stated once.

A checkpoint's `config.model_type` selects its family. The entry says which transformers class loads it, how
an image is written into the prompt text, which per-token processor outputs must be extended over a ranking
continuation (and with what), which outputs never reach the model, whether it takes several images per
prompt, whether shared-prefix packing is exact for it, and which adapter turns a Context into its inputs.
Families that need code (Kosmos-2 builds its own interleaved sequence) keep it in their own module here.

A family counts as supported only when the conformance suite (tests/test_conformance.py) covers it:
ranking equal to a naive forward, generation equal to the model's own `generate`, on a tiny random
checkpoint built offline (kosmos_eval/tiny). Checkpoints of undeclared model types take the generic path
(`GENERIC`), and an error there names the model type and says it is not a declared family.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kosmos_eval.core.registry import Registry, import_object

# How a per-token processor output is extended over continuation tokens: a constant value (e.g. PaliGemma's
# token_type_ids are 1 after the prompt), or "last" (repeat the context's last position, e.g. Mllama's
# cross-attention mask: a continuation token sees the images its context's end sees).
ExtendRule = int | Literal["last"]

FAMILY_MODULES = (
    "kosmos_eval.backends.hf.families.kosmos2",
    "kosmos_eval.backends.hf.families.llava",
    "kosmos_eval.backends.hf.families.llava_like",
    "kosmos_eval.backends.hf.families.qwen",
    "kosmos_eval.backends.hf.families.gemma",
    "kosmos_eval.backends.hf.families.idefics",
    "kosmos_eval.backends.hf.families.other",
    "kosmos_eval.backends.hf.families.causal_lm",
)


@dataclass(frozen=True)
class Family:
    name: str  # short id, also the `kosmos-eval tiny-model` architecture name
    label: str  # as people call it in tables
    model_types: tuple[str, ...]  # config.model_type values this entry covers
    model_class: str = "AutoModelForImageTextToText"  # the transformers class that loads it
    adapter: str = "kosmos_eval.backends.hf.processor_adapter:ProcessorAdapter"  # "module:Class"
    # one image in the prompt text; {image} is the processor's image token (expanded by the processor)
    image_text: str = "{image}"
    extend: Mapping[str, ExtendRule] = field(default_factory=dict)  # per-token outputs and their extension
    drop: frozenset[str] = frozenset({"labels"})  # processor outputs that must never reach the model
    multi_image: bool = True  # several images in one prompt (Raven's panels, few-shot demos)
    # a language model without vision (AutoModelForCausalLM, a tokenizer instead of a processor): it takes text
    # alone, so a task that shows images is refused in one line, before the model loads where the config is local
    text_only: bool = False
    interleaved: bool = True  # images stay where the text puts them (False: the processor moves them)
    packing: bool = False  # shared-prefix packing is exact (custom 4D mask and explicit positions honoured)
    # the adapter's `start_decoding` serves the harness's own greedy and beam loops (search.py) over left-padded
    # rows of any length, equal to `generate` row by row (tests/test_own_decoding.py)
    own_decoding: bool = False
    encoder_decoder: bool = False
    refuse: str | None = None  # why this family cannot be evaluated at all (said in one line at load time)
    notes: str = ""  # what a user should know (shown in the README's supported-models table)

    def __post_init__(self) -> None:
        if self.own_decoding and self.encoder_decoder:
            raise ValueError(f"{self.name}: the own decoding loops are for decoder-only models")

    def adapter_class(self) -> type:
        return import_object(self.adapter)

    def model_loader(self) -> Any:
        import transformers

        return getattr(transformers, self.model_class)


# Checkpoints of an undeclared model type: any AutoModelForImageTextToText with the processor's image token.
# The per-token outputs listed here are the common ones whose continuation value is that of a text token.
GENERIC = Family(
    name="generic",
    label="undeclared family (generic path)",
    model_types=(),
    extend={"token_type_ids": 0, "mm_token_type_ids": 0},
    notes="not covered by the conformance suite: numbers are unverified",
)

# The declared families by name and by each model type they cover; both filled by `register_family`.
FAMILIES: Registry[Family] = Registry("model family", FAMILY_MODULES)
BY_MODEL_TYPE: Registry[Family] = Registry("model type", FAMILY_MODULES)
# Processor classes that transformers cannot build for images here (a required video processor, a torchvision or
# num2words import images never use), by class name -> "module:function" returning an image-only stand-in built
# on the class itself. Keyed by class, not family: LLaVA checkpoints with a Pixtral tower declare PixtralProcessor.
PROCESSOR_STANDINS: Registry[str] = Registry(
    "processor stand-in",
    (
        "kosmos_eval.backends.hf.families.llava_like",
        "kosmos_eval.backends.hf.families.gemma",
        "kosmos_eval.backends.hf.families.idefics",
    ),
)
register_processor_standin = PROCESSOR_STANDINS.add


def processor_standin(class_name: str) -> type | None:
    """The image-only stand-in for a processor class, or None where the class itself loads."""
    loader = PROCESSOR_STANDINS.find(class_name)
    return None if loader is None else import_object(loader)()


def register_family(family: Family) -> Family:
    """Declare `family` under its name and each of its model types (a model type declared twice is refused)."""
    FAMILIES.add(family.name, family)
    for model_type in family.model_types:
        BY_MODEL_TYPE.add(model_type, family)
    return family


def family_for(model_type: str) -> Family:
    """The declared family of a model type, else the generic path."""
    return BY_MODEL_TYPE.find(model_type) or GENERIC


def families() -> dict[str, Family]:
    """Every declared family by name, in declaration order."""
    return dict(FAMILIES.items())
