"""`--model-args chat_template=true`: the task's prompt rendered through the checkpoint's chat template.

The paper's protocol is plain interleaved text, and that stays the default. Instruct checkpoints, though, are
trained on their chat format and may answer poorly without it, so a user can ask for it:

* the whole context (few-shot demonstrations included, inline, in reading order) becomes one user turn whose
  content parts are the context's text and images in order; the template then adds its generation prompt
  (the start of the assistant turn);
* images are written as the template writes them (its own image markers), so the processor expands them as
  in the model's own chat use;
* the rendered text is tokenised without adding special tokens, as transformers' `apply_chat_template` does
  (the template writes its own beginning-of-sequence token where the model has one);
* a ranking continuation is scored at the start of the assistant turn, with its leading whitespace removed
  (the task's " Yes" is the answer "Yes"); generation continues the assistant turn.

The template's text is part of the model's fingerprint (its SHA-256), so a run folder never mixes templates.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kosmos_eval.core.types import Context, ImageInput
from kosmos_eval.errors import UserError


def template_of(processor: Any) -> str | None:
    template = getattr(processor, "chat_template", None)
    if template is None:
        template = getattr(getattr(processor, "tokenizer", None), "chat_template", None)
    if isinstance(template, dict):  # several named templates: the default one
        template = template.get("default")
    return template if isinstance(template, str) and template.strip() else None


def require_template(processor: Any, label: str, pretrained: str) -> str:
    template = template_of(processor)
    if template is None:
        raise UserError(
            f"--model-args chat_template=true: {label} checkpoint {pretrained} has no chat template "
            "(chat_template.jinja or the tokenizer's chat_template); leave the option off for the paper's plain prompts"
        )
    return template


def template_sha256(template: str) -> str:
    return hashlib.sha256(template.encode()).hexdigest()


def user_turn(context: Context) -> list[dict[str, Any]]:
    """The context as one user message with its text and images in reading order."""
    parts: list[dict[str, Any]] = []
    for segment in context.segments:
        if isinstance(segment, ImageInput):
            parts.append({"type": "image"})
        elif segment:
            if parts and parts[-1]["type"] == "text":
                parts[-1]["text"] += segment
            else:
                parts.append({"type": "text", "text": segment})
    return [{"role": "user", "content": parts}]


def render(processor: Any, context: Context) -> str:
    """The prompt text for `context`: its user turn and the assistant turn's start, as the template writes
    them (the template's own image markers included)."""
    return processor.apply_chat_template(user_turn(context), tokenize=False, add_generation_prompt=True)


def answer_text(continuation: str) -> str:
    """A ranking continuation as the assistant's answer: its leading whitespace removed."""
    return continuation.lstrip()
