"""Model-family adapters: how a Context becomes token ids and image inputs, and how a model is run on them.

The backend (backend.py) owns everything shared: continuation splitting, padding, log-prob gathering, stop
strings. An adapter knows only its family's input format, as its Family entry (families/) declares it:

* ProcessorAdapter serves the processor-based families: the context is written as text with the family's
  image text at each image's place, the processor expands tokens and prepares pixels, and the per-token
  outputs the family names (token type ids, cross-attention masks) are extended over continuations and padded
  with the ids, so every row the model sees is what its own processor and `generate` would give it.
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
from kosmos_eval.backends.hf.session import ForwardSession, left_pad_tokens, left_padded
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


class ProcessorAdapter(Adapter):
    share_across_requests = False  # pixel inputs belong to a row, so a pack holds one request
    supports_chat = True

    def __init__(self, family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> None:
        super().__init__(family, model, processor, device, image_workers)
        image_token = getattr(processor, "image_token", None) or "<image>"
        self.image_text = family.image_text.format(image=image_token)
        attention = getattr(model.config, "_attn_implementation", None)
        # packing hands the model a custom 4D float mask, which only eager and sdpa attention take
        self.can_pack = family.packing and attention in (None, "eager", "sdpa")

    def prompt_text(self, context: Context) -> str:
        """The context as the processor's text: the family's image text at each image, or the chat template's
        rendering of it. Text at the end goes without its trailing whitespace unless the family keeps it
        (`trailing_space`): continuations start with it instead."""
        if self.chat_template:
            return self.rendered(context)
        runs = text_runs(context)
        if runs and isinstance(runs[-1], str) and self.trailing_space != "keep":
            runs[-1] = runs[-1].rstrip()
        return "".join(run if isinstance(run, str) else self.image_text for run in runs)

    def encode(self, context: Context) -> Encoded:
        text = self.prompt_text(context)
        images = context.images
        if len(images) > 1 and not self.family.multi_image:
            raise UserError(f"{self.family.label} takes one image per prompt; this task's prompts have {len(images)}")
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
        if self.chat_template:  # the template writes its own special tokens, as apply_chat_template tokenises
            kwargs["add_special_tokens"] = False
        if images:
            kwargs["images"] = [[self.images.prepared(image) for image in images]]
        out = self.processor(**kwargs)
        ids = out["input_ids"][0].tolist()
        length = len(ids)
        if ids and ids[-1] == self.tokenizer.eos_token_id:
            ids = ids[:-1]  # a context is continued, never ended: drop an end-of-sequence the tokenizer added
        skip = {"input_ids", "attention_mask", *self.family.drop}
        extras = {k: v for k, v in out.items() if k not in skip and torch.is_tensor(v)}
        per_token = {key: rule for key, rule in self.family.extend.items() if key in extras}
        for key, value in extras.items():
            looks_per_token = not value.is_floating_point() and value.dim() >= 2 and value.shape[:2] == (1, length)
            if key in per_token and value.shape[1] != length:
                raise UserError(f"{self.family.label}: processor output {key!r} is not one entry per token")
            if looks_per_token and key not in per_token and self.family.name == "generic":
                raise UserError(
                    f"model type {self.model.config.model_type!r} is not a declared family, and its processor "
                    f"returns {key!r} per token, which the generic path cannot extend over a continuation"
                )
        for key in per_token:
            extras[key] = extras[key][:, : len(ids)]
        return Encoded(ids=ids, images=images, extras=extras, per_token=per_token)

    def _extras(self, batch: list[Encoded], width: int | None = None) -> dict[str, torch.Tensor]:
        """The batch's processor outputs: per-image ones concatenated, per-token ones padded to `width`."""
        merged: dict[str, torch.Tensor] = {}
        for key in batch[0].extras:
            parts = [e.extras[key] for e in batch]
            if key in batch[0].per_token and width is not None:
                parts = [_pad_tokens(part, width) for part in parts]
            merged[key] = torch.cat(parts, dim=0).to(self.device)
            if merged[key].is_floating_point():
                merged[key] = merged[key].to(self.model.dtype)
        return merged

    def logits_at(self, batch: list[Encoded], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        # Generic models may post-process logits (scaling, soft-capping), so take the model's own logits.
        ids, attention = self._padded(batch)
        out = self.model(input_ids=ids, attention_mask=attention, **self._extras(batch, ids.shape[1]))
        return out.logits[rows, cols]

    def packed_outputs(
        self, batch: PackedBatch, contexts: Sequence[Encoded], rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        extras = self._extras([contexts[p.requests[0]] for p in batch.packs])
        out = self.model(input_ids=batch.ids, attention_mask=batch.attention, position_ids=batch.positions, **extras)
        return out.logits[rows, cols]

    def generate(
        self, batch: list[Encoded], max_new_tokens: int, num_beams: int, length_penalty: float | None = None
    ) -> list[list[int]]:
        ids, attention = self._padded(batch)
        out = self.model.generate(
            input_ids=ids,
            attention_mask=attention,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            pad_token_id=self.pad_id,
            **beam_rules(length_penalty),
            **self._extras(batch, ids.shape[1]),
        )
        return [row[ids.shape[1] :].tolist() for row in out]

    def start_decoding(self, batch: list[Encoded]) -> DecodeSession:
        ids, attention, positions = left_padded([e.ids for e in batch], self.pad_id)
        width = ids.shape[1]
        image_inputs: dict[str, torch.Tensor] = {}
        per_token: dict[str, torch.Tensor] = {}
        keys = dict.fromkeys(key for e in batch for key in e.extras)  # text-only rows have no image inputs
        for key in keys:
            if any(key in e.per_token for e in batch):
                parts = [e.extras.get(key, torch.zeros((1, len(e.ids)), dtype=torch.long)) for e in batch]
                per_token[key] = torch.cat([left_pad_tokens(part, width) for part in parts]).to(self.device)
            else:  # per image, in the order of the image tokens
                image_inputs[key] = torch.cat([e.extras[key] for e in batch if key in e.extras]).to(self.device)
                if image_inputs[key].is_floating_point():
                    image_inputs[key] = image_inputs[key].to(self.model.dtype)
        positions = self.decoding_positions(batch, ids, attention, positions)
        device = self.device
        return ForwardSession(
            self.model, ids.to(device), attention.to(device), positions.to(device), image_inputs, per_token
        )

    def decoding_positions(
        self, batch: list[Encoded], ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        """The positions the model gets for left-padded rows: by default each row counted from its first token
        (M-RoPE families replace them with their three-row positions)."""
        return positions

    def batchable(self, batch: list[Encoded]) -> bool:
        """Per-image processor outputs concatenate along the batch only when their trailing shapes agree
        (per-token ones are padded to the batch's width)."""
        first = batch[0]
        per_image = [key for key in first.extras if key not in first.per_token]
        return all(
            e.extras.keys() == first.extras.keys()
            and all(e.extras[k].shape[1:] == first.extras[k].shape[1:] for k in per_image)
            for e in batch
        )

    def group_key(self, encoded: Encoded) -> tuple:
        per_image = tuple((k, tuple(v.shape)) for k, v in encoded.extras.items() if k not in encoded.per_token)
        return (len(encoded.ids), len(encoded.images), per_image)

    def decoding_key(self, encoded: Encoded) -> tuple:
        """Per-image inputs concatenate along the batch only when their trailing shapes agree (a tiled image
        has more tiles than another); rows of any length may share a batch."""
        return tuple((k, tuple(v.shape[1:])) for k, v in encoded.extras.items() if k not in encoded.per_token)


def _pad_tokens(value: torch.Tensor, width: int) -> torch.Tensor:
    """A per-token output right-padded with zeros to `width` (padded positions are masked out anyway)."""
    if value.shape[1] >= width:
        return value
    pad = torch.zeros((value.shape[0], width - value.shape[1], *value.shape[2:]), dtype=value.dtype)
    return torch.cat([value, pad], dim=1)


def make_adapter(family: Family, model: Any, processor: Any, device: str, image_workers: int = 4) -> Adapter:
    """The family's adapter around a loaded model."""
    return family.adapter_class()(family, model, processor, device, image_workers)
