"""RICES demo selection (Retrieval-based In-Context Example Selection, as in open_flamingo's evaluation): the
demonstrations for a query are the pool examples whose images are closest to the query image by cosine
similarity of the backend's own vision features, shown most similar last (next to the query).

Pool features are computed once per (model fingerprint, pool) and cached on disk under
`$KOSMOS_EVAL_CACHE` (default ~/.cache/kosmos-eval)/features/, so the next run with the same model and pool
starts at once. A cache file records the image keys it holds; a mismatch recomputes instead of misaligning.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kosmos_eval.core.types import Example, ImageInput
from kosmos_eval.errors import UserError

CACHE_ENV = "KOSMOS_EVAL_CACHE"
EMBED_BATCH = 32


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "kosmos-eval")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


class FeatureStore:
    """L2-normalised image features of one backend, cached on disk per set of image keys."""

    def __init__(self, backend: Any, progress: bool = True) -> None:
        self.embed: Callable[[list[ImageInput]], np.ndarray] = backend.embed_images
        self.folder = cache_root() / "features" / _digest(backend.fingerprint())
        self.progress = progress

    def features(self, images: Sequence[ImageInput], what: str) -> np.ndarray:
        """Features of a fixed set of images (the demo pool), computed once and cached on disk."""
        keys = [image.key for image in images]
        path = self.folder / f"{_digest(keys)}.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as cached:
                if list(cached["keys"]) == keys:
                    return cached["features"]
        matrix = self.compute(images, f"rices: {what} features" if self.progress else None)
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, keys=np.asarray(keys), features=matrix)
        os.replace(partial, path)
        return matrix

    def compute(self, images: Sequence[ImageInput], bar: str | None = None) -> np.ndarray:
        """L2-normalised features, embedded in batches of EMBED_BATCH from the first image (a feature depends in
        its last bits on the batch it was computed in, so the same list always gives the same numbers)."""
        rows = []
        with tqdm(total=len(images), desc=bar, unit="img", disable=bar is None) as progress:
            for start in range(0, len(images), EMBED_BATCH):
                chunk = list(images[start : start + EMBED_BATCH])
                rows.append(np.asarray(self.embed(chunk), dtype=np.float32))
                progress.update(len(chunk))
        matrix = np.concatenate(rows) if rows else np.zeros((0, 1), dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1.0, norms)


class RicesSampler:
    name = "rices"

    def __init__(
        self,
        pool: Sequence[Example],
        store: FeatureStore,
        image_of: Callable[[Example], ImageInput],
        exclude_query: bool = True,
    ) -> None:
        self.pool = list(pool)
        self.exclude_query = exclude_query  # leave out the pool example with the query's id (samplers.py)
        self.store = store
        self.image_of = image_of
        self.pool_features = store.features([image_of(e) for e in self.pool], "demo pool")
        self.query_features: dict[str, np.ndarray] = {}

    def prepare(self, queries: Sequence[Example]) -> None:
        """Embed the queries together before they are sampled one by one. The runner calls it with each step's
        whole window of the example list (runner/steps.py), so a query's features, and hence its demos, are the
        same whatever else this run computed or resumed."""
        missing = [q for q in queries if q.id not in self.query_features]
        if missing:
            matrix = self.store.compute([self.image_of(q) for q in missing])
            self.query_features.update({q.id: row for q, row in zip(missing, matrix, strict=True)})

    def sample(self, query: Example, k: int) -> list[Example]:
        if k == 0:
            return []
        features = self.query_features.get(query.id)
        if features is None:  # not prepared with its window: embedded alone, and not kept (its window's differ)
            features = self.store.compute([self.image_of(query)])[0]
        similarity = self.pool_features @ features
        # stable order: by similarity, then pool position, so equal scores never depend on the backend's noise
        order = np.lexsort((np.arange(len(self.pool)), -similarity))
        exclude = query.id if self.exclude_query else None
        chosen = [self.pool[i] for i in order[: k + 1] if exclude is None or self.pool[i].id != exclude][:k]
        if len(chosen) < k:
            raise UserError(f"--shots {k}: the demo pool holds only {len(chosen)} usable examples")
        return chosen[::-1]  # most similar last, next to the query
