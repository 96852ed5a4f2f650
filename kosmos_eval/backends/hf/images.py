"""The image side of the hf backend: decoding ahead of the GPU, and encoding each distinct image once.

Decoding a JPEG and resizing it in Pillow takes milliseconds of CPU per image; done in the loop that feeds the
GPU, the GPU waits. `ImagePipeline.prefetch` hands the images of upcoming batches to background threads (Pillow
releases the GIL while decoding and resizing), so by the time a batch runs its pixels are ready.

Vision features are cached by the content of the preprocessed pixels (SHA-1 of the tensor bytes): Raven's eight
panels recur in all six candidate contexts, a demonstration shown to several queries of a step is encoded once,
and an image stored under two paths is still encoded once. The cache lives for one step of the run
(`forget_features`, called by `Backend.start_step`): an image encoded in a batch beside other images differs
in the last bits from the same image encoded beside others, so features carried over from an earlier step
would make a step's numbers depend on which steps ran before it in the process (a resumed run would differ
from an uninterrupted one). Within a step it is bounded too (least recently used entries go first).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from kosmos_eval.core.types import ImageInput


class ImagePipeline:
    def __init__(
        self,
        prepare: Callable[[ImageInput], Any],
        encode: Callable[[torch.Tensor], torch.Tensor] | None = None,
        workers: int = 4,
        max_cached: int = 512,
    ) -> None:
        """`prepare` turns one image into what the model's preprocessing gives (pixels, or a decoded image);
        `encode` maps stacked pixels to one feature tensor per image (None when the model encodes images
        itself, inside its forward pass)."""
        self.prepare = prepare
        self.encode = encode
        self.max_cached = max_cached
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="kosmos-images") if workers > 0 else None
        self._pending: dict[str, Future] = {}
        self._hash_of_key: OrderedDict[str, str] = OrderedDict()
        self._features: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.encoded = 0  # images actually run through the vision encoder (tests and benchmarks read it)

    def prefetch(self, images: Iterable[ImageInput]) -> None:
        """Start preparing these images in the background (no-op without workers or when already known)."""
        if self._pool is None:
            return
        for image in images:
            if image.key in self._pending or self._cached_key(image.key) is not None:
                continue
            self._pending[image.key] = self._pool.submit(self.prepare, image)

    def prepared(self, image: ImageInput) -> Any:
        """The prepared image, from a background worker when one was started for it."""
        future = self._pending.pop(image.key, None)
        return future.result() if future is not None else self.prepare(image)

    def features(self, images: Iterable[ImageInput]) -> dict[str, torch.Tensor]:
        """Features of each distinct image (by key), encoding in one batch only what is not cached."""
        if self.encode is None:
            raise RuntimeError("this pipeline has no encoder")
        found: dict[str, torch.Tensor] = {}
        missing: dict[str, tuple[str, torch.Tensor]] = {}  # key -> (content hash, pixels)
        for image in images:
            if image.key in found or image.key in missing:
                continue
            cached = self._cached_key(image.key)
            if cached is not None:
                found[image.key] = cached
                continue
            pixels = self.prepared(image)
            content = hashlib.sha1(pixels.contiguous().numpy().tobytes()).hexdigest()
            self._remember_key(image.key, content)
            if content in self._features:
                self._features.move_to_end(content)
                found[image.key] = self._features[content]
            else:
                missing[image.key] = (content, pixels)
        if missing:
            by_content: dict[str, torch.Tensor] = {}
            for content, pixels in missing.values():
                by_content.setdefault(content, pixels)
            encoded = self.encode(torch.stack(list(by_content.values())))
            self.encoded += len(by_content)
            for content, features in zip(by_content, encoded, strict=True):
                self._features[content] = features
                while len(self._features) > self.max_cached:
                    self._features.popitem(last=False)
            row_of = {content: row for row, content in enumerate(by_content)}
            for key, (content, _) in missing.items():
                found[key] = encoded[row_of[content]]
        return found

    def forget_features(self) -> None:
        """Drop every cached feature (decoded pixels in flight and the key -> content map stay: they are exact)."""
        self._features.clear()

    def _cached_key(self, key: str) -> torch.Tensor | None:
        content = self._hash_of_key.get(key)
        if content is None or content not in self._features:
            return None
        self._features.move_to_end(content)
        return self._features[content]

    def _remember_key(self, key: str, content: str) -> None:
        self._hash_of_key[key] = content
        while len(self._hash_of_key) > 8 * self.max_cached:
            self._hash_of_key.popitem(last=False)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
