"""Shared pieces of the hf-backend benchmarks (issue 7).

Every benchmark builds Kosmos-2 in memory with random weights (nothing is downloaded or written to disk), wraps
it in the real `HFBackend` and times the public backend API against a naive or plain-transformers reference
computed in the same run. Two sizes:

* real (default): `Kosmos2Config()` defaults (24-layer 2048-wide decoder, 65,037-token output head, ViT-L/14
  at 224, 64 image slots) in bfloat16 on CUDA. Only these numbers are benchmarks.
* `--tiny`: the 2-layer 64-wide model of kosmos_eval/tiny in float32 on CPU, so every script can be
  smoke-tested on a laptop and in CI. Its timings mean nothing; its equality checks do.

The reference computations here (`prompt_layout`, `continuation_ids`, `naive_logprob`) are written from the
documented Kosmos-2 input format, not from the backend's adapter, so that a fast path that drifts from the
format is caught rather than copied.

The command line, the printed table and the JSON file the scripts share are in benchmarks/cli.py.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image

from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
PATCH_INDEX_TOKENS = 16  # as kosmos_eval/tiny: the benchmark never decodes boxes, so a few are enough

T = TypeVar("T")


@dataclass
class Bench:
    """A model, its processor and the backend around it, plus the Kosmos-2 layout ids the references need."""

    model: Any
    processor: Any
    backend: Any
    tiny: bool
    device: str
    dtype: torch.dtype
    slot_ids: list[int] = field(default_factory=list)  # ids the official processor writes into image slots
    boi: int = 0
    eoi: int = 0

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def num_slots(self) -> int:
        return len(self.slot_ids)

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).replace("torch.", "")

    def sync(self) -> None:
        """Wait for queued GPU work, so wall-clock times cover the work and not only its launch."""
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()


# -- building the model ------------------------------------------------------------------------------------
def model_config(tiny: bool, vocab_size: int) -> Any:
    """Kosmos-2's real defaults, or the tiny shape of kosmos_eval/tiny (text vocab = the tokenizer's)."""
    from transformers import Kosmos2Config

    if not tiny:
        config = Kosmos2Config()
        if config.text_config.vocab_size < vocab_size:
            raise UserError(f"tokenizer has {vocab_size} tokens, more than Kosmos-2's {config.text_config.vocab_size}")
        return config
    text = {"vocab_size": vocab_size, "embed_dim": 64, "layers": 2, "attention_heads": 4, "ffn_dim": 128}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    return Kosmos2Config(
        text_config={**text, "max_position_embeddings": 512},
        vision_config={**vision, "image_size": 32, "patch_size": 8},
        latent_query_num=8,
    )


@lru_cache(maxsize=2)
def build_bench(tiny: bool, seed: int = 0) -> Bench:
    """Build the random-weight model and its backend (cached: the test suite runs every script in-process).

    The real model is created directly on the GPU in bfloat16 (transformers' own initialisers: normal with
    std 0.02 in the decoder), which takes seconds instead of the minutes a CPU build plus copy would.
    Rows of the tied embedding / output head past the trained tokenizer's base vocabulary (grounding markup,
    image tags, and the ids the small tokenizer does not have) are zeroed: the matmul keeps its full
    65,037-wide cost, but those ids score 0 while real pieces score around ±1, so generations are plain text
    that decodes the same way on every path. (The `<image>` / `</image>` embeddings become zero vectors;
    harmless with random weights.)
    """
    from transformers import Kosmos2ForConditionalGeneration, Kosmos2Processor

    from kosmos_eval.backends.hf.backend import HFBackend
    from kosmos_eval.backends.hf.families import family_for
    from kosmos_eval.backends.hf.loading import LoadedModel
    from kosmos_eval.tiny import clip_image_processor
    from kosmos_eval.tiny.tokenizer import xlmr_tokenizer

    if not tiny and not torch.cuda.is_available():
        raise UserError("no CUDA GPU is visible: run the real-size benchmark on the GPU machine, or add --tiny")
    device = "cpu" if tiny else "cuda"
    dtype = torch.float32 if tiny else torch.bfloat16
    processor = Kosmos2Processor(
        image_processor=clip_image_processor(32 if tiny else 224),  # the vision configs' image_size below
        tokenizer=xlmr_tokenizer(),
        num_patch_index_tokens=PATCH_INDEX_TOKENS,
    )
    vocab = len(processor.tokenizer)
    config = model_config(tiny, vocab)
    torch.manual_seed(seed)
    with torch.device(device):
        model = Kosmos2ForConditionalGeneration._from_config(config, dtype=dtype)
    model.eval()
    with torch.no_grad():
        model.text_model.lm_head.weight[processor.tokenizer.vocab_size :] = 0  # tied with embed_tokens
    backend = HFBackend.from_loaded(
        LoadedModel(
            model=model,
            processor=processor,
            family=family_for("kosmos-2"),
            model_type="kosmos-2",
            pretrained="random-kosmos2-tiny" if tiny else "random-kosmos2",
            revision=None,
            weights_sha256=None,
            dtype=str(dtype).replace("torch.", ""),
            device=device,
        )
    )
    bench = Bench(model=model, processor=processor, backend=backend, tiny=tiny, device=device, dtype=dtype)
    _read_official_layout(bench, config.latent_query_num)
    return bench


def _read_official_layout(bench: Bench, num_slots: int) -> None:
    """Take `<image>`, `</image>` and the slot filler ids from the official processor's own output."""
    tokenizer = bench.tokenizer
    bench.boi = tokenizer.convert_tokens_to_ids("<image>")
    bench.eoi = tokenizer.convert_tokens_to_ids("</image>")
    out = bench.processor(images=Image.new("RGB", (8, 8)), text="a", num_image_tokens=num_slots)
    ids = list(out["input_ids"])
    start, end = ids.index(bench.boi) + 1, ids.index(bench.eoi)
    bench.slot_ids = ids[start:end]
    if len(bench.slot_ids) != num_slots:
        raise RuntimeError(f"processor wrote {len(bench.slot_ids)} image slots, config says {num_slots}")


# -- inputs ---------------------------------------------------------------------------------------------------
def noise_images(
    count: int, seed: int, prefix: str, size: tuple[int, int] = (320, 240), stream: int = 0
) -> list[ImageInput]:
    """Random-noise RGB images with distinct keys (`prefix-0`, ...) and distinct pixels.

    Each measurement takes its own `stream` (warm-up, timed set, each batch size): the backend may cache
    vision features by pixel content, and a timed run must not find features a previous run computed.
    """
    rng = np.random.default_rng([seed, zlib.crc32(prefix.encode()), stream])  # the prefix names the set too
    return [
        ImageInput.from_pil(f"{prefix}-{i}", Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), np.uint8)))
        for i in range(count)
    ]


def image_size(bench: Bench) -> tuple[int, int]:
    """A photo-like 4:3 size for real runs (preprocessing is part of the cost); tiny runs use tiny images."""
    return (40, 30) if bench.tiny else (320, 240)


def vocab_words(tokenizer: Any) -> list[str]:
    """Plain alphabetic pieces of the tokenizer's vocabulary (no ▁ marker, no special or added tokens)."""
    special = set(tokenizer.all_special_tokens) | set(tokenizer.get_added_vocab())
    words = {piece.lstrip("▁") for piece in tokenizer.get_vocab() if piece not in special}
    return sorted(w for w in words if w.isalpha())


def random_phrases(tokenizer: Any, rng: np.random.Generator, count: int, max_words: int) -> list[str]:
    """`count` phrases of 1..max_words words, each word glued from 1-3 random vocabulary pieces."""
    words = vocab_words(tokenizer)
    phrases = []
    for _ in range(count):
        n_words = int(rng.integers(1, max_words + 1))
        glued = ("".join(rng.choice(words, size=int(rng.integers(1, 4)))) for _ in range(n_words))
        phrases.append(" ".join(glued))
    return phrases


def continuation_ids(tokenizer: Any, tail: str, continuation: str) -> list[int]:
    """lm-evaluation-harness's split: tokens of (tail + continuation) after those of tail alone."""
    whole = tokenizer(tail + continuation, add_special_tokens=False)["input_ids"]
    head = tokenizer(tail, add_special_tokens=False)["input_ids"] if tail else []
    return whole[len(head) :]


def prompt_layout(bench: Bench, segments: Sequence[str | ImageInput]) -> tuple[list[int], list[int]]:
    """Kosmos-2 ids `<s> text <image> [slots] </image> text ...` and the slot positions, with adjacent text
    merged into one run before tokenising (the layout docs/ARCHITECTURE.md documents for the backend)."""
    runs: list[str | ImageInput] = []
    for segment in segments:
        if isinstance(segment, str) and runs and isinstance(runs[-1], str):
            runs[-1] = runs[-1] + segment
        else:
            runs.append(segment)
    ids = [bench.tokenizer.bos_token_id]
    slots: list[int] = []
    for run in runs:
        if isinstance(run, str):
            ids += bench.tokenizer(run, add_special_tokens=False)["input_ids"]
        else:
            ids.append(bench.boi)
            slots += range(len(ids), len(ids) + bench.num_slots)
            ids += bench.slot_ids
            ids.append(bench.eoi)
    return ids, slots


def trailing_text(segments: Sequence[str | ImageInput]) -> str:
    """The text after the last image (the part a continuation is tokenised against)."""
    tail = ""
    for segment in segments:
        tail = tail + segment if isinstance(segment, str) else ""
    return tail


def pixel_values(bench: Bench, images: Sequence[ImageInput]) -> torch.Tensor:
    pixels = bench.processor.image_processor([image.load() for image in images], return_tensors="pt")
    return pixels["pixel_values"].to(bench.device, bench.dtype)


def naive_logprob(bench: Bench, segments: Sequence[str | ImageInput], continuation: str) -> float:
    """Summed log-probability of one continuation by the slowest honest route: one full forward of the model
    class (vision tower included, every position's full-vocabulary logits) for this one row, sum in float64."""
    ids, slots = prompt_layout(bench, segments)
    cont = continuation_ids(bench.tokenizer, trailing_text(segments), continuation)
    row = torch.tensor([ids + cont], device=bench.device)
    mask = torch.zeros_like(row, dtype=torch.bool)
    mask[0, slots] = True
    images = [s for s in segments if isinstance(s, ImageInput)]
    with torch.inference_mode():
        logits = bench.model(
            input_ids=row, pixel_values=pixel_values(bench, images), image_embeds_position_mask=mask
        ).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        positions = torch.arange(len(ids), row.shape[1], device=bench.device)
        picked = logprobs[positions - 1, row[0, positions]]
    return float(picked.double().sum())


def max_abs_diff(results: Sequence[Any], naive: Sequence[Sequence[float]]) -> float:
    """Largest |fast - naive| over the requests the naive path scored (the first len(naive) results)."""
    return max(
        abs(fast - slow)
        for result, row in zip(results, naive, strict=False)
        for fast, slow in zip(result.logprobs, row, strict=True)
    )


def require_finite(values: Sequence[float], what: str) -> None:
    """Random weights that overflow would make every comparison meaningless: stop with one line."""
    bad = sum(1 for v in values if not math.isfinite(v))
    if bad:
        raise RuntimeError(f"{what}: {bad} of {len(values)} values are not finite (random init overflowed?)")


# -- measuring ------------------------------------------------------------------------------------------------
def timed(bench: Bench, work: Callable[[], T]) -> tuple[T, float]:
    """Run `work` once and return its result and the wall-clock seconds, GPU queue drained at both ends."""
    bench.sync()
    start = time.perf_counter()
    result = work()
    bench.sync()
    return result, time.perf_counter() - start


def reset_peak_memory(bench: Bench) -> None:
    if bench.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib(bench: Bench) -> float | None:
    """torch.cuda.max_memory_allocated since the last reset, in GiB (None on CPU)."""
    return torch.cuda.max_memory_allocated() / 2**30 if bench.device.startswith("cuda") else None


def matmul_peak(bench: Bench, iterations: int = 20) -> dict[str, Any]:
    """Achievable dense matmul throughput in the model's dtype, measured here rather than taken from a data
    sheet: an 8192³ product timed with CUDA events (a 256³ float32 product on CPU for --tiny)."""
    size = 256 if bench.tiny else 8192
    a = torch.randn(size, size, device=bench.device, dtype=bench.dtype)
    b = torch.randn(size, size, device=bench.device, dtype=bench.dtype)
    for _ in range(3):
        a @ b
    if bench.device.startswith("cuda"):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        begin.record()
        for _ in range(iterations):
            a @ b
        end.record()
        torch.cuda.synchronize()
        seconds = begin.elapsed_time(end) / 1000
    else:
        _, seconds = timed(bench, lambda: [a @ b for _ in range(iterations)])
    flops = 2 * size**3 * iterations
    return {"size": size, "dtype": bench.dtype_name, "iterations": iterations, "tflops": flops / seconds / 1e12}


def decoder_non_embedding_params(model: Any) -> int:
    """Parameters of the text decoder's blocks and norms: token embeddings (tied with the output head) and the
    fixed sinusoidal positions excluded, as in the usual 2·N·tokens FLOP estimate."""
    decoder = model.text_model.model
    return sum(p.numel() for name, p in decoder.named_parameters() if not name.startswith("embed_tokens"))
