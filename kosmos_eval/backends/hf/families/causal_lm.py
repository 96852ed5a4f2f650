"""Text-only language models (`AutoModelForCausalLM`: Llama, Mistral, Qwen2/3, Gemma 1-3, GPT-2): the paper's
LLM rows (Table 13's language tasks, Tables 15-16's commonsense probes, Table 8's WebSRC with the page text and
no screenshot, `--task-option setting=text_only`).

Such a checkpoint has a tokenizer where the multimodal families have a processor; its inputs are token ids
alone (the tokenizer's special tokens, e.g. Llama's <s>, as it adds them by default), so ranking, packing and
decoding are the processor path's with nothing to extend or drop. A prompt with an image cannot be written for
it: a task that shows images is refused in one line naming the task and the model, before the model loads
wherever the checkpoint's config.json is at hand (text_only.py), else before any example runs
(HFBackend.check_requests).

Packing is exact where attention is plain causal over the whole prefix: the 4D mask and explicit positions are
honoured by these models' forward (GPT-2's learned positions included). A model with a sliding window (Mistral,
Gemma 2 and 3's local layers, Qwen2 with `use_sliding_window`) would lose the window under a custom mask, so
packing is off for it, as for the LLaVA family.
"""

from __future__ import annotations

from typing import Any

import torch

from kosmos_eval.backends.hf.adapters import Encoded
from kosmos_eval.backends.hf.families import Family, register_family
from kosmos_eval.backends.hf.families.llava_like import sliding_window
from kosmos_eval.backends.hf.processor_adapter import ProcessorAdapter
from kosmos_eval.backends.hf.text_only import MODEL_TYPES
from kosmos_eval.core.types import Context, ImageInput
from kosmos_eval.errors import UserError


class TextAdapter(ProcessorAdapter):
    """The processor path for a model whose "processor" is its tokenizer: no image inputs, no per-token outputs,
    and so packs may hold several requests (no row owns pixels), which lets partial-scoring tasks (Winograd's
    option-dependent contexts) and few-shot prompts share their common prefix."""

    share_across_requests = True

    def __init__(self, family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(family, model, processor, device, image_workers)
        if sliding_window(model.config.get_text_config()):
            self.can_pack = False

    @staticmethod
    def tokenizer_of(processor: Any) -> Any:
        return processor

    def encode(self, context: Context) -> Encoded:
        if context.images:
            raise UserError(
                f"{self.family.label}: a text-only language model cannot take a prompt with "
                f"{len(context.images)} image(s); run a text task (language, commonsense, websrc setting=text_only)"
            )
        text = self.prompt_text(context)
        # the tokenizer's own special tokens (Llama's <s>), as the model saw text in training; a chat template
        # writes its own
        ids = self.tokenizer(text, add_special_tokens=not self.chat_template)["input_ids"]
        if ids and ids[-1] == self.tokenizer.eos_token_id and len(ids) > 1:
            ids = ids[:-1]  # a context is continued, never ended
        return Encoded(ids=list(ids))

    def render_chat(self, context: Context) -> str:
        """One user turn whose content is the prompt as a string: text-only chat templates (Llama 3's, Qwen2's)
        take string content, not the list of typed parts a multimodal processor's template takes."""
        if context.images:
            self.encode(context)  # refuses, in the adapter's words
        text = "".join(s for s in context.segments if isinstance(s, str))
        messages = [{"role": "user", "content": text}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        raise UserError(f"--sampler rices needs image features, and {self.family.label} has no vision encoder")


CAUSAL_LM = register_family(
    Family(
        name="causal_lm",
        label="Text-only LM",
        model_types=MODEL_TYPES,
        model_class="AutoModelForCausalLM",
        adapter="kosmos_eval.backends.hf.families.causal_lm:TextAdapter",
        image_text="",
        text_only=True,
        packing=True,
        own_decoding=True,
        notes="language models without vision (Llama, Mistral, Qwen2/3, Gemma 1-3, GPT-2): the language tasks, the "
        "commonsense probes and websrc setting=text_only (the paper's LLM rows); a task with images is refused up "
        "front; packing is off for models with a sliding window",
    )
)
