"""Model-family adapters: how a Context becomes token ids and image inputs, and how a model is run on them.

The backend (backend.py) owns everything shared: continuation splitting, padding, log-prob gathering, stop
strings. An adapter knows only its family's input format, as its Family entry (families/) declares it:

* ProcessorAdapter (processor_adapter.py) serves the processor-based families through the checkpoint's own
  processor; it is every Family entry's default adapter.
* Families that need their own code subclass Adapter in their module (families/kosmos2.py).

A context's trailing whitespace follows its family's rule (`Adapter.trailing_space`; docs/models.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch

from kosmos_eval.backends.hf import chat
from kosmos_eval.backends.hf.families import ExtendRule, Family
from kosmos_eval.backends.hf.images import ImagePipeline
from kosmos_eval.backends.hf.packing import PackedBatch
from kosmos_eval.backends.hf.search import DecodeSession
from kosmos_eval.core.types import Context, ImageInput
from kosmos_eval.errors import UserError


@dataclass
class Encoded:
    """One tokenised context (and, once extended, its continuation)."""

    ids: list[int]
    images: list[ImageInput] = field(default_factory=list)
    image_slots: list[int] = field(default_factory=list)  # Kosmos-2: positions that take image embeddings
    extras: dict[str, torch.Tensor] = field(default_factory=dict)  # processor outputs besides ids and mask
    # extras with one entry per token (dim 1) and how each extends over continuation tokens
    per_token: Mapping[str, ExtendRule] = field(default_factory=dict)

    def extended(self, more: Sequence[int]) -> Encoded:
        extras = dict(self.extras)
        for key, rule in self.per_token.items():
            value = extras[key]
            if rule == "last":
                tail = value[:, -1:].expand(value.shape[0], len(more), *value.shape[2:])
            else:
                tail = torch.full((value.shape[0], len(more), *value.shape[2:]), rule, dtype=value.dtype)
            extras[key] = torch.cat([value, tail], dim=1)
        return Encoded(list(self.ids) + list(more), self.images, self.image_slots, extras, self.per_token)


def beam_rules(length_penalty: float | None) -> dict[str, float]:
    """`generate`'s keyword for a request's length penalty: none when the request gives none, so that the
    generation config's value stands (the protocol's 1.0, or a checkpoint's under generation_config=checkpoint)."""
    return {} if length_penalty is None else {"length_penalty": length_penalty}


def text_runs(context: Context) -> list[str | ImageInput]:
    """Segments with adjacent text merged, so text between two images is tokenised as one string."""
    runs: list[str | ImageInput] = []
    for segment in context.segments:
        if isinstance(segment, str) and runs and isinstance(runs[-1], str):
            runs[-1] = runs[-1] + segment
        else:
            runs.append(segment)
    return runs


def trailing_text(context: Context) -> str:
    runs = text_runs(context)
    return runs[-1] if runs and isinstance(runs[-1], str) else ""  # type: ignore[return-value]


TrailingSpace = Literal["move", "strip", "keep"]


class Adapter:
    # Packing (packing.py) needs a model that takes a custom 4D attention mask and explicit positions and
    # whose image inputs follow its tokens; `share_across_requests` also needs images identified per token.
    can_pack = False
    share_across_requests = False
    # whether prompts can go through the checkpoint's chat template (`--model-args chat_template=true`, chat.py);
    # adapters that write a family's prompt layout themselves cannot
    supports_chat = False
    # Whitespace ending a text-final context without chat template (`encode` and `continuation_ids` agree):
    # "move" it opens every continuation instead, lm-eval's `_encode_pair` (a byte-level BPE would otherwise
    #        score "end. " + " Then" as [end][.][ ] + [ Then], not lm-eval's [end][.] + [ ][ Then]);
    # "strip" dropped (Kosmos-2, whose official processor strips text); "keep" kept (families whose layout
    # closes the prompt and tokenise a continuation alone). docs/models.md, "Trailing whitespace".
    trailing_space: ClassVar[TrailingSpace] = "move"

    def __init__(self, family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        self.family = family
        self.chat_template: str | None = None  # set by use_chat_template
        self._rendered: dict[Context, str] = {}
        self.model = model
        self.processor = processor
        self.tokenizer = self.tokenizer_of(processor)
        self.device = device
        self.images = ImagePipeline(self._prepare_image, self._encode_pixels, workers=image_workers)
        self._continuations: dict[tuple[str, str], list[int]] = {}

    @staticmethod
    def tokenizer_of(processor: Any) -> Any:
        """The tokenizer inside what the checkpoint loads as its processor (a text-only model's is the tokenizer
        itself: families/causal_lm.py)."""
        return processor.tokenizer

    def _prepare_image(self, image: ImageInput) -> Any:
        return image.load()

    _encode_pixels = None

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.eos_token_id

    def use_chat_template(self, checkpoint: str) -> None:
        """Render every prompt through the checkpoint's chat template from now on (chat.py)."""
        if not self.supports_chat:
            raise UserError(
                f"--model-args chat_template=true: {self.family.label} prompts are laid out by the harness in the "
                "family's own format, not through a chat template; leave the option off"
            )
        self.chat_template = chat.require_template(self.processor, self.family.label, checkpoint)

    def split_tail(self, context: Context) -> tuple[str, str]:
        """(the text a continuation follows, the whitespace that opens the continuation): the context's last
        text, its trailing whitespace treated as `trailing_space` says; with a chat template the whole rendered
        prompt (which ends with the start of the assistant turn) and nothing moved."""
        if self.chat_template:
            return self.rendered(context), ""
        text = trailing_text(context)
        if self.trailing_space == "keep":
            return text, ""
        kept = text.rstrip()
        return kept, text[len(kept) :] if self.trailing_space == "move" else ""

    def rendered(self, context: Context) -> str:
        """The chat template's rendering of `context`, cached (ImageNet asks after the same prompt 1,000 times)."""
        text = self._rendered.get(context)
        if text is None:
            if len(self._rendered) > 4096:
                self._rendered.clear()
            text = self._rendered[context] = self.render_chat(context)
        return text

    def render_chat(self, context: Context) -> str:
        """The chat template's prompt for `context` (chat.render: one user turn of typed text and image parts)."""
        return chat.render(self.processor, context)

    def continuation_ids(self, context: Context, continuation: str) -> list[int]:
        """Tokens of the continuation as they fall when written right after the context's last text.

        As in lm-evaluation-harness (`_encode_pair`): the context's trailing whitespace moves to the start of
        the continuation (`trailing_space`), then (last text + continuation) and (last text) are tokenised and
        the difference taken, so a continuation such as " Yes" gets the token the model sees in running text.
        With a chat template the continuation is the assistant's answer, its leading whitespace removed.
        """
        tail, space = self.split_tail(context)
        if self.chat_template:
            continuation = chat.answer_text(continuation)
        continuation = space + continuation
        cached = self._continuations.get((tail, continuation))
        if cached is not None:  # ImageNet asks for the same 1,000 names after the same prompt 50,000 times
            return cached
        whole = self.tokenizer(tail + continuation, add_special_tokens=False)["input_ids"]
        head = self.tokenizer(tail, add_special_tokens=False)["input_ids"] if tail else []
        ids = whole[len(head) :]
        if not ids:
            raise ValueError(f"continuation {continuation!r} tokenises to nothing")
        if len(self._continuations) > 200_000:
            self._continuations.clear()
        self._continuations[(tail, continuation)] = ids
        return ids

    def encode(self, context: Context) -> Encoded:
        raise NotImplementedError

    def logits_at(self, batch: list[Encoded], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits (K, V) of the right-padded batch at positions (rows[k], cols[k]) only."""
        raise NotImplementedError

    def token_keys(self, encoded: Encoded) -> list[Hashable]:
        """What identifies each context token for prefix sharing (packing.py): its id, unless it stands for
        part of an image."""
        return list(encoded.ids)

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        """Outputs at (rows[k], cols[k]) of a packed batch; `head` turns them into vocabulary logits.
        `contexts[r]` is the encoded context of request r (packs name their requests)."""
        raise NotImplementedError

    def head(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def batchable(self, batch: list[Encoded]) -> bool:
        """Whether these contexts' inputs can share one forward pass."""
        return True

    def generate(
        self, batch: list[Encoded], max_new_tokens: int, num_beams: int, length_penalty: float | None = None
    ) -> list[list[int]]:
        """New token ids per row; rows in a batch have equal length and compatible inputs (no padding). A
        `length_penalty` of None leaves the generation config's (`beam_rules`)."""
        raise NotImplementedError

    @property
    def generation_config(self) -> Any:
        """The generation config `generate` would apply (decides whether an exact custom loop may stand in)."""
        return getattr(self.model, "generation_config", None)

    def set_generation_config(self, config: Any) -> None:
        """Replace the config `generate` falls back on (decoding.py: the protocol decides decoding)."""
        self.model.generation_config = config

    def start_decoding(self, batch: list[Encoded]) -> DecodeSession:
        """The batch prefilled for the harness's own decoding loops (search.py): rows of any length, each
        decoding as it would alone. Families that declare `own_decoding` implement it."""
        raise NotImplementedError

    def decoding_key(self, encoded: Encoded) -> tuple:
        """Rows with equal keys can share one `start_decoding` batch."""
        return ()

    def stop_ids(self) -> list[int]:
        """The end-of-sequence ids `generate` stops at: its generation config's (none where it has none)."""
        ids = getattr(self.generation_config, "eos_token_id", None)
        if ids is None:
            return []
        return [ids] if isinstance(ids, int) else [int(i) for i in ids]

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def image_features(self, images: list[ImageInput]) -> torch.Tensor:
        """One feature vector per image from the model's own vision encoder (for RICES demo selection):
        the pooled output where the model gives one, else the mean over its image tokens."""
        pixels = self.processor.image_processor([image.load() for image in images], return_tensors="pt")
        pixel_values = pixels["pixel_values"].to(self.device, self.model.dtype)
        out = self.model.get_image_features(pixel_values=pixel_values)
        if not torch.is_tensor(out):
            pooled = getattr(out, "pooler_output", None)
            out = pooled if pooled is not None else out[0]
        if isinstance(out, (list, tuple)):  # some models return one tensor per image
            out = torch.stack([o.reshape(-1, o.shape[-1]).mean(0) for o in out])
        return out.reshape(len(images), -1, out.shape[-1]).mean(1).float()

    def group_key(self, encoded: Encoded) -> tuple:
        """Rows with equal keys can be batched for generation without padding."""
        return (len(encoded.ids), len(encoded.images), tuple((k, tuple(v.shape)) for k, v in encoded.extras.items()))

    def _padded(self, batch: list[Encoded]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(e.ids) for e in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, encoded in enumerate(batch):
            ids[row, : len(encoded.ids)] = torch.tensor(encoded.ids)
            mask[row, : len(encoded.ids)] = 1
        return ids.to(self.device), mask.to(self.device)


def make_adapter(family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> Adapter:
    """The family's adapter around a loaded model."""
    return family.adapter_class()(family, model, processor, device, image_workers)
