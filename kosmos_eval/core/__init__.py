"""Core types, contracts and registries."""

from kosmos_eval.core.backend import Backend
from kosmos_eval.core.registry import BACKENDS, TASKS, register_backend, register_task
from kosmos_eval.core.types import (
    Context,
    Example,
    GenerateRequest,
    ImageInput,
    RankRequest,
    RankResult,
    Request,
)

__all__ = [
    "BACKENDS",
    "TASKS",
    "Backend",
    "Context",
    "Example",
    "GenerateRequest",
    "ImageInput",
    "RankRequest",
    "RankResult",
    "Request",
    "register_backend",
    "register_task",
]
