"""The transformers backend: summed continuation log-probabilities and greedy / beam generation.

Model-family details live in adapters.py; this module does what is the same for every family: laying rank
requests out for the model (shared-prefix packs where the family supports them, packing.py; else one padded
row per continuation), gathering only the needed log-probs, stop strings, and turning CUDA out-of-memory into
BackendOutOfMemory so the runner can shrink the batch and retry without losing work.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from kosmos_eval.backends.hf import HF, chat, decoding, read_model_args, search
from kosmos_eval.backends.hf.adapters import Encoded, make_adapter
from kosmos_eval.backends.hf.constrained import constrained_beam_search
from kosmos_eval.backends.hf.families import GENERIC
from kosmos_eval.backends.hf.loading import LoadedModel, describe, load_model
from kosmos_eval.backends.hf.packing import Pack, PackItem, batch_packs, pack
from kosmos_eval.config import DEFAULT_MODEL_ID
from kosmos_eval.core.backend import Backend, PromptBudget
from kosmos_eval.core.text import cut_at_stop
from kosmos_eval.core.types import Context, GenerateRequest, ImageInput, RankRequest, RankResult, Request
from kosmos_eval.errors import BackendOutOfMemory, UserError

HEAD_ROWS = 2048  # output-head rows per slice: 2,048 x 65k vocabulary x 4 bytes = 0.5 GB of logits at most
MIN_PACK_TOKENS = 64


class HFBackend(Backend):
    name = "hf"

    def __init__(self, seed: int = 1234, device: str | None = None, **model_args: str) -> None:
        HF.validate(model_args)
        if device and model_args.get("device") and model_args["device"] != device:
            raise UserError(f"--device {device} and --model-args device={model_args['device']} disagree; give one")
        args = read_model_args(model_args)  # every typed argument, before the model loads
        self.generation_policy = args.generation_policy
        loaded = load_model(
            pretrained=model_args.get("pretrained", DEFAULT_MODEL_ID),
            revision=model_args.get("revision"),
            dtype=model_args.get("dtype", "auto"),
            device=model_args.get("device") or device,
            trust_remote_code=args.trust_remote_code,
            attn_implementation=model_args.get("attn_implementation"),
            device_map=model_args.get("device_map"),
        )
        self._attach(loaded, image_workers=args.image_workers)
        if args.chat_template:
            self.adapter.use_chat_template(loaded.pretrained)
        self.checkpoint_generation = decoding.settings(self.adapter.generation_config)
        if self.generation_policy == "protocol":  # the checkpoint's decoding preferences never leak in
            self.adapter.set_generation_config(decoding.protocol_config(self.adapter.generation_config))
        self.packing, self.padding_side = args.packing, args.padding_side
        self.own_decoding = args.decode_loop == "harness"
        self.max_pack_tokens = args.max_pack_tokens or self.max_pack_tokens  # the defaults depend on the device
        self.max_forward_tokens = max(args.max_forward_tokens or self.max_forward_tokens, self.max_pack_tokens)

    def _attach(self, loaded: LoadedModel, image_workers: int = 4) -> None:
        self.loaded = loaded
        self.adapter = make_adapter(loaded.family, loaded.model, loaded.processor, loaded.device, image_workers)
        self.tokenizer = self.adapter.tokenizer
        on_gpu = loaded.device.startswith("cuda")
        self.packing = True
        self.own_decoding = True
        self.padding_side = "right"
        self.max_pack_tokens = 1024 if on_gpu else 512
        self.max_forward_tokens = 32768 if on_gpu else 4096
        self.max_rows_per_forward = 256  # the row-per-continuation path: rows scored in one forward pass

    @classmethod
    def from_loaded(cls, loaded: LoadedModel) -> HFBackend:
        """A backend around a model already in memory (benchmarks build real-size models with random weights
        this way, without writing gigabytes to disk)."""
        backend = cls.__new__(cls)
        backend._attach(loaded)
        return backend

    def prompt_budget(self) -> PromptBudget | None:
        text_config = self.loaded.model.config.get_text_config()
        limit = getattr(text_config, "max_position_embeddings", None)
        if not isinstance(limit, int) or limit <= 0:
            return None
        return PromptBudget(limit, lambda context: len(self.adapter.encode(context).ids), self._text_prefix)

    def _text_prefix(self, text: str, tokens: int) -> str:
        """The longest start of `text` of at most `tokens` tokens (character offsets of the tokenizer)."""
        if tokens <= 0:
            return ""
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        return text if len(offsets) <= tokens else text[: offsets[tokens - 1][1]]

    def decoding_settings(self) -> dict[str, Any]:
        return {
            "generation_config": getattr(self, "generation_policy", "checkpoint"),
            "settings": decoding.settings(self.adapter.generation_config),
            "checkpoint_settings": getattr(self, "checkpoint_generation", None),
        }

    def fingerprint(self) -> dict[str, Any]:
        described = describe(self.loaded)
        if self.adapter.chat_template:  # prompts went through this template: another one is another run
            described["chat_template_sha256"] = chat.template_sha256(self.adapter.chat_template)
        return described

    def default_batch_size(self) -> int:
        return 32 if self.loaded.device.startswith("cuda") else 8

    @contextlib.contextmanager
    def _named_failures(self) -> Iterator[None]:
        """A failure inside the model names the family: for an undeclared model type it is the user's one-line
        error (the generic path is unverified for it); for a declared family it is a bug, reported as such."""
        try:
            yield
        except (UserError, BackendOutOfMemory, torch.OutOfMemoryError):
            raise
        except Exception as exc:
            loaded = self.loaded
            detail = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            if loaded.family is GENERIC:
                raise UserError(
                    f"model type {loaded.model_type!r} ({loaded.pretrained}) is not a declared family, and the "
                    f"generic path failed on it ({detail}); see docs/models.md for declaring a family"
                ) from exc
            raise RuntimeError(f"{loaded.family.label} ({loaded.model_type}): {detail}") from exc

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        """Vision features per image (RICES); see Adapter.image_features."""
        with self._named_failures():
            return self._embed_images(images)

    def _embed_images(self, images: list[ImageInput]) -> np.ndarray:
        try:
            with torch.inference_mode():
                return self.adapter.image_features(images).cpu().numpy()
        except torch.OutOfMemoryError as exc:
            raise BackendOutOfMemory(str(exc)) from exc

    # -- ranking -------------------------------------------------------------------------------------------
    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        with self._named_failures():
            return self._rank(requests)

    def _rank(self, requests: list[RankRequest]) -> list[RankResult]:
        contexts = [self.adapter.encode(request.context) for request in requests]
        continuations = [
            [self._candidate_ids(request.context, c, request.end_of_sequence) for c in request.continuations]
            for request in requests
        ]
        if self.packing and self.adapter.can_pack:
            scores = self._rank_packed(contexts, continuations)
        else:
            scores = self._rank_rows(contexts, continuations)
        return [
            RankResult(
                logprobs=tuple(scores[(r, c)][0] for c in range(len(request.continuations))),
                num_tokens=tuple(len(tokens) for tokens in continuations[r]),
                is_greedy=tuple(scores[(r, c)][1] for c in range(len(request.continuations))),
            )
            for r, request in enumerate(requests)
        ]

    def _rank_packed(
        self, contexts: list[Encoded], continuations: list[list[list[int]]]
    ) -> dict[tuple[int, int], tuple[float, bool]]:
        """Shared-prefix packing (packing.py): every context once per pack, continuations after it."""
        items = [
            PackItem(r, self.adapter.token_keys(encoded), encoded.ids, continuations[r])
            for r, encoded in enumerate(contexts)
        ]
        packs = pack(items, self.max_pack_tokens, self.adapter.share_across_requests)
        packs.sort(key=len, reverse=True)  # length-sorted: packs of similar length share a forward pass
        scores: dict[tuple[int, int], tuple[float, bool]] = {}
        while packs:
            # the first (longest) pack sets the padded width: add packs while the padded batch fits the budget
            # and their inputs can share a batch (per-row pixel inputs of equal shape)
            first, group, rest = packs[0], [packs[0]], []
            for other in packs[1:]:
                fits = (len(group) + 1) * len(first) <= self.max_forward_tokens
                if fits and self.adapter.batchable([contexts[first.requests[0]], contexts[other.requests[0]]]):
                    group.append(other)
                else:
                    rest.append(other)
            scores.update(self._score_packs(group, contexts))
            packs = rest
        return scores

    def _score_packs(self, packs: list[Pack], contexts: list[Encoded]) -> dict[tuple[int, int], tuple[float, bool]]:
        try:
            with torch.inference_mode():
                batch = batch_packs(
                    packs, self.adapter.pad_id, self.loaded.model.dtype, self.loaded.device, self.padding_side
                )
                rows = np.concatenate([np.full(len(p.targets), row) for row, p in enumerate(packs)])
                cols = np.concatenate([p.predictors + offset for p, offset in zip(packs, batch.offsets, strict=True)])
                targets = np.concatenate([p.targets for p in packs])
                device = self.loaded.device
                outputs = self.adapter.packed_outputs(
                    batch, contexts, torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)
                )
                token_lp, greedy = self._gather(outputs, targets)
        except torch.OutOfMemoryError as exc:
            raise BackendOutOfMemory(str(exc)) from exc
        spans = [span for p in packs for span in p.spans]
        return self._sum_spans(token_lp, greedy, [(r, c) for r, c, _ in spans], [n for _, _, n in spans])

    def _rank_rows(
        self, contexts: list[Encoded], continuations: list[list[list[int]]]
    ) -> dict[tuple[int, int], tuple[float, bool]]:
        """One padded row per (context, continuation): for models packing does not support."""
        rows = [
            (r, c, encoded.extended(tokens), len(encoded.ids))
            for r, encoded in enumerate(contexts)
            for c, tokens in enumerate(continuations[r])
        ]
        scores: dict[tuple[int, int], tuple[float, bool]] = {}
        for start in range(0, len(rows), self.max_rows_per_forward):
            chunk = rows[start : start + self.max_rows_per_forward]
            if not self.adapter.batchable([row[2] for row in chunk]):
                for row in chunk:
                    scores.update(self._score_rows([row]))
            else:
                scores.update(self._score_rows(chunk))
        return scores

    def _score_rows(self, chunk: list[tuple[int, int, Encoded, int]]) -> dict[tuple[int, int], tuple[float, bool]]:
        # position p predicts token p + 1: the logits for a continuation spanning [start, end) sit at start-1..end-2
        row_index = [i for i, (_, _, row, start) in enumerate(chunk) for _ in range(start, len(row.ids))]
        col_index = [p - 1 for _, _, row, start in chunk for p in range(start, len(row.ids))]
        targets = [row.ids[p] for _, _, row, start in chunk for p in range(start, len(row.ids))]
        device = self.loaded.device
        try:
            with torch.inference_mode():
                logits = self.adapter.logits_at(
                    [row for _, _, row, _ in chunk],
                    torch.tensor(row_index, device=device),
                    torch.tensor(col_index, device=device),
                )
                token_lp, greedy = self._gather(logits, targets, head=False)
        except torch.OutOfMemoryError as exc:
            raise BackendOutOfMemory(str(exc)) from exc
        return self._sum_spans(
            token_lp, greedy, [(r, c) for r, c, _, _ in chunk], [len(row.ids) - start for _, _, row, start in chunk]
        )

    def _gather(
        self, outputs: torch.Tensor, targets: list[int] | np.ndarray, head: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Log-probability of each target token and whether it is the argmax, computed in slices so no
        (tokens x vocabulary) tensor larger than HEAD_ROWS rows exists; one device-to-host copy at the end."""
        target = torch.as_tensor(np.asarray(targets, dtype=np.int64), device=outputs.device)
        token_lp, greedy = [], []
        for start in range(0, len(targets), HEAD_ROWS):
            part = outputs[start : start + HEAD_ROWS]
            logits = (self.adapter.head(part) if head else part).float()
            logprobs = torch.log_softmax(logits, dim=-1)
            wanted = target[start : start + HEAD_ROWS]
            token_lp.append(logprobs.gather(1, wanted[:, None])[:, 0])
            greedy.append(logprobs.argmax(dim=-1) == wanted)
        return torch.cat(token_lp).double().cpu().numpy(), torch.cat(greedy).cpu().numpy()

    @staticmethod
    def _sum_spans(
        token_lp: np.ndarray, greedy: np.ndarray, names: list[tuple[int, int]], lengths: list[int]
    ) -> dict[tuple[int, int], tuple[float, bool]]:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        sums = np.add.reduceat(token_lp, starts)
        all_greedy = np.logical_and.reduceat(greedy, starts)
        return {name: (float(sums[i]), bool(all_greedy[i])) for i, name in enumerate(names)}

    def check_requests(self, requests: Sequence[Request]) -> None:
        """A text-only model refuses a task whose prompts show images (where its config was not at hand before
        loading: text_only.py), and a family that takes one image per prompt a task whose prompts have
        more, before any runs."""
        family = self.loaded.family
        if family.text_only and any(r.context.images for r in requests):
            raise UserError(
                f"{self.loaded.pretrained} ({family.label}, model type {self.loaded.model_type!r}) is a text-only "
                "language model, and this task's prompts show images: run it on the language tasks, the "
                "commonsense probes or websrc with --task-option setting=text_only"
            )
        if family.multi_image:
            return
        crowded = next((r for r in requests if len(r.context.images) > 1), None)
        if crowded is not None:
            raise UserError(
                f"{family.label} takes one image per prompt, and this task's prompts have "
                f"{len(crowded.context.images)} (several images or few-shot demos): choose a single-image task "
                "or --shots 0"
            )

    # -- memory ------------------------------------------------------------------------------------------------
    def rendered_prompt(self, context: Context) -> str | None:
        return self.adapter.rendered(context) if self.adapter.chat_template else None

    def start_step(self) -> None:
        # image features cached by an earlier step were encoded beside other images than this step would
        # encode them with: dropped, so the step's numbers do not depend on what ran before it
        self.adapter.images.forget_features()

    def prefetch(self, requests: list[RankRequest | GenerateRequest]) -> None:
        """Start decoding the images of upcoming requests in background threads (the runner calls this
        with the next batch while the current one runs)."""
        self.adapter.images.prefetch(image for request in requests for image in request.context.images)

    def reduce_memory(self) -> bool:
        """Smaller forward passes after an out-of-memory at batch size 1 (one ImageNet request alone is
        1,000 continuations); False when nothing is left to shrink."""
        if self.max_forward_tokens > self.max_pack_tokens or self.max_rows_per_forward > 1:
            self.max_forward_tokens = max(self.max_pack_tokens, self.max_forward_tokens // 2)
            self.max_rows_per_forward = max(1, self.max_rows_per_forward // 2)
            return True
        if self.max_pack_tokens > MIN_PACK_TOKENS:
            self.max_pack_tokens = self.max_forward_tokens = max(MIN_PACK_TOKENS, self.max_pack_tokens // 2)
            return True
        return False

    # -- generation ----------------------------------------------------------------------------------------
    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        with self._named_failures():
            return self._generate(requests)

    def _generate(self, requests: list[GenerateRequest]) -> list[str]:
        encoded = [self.adapter.encode(r.context) for r in requests]
        outputs: list[str] = [""] * len(requests)
        # Rows of any length share a left-padded batch where the family has the harness's own decoding loops
        # (search.py) and the generation config asks for nothing they do not do; otherwise `generate` decodes
        # only rows that need no padding (same length, same image layout). Either way a request's output never
        # depends on what it was batched with.
        rules = decoding.own_loop_rules(self.adapter.generation_config) if self.own_loop_available else None
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, (request, enc) in enumerate(zip(requests, encoded, strict=True)):
            settings = (request.max_new_tokens, request.num_beams, request.length_penalty)
            if request.constrained:
                outputs[i] = self._constrained(request, enc)
            elif rules is not None:
                groups[(("own loop", self.adapter.decoding_key(enc)), *settings)].append(i)
            else:
                groups[(self.adapter.group_key(enc), *settings)].append(i)
        for (layout, max_new_tokens, num_beams, length_penalty), members in groups.items():
            rows = [encoded[i] for i in members]
            try:
                with torch.inference_mode():
                    if layout[0] == "own loop":
                        # a request's length penalty overrides the generation config's, as in `generate`
                        given = {} if length_penalty is None else {"length_penalty": length_penalty}
                        new_tokens = self._own_loop(rows, max_new_tokens, num_beams, {**(rules or {}), **given})
                    else:
                        new_tokens = self.adapter.generate(rows, max_new_tokens, num_beams, length_penalty)
            except torch.OutOfMemoryError as exc:
                raise BackendOutOfMemory(str(exc)) from exc
            for i, tokens in zip(members, new_tokens, strict=True):
                text = self.adapter.decode(tokens)
                outputs[i] = cut_at_stop(text, requests[i].stop).strip()
        return outputs

    @property
    def own_loop_available(self) -> bool:
        """Whether the harness's own decoding loops serve this model (`decode_loop=harness` and a family that
        declares them); the generation config may still send a request to `generate`."""
        return self.own_decoding and self.adapter.family.own_decoding

    def _own_loop(
        self, rows: list[Encoded], max_new_tokens: int, num_beams: int, rules: dict[str, Any]
    ) -> list[list[int]]:
        session = self.adapter.start_decoding(rows)
        stops, pad = self.adapter.stop_ids(), self.adapter.pad_id
        if num_beams == 1:
            return search.greedy_search(session, max_new_tokens, stops, pad)
        return search.beam_search(session, num_beams, max_new_tokens, stops, pad, **rules)

    def _candidate_ids(self, context: Any, continuation: str, end_of_sequence: bool) -> list[int]:
        ids = self.adapter.continuation_ids(context, continuation)
        return [*ids, self.tokenizer.eos_token_id] if end_of_sequence else ids

    def _constrained(self, request: GenerateRequest, encoded: Encoded) -> str:
        sequences = [self._candidate_ids(request.context, c, request.end_of_sequence) for c in request.candidates]
        try:
            with torch.inference_mode():
                result = constrained_beam_search(self.adapter, encoded, sequences, request.num_beams)
        except torch.OutOfMemoryError as exc:
            raise BackendOutOfMemory(str(exc)) from exc
        return request.candidates[result.index].strip()
