"""The transformers backend. torch and transformers are imported only when a model is actually loaded, so
`kosmos-eval list` and the chance baseline start fast."""

from __future__ import annotations

from typing import Any

from kosmos_eval.core.registry import register_backend


@register_backend("hf")
class HF:
    """Factory registered as `--model hf`; builds the real backend (backend.HFBackend) on demand."""

    name = "hf"

    def __new__(cls, seed: int = 1234, device: str | None = None, **model_args: str) -> Any:
        from kosmos_eval.backends.hf.backend import HFBackend

        return HFBackend(seed=seed, device=device, **model_args)
