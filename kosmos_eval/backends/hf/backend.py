"""The transformers backend: summed continuation log-probabilities and greedy / beam generation.

Model-family details live in adapters.py; this module does what is the same for every family: expanding a
rank request into one row per continuation, gathering only the needed log-probs, stop strings, and turning
CUDA out-of-memory into BackendOutOfMemory so the runner can split the batch and retry without losing work.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch

from kosmos_eval.backends.hf.adapters import Encoded, ProcessorAdapter, make_adapter
from kosmos_eval.backends.hf.constrained import constrained_beam_search
from kosmos_eval.backends.hf.loading import describe, load_model
from kosmos_eval.config import DEFAULT_MODEL_ID
from kosmos_eval.core.text import cut_at_stop
from kosmos_eval.core.types import GenerateRequest, ImageInput, RankRequest, RankResult
from kosmos_eval.errors import BackendOutOfMemory, UserError

MODEL_ARGS = {
    "pretrained": f"hub id or local folder (default {DEFAULT_MODEL_ID})",
    "revision": "hub revision (branch, tag or commit)",
    "dtype": "float32 | bfloat16 | float16 | auto (bf16 on GPU, fp32 on CPU; default auto)",
    "device": "cpu | cuda | cuda:N | auto (default: --device, else auto)",
    "trust_remote_code": "true to allow custom model code from the hub (default false)",
    "attn_implementation": "eager | sdpa | flash_attention_2 (default: transformers' choice)",
}


def _bool(value: str, key: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise UserError(f"--model-args {key}={value!r}: expected true or false")


class HFBackend:
    name = "hf"
    max_rows_per_forward = 256  # rank rows (context + one continuation) scored in one forward pass

    def __init__(self, seed: int = 1234, device: str | None = None, **model_args: str) -> None:
        unknown = set(model_args) - set(MODEL_ARGS)
        if unknown:
            raise UserError(
                f"--model-args: unknown key {sorted(unknown)[0]!r} for --model hf (known: {', '.join(MODEL_ARGS)})"
            )
        if device and model_args.get("device") and model_args["device"] != device:
            raise UserError(f"--device {device} and --model-args device={model_args['device']} disagree; give one")
        self.loaded = load_model(
            pretrained=model_args.get("pretrained", DEFAULT_MODEL_ID),
            revision=model_args.get("revision"),
            dtype=model_args.get("dtype", "auto"),
            device=model_args.get("device") or device,
            trust_remote_code=_bool(model_args.get("trust_remote_code", "false"), "trust_remote_code"),
            attn_implementation=model_args.get("attn_implementation"),
        )
        self.adapter = make_adapter(
            self.loaded.model_type, self.loaded.model, self.loaded.processor, self.loaded.device
        )
        self.tokenizer = self.adapter.tokenizer

    def fingerprint(self) -> dict[str, Any]:
        return describe(self.loaded)

    def default_batch_size(self) -> int:
        return 32 if self.loaded.device.startswith("cuda") else 8

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        """Vision features per image (RICES); see Adapter.image_features."""
        try:
            with torch.inference_mode():
                return self.adapter.image_features(images).cpu().numpy()
        except torch.OutOfMemoryError as exc:
            raise BackendOutOfMemory(str(exc)) from exc

    # -- ranking -------------------------------------------------------------------------------------------
    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        rows: list[Encoded] = []
        spans: list[tuple[int, int]] = []  # continuation token span of each row
        for request in requests:
            context = self.adapter.encode(request.context)
            for continuation in request.continuations:
                cont = self.adapter.continuation_ids(request.context, continuation)
                rows.append(context.extended(cont))
                spans.append((len(context.ids), len(context.ids) + len(cont)))
        # one request may carry many continuations (ImageNet: 1,000 class names): bound the rows per forward
        scores = [
            score
            for start in range(0, len(rows), self.max_rows_per_forward)
            for score in self._score_rows(
                rows[start : start + self.max_rows_per_forward], spans[start : start + self.max_rows_per_forward]
            )
        ]
        results, cursor = [], 0
        for request in requests:
            count = len(request.continuations)
            chunk = scores[cursor : cursor + count]
            cursor += count
            results.append(
                RankResult(
                    logprobs=tuple(s[0] for s in chunk),
                    num_tokens=tuple(s[1] for s in chunk),
                    is_greedy=tuple(s[2] for s in chunk),
                )
            )
        return results

    def _score_rows(self, rows: list[Encoded], spans: list[tuple[int, int]]) -> list[tuple[float, int, bool]]:
        if isinstance(self.adapter, ProcessorAdapter) and not self.adapter.batchable(rows):
            return [s for r, sp in zip(rows, spans, strict=True) for s in self._score_rows([r], [sp])]
        # position p predicts token p + 1: the logits for a continuation spanning [start, end) sit at start-1..end-2
        row_index = torch.tensor([r for r, (a, b) in enumerate(spans) for _ in range(a, b)])
        col_index = torch.tensor([p - 1 for a, b in spans for p in range(a, b)])
        targets = torch.tensor([rows[r].ids[p] for r, (a, b) in enumerate(spans) for p in range(a, b)])
        try:
            with torch.inference_mode():
                logits = self.adapter.logits_at(
                    rows, row_index.to(self.loaded.device), col_index.to(self.loaded.device)
                )
                logprobs = torch.log_softmax(logits.float(), dim=-1)
                targets = targets.to(logprobs.device)
                token_lp = logprobs.gather(1, targets[:, None])[:, 0]
                greedy = logprobs.argmax(dim=-1) == targets
        except torch.OutOfMemoryError as exc:
            raise BackendOutOfMemory(str(exc)) from exc
        out, cursor = [], 0
        for start, end in spans:
            n = end - start
            out.append(
                (
                    float(token_lp[cursor : cursor + n].double().sum()),
                    n,
                    bool(greedy[cursor : cursor + n].all()),
                )
            )
            cursor += n
        return out

    # -- generation ----------------------------------------------------------------------------------------
    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        encoded = [self.adapter.encode(r.context) for r in requests]
        outputs: list[str] = [""] * len(requests)
        # Batch only rows that need no padding (same length, same image layout), so a request's output never
        # depends on what it was batched with.
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, (request, enc) in enumerate(zip(requests, encoded, strict=True)):
            if request.constrained:
                outputs[i] = self._constrained(request, enc)
            else:
                groups[(self.adapter.group_key(enc), request.max_new_tokens, request.num_beams)].append(i)
        for (_, max_new_tokens, num_beams), members in groups.items():
            try:
                with torch.inference_mode():
                    new_tokens = self.adapter.generate([encoded[i] for i in members], max_new_tokens, num_beams)
            except torch.OutOfMemoryError as exc:
                raise BackendOutOfMemory(str(exc)) from exc
            for i, tokens in zip(members, new_tokens, strict=True):
                text = self.adapter.decode(tokens)
                outputs[i] = cut_at_stop(text, requests[i].stop).strip()
        return outputs

    def _constrained(self, request: GenerateRequest, encoded: Encoded) -> str:
        sequences = [self.adapter.continuation_ids(request.context, c) for c in request.candidates]
        try:
            with torch.inference_mode():
                result = constrained_beam_search(self.adapter, encoded, sequences, request.num_beams)
        except torch.OutOfMemoryError as exc:
            raise BackendOutOfMemory(str(exc)) from exc
        return request.candidates[result.index].strip()
