"""Data-parallel runs under torchrun or `accelerate launch`: one process per GPU, examples sharded by rank.

Both launchers set RANK, WORLD_SIZE and LOCAL_RANK (and MASTER_ADDR/MASTER_PORT); nothing else is needed.
Sharding is over the examples still pending, in the task's stable order: example i goes to rank i mod N, so
every example is computed exactly once whatever the world size, and a run can be resumed with any number of
processes. Each rank appends to its own samples file (no two processes write one file); rank 0 merges them
into samples.jsonl and writes the one summary. Synchronisation is three barriers over torch.distributed
(gloo on CPU, nccl on GPU), set up only when there is more than one process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's share: every `size`-th item starting at `rank`."""
        return list(items[self.rank :: self.size])

    def barrier(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()

    def device(self, requested: str | None) -> str | None:
        """One GPU per process: a bare or absent CUDA device becomes this process's local GPU."""
        if self.size == 1 or requested not in (None, "", "auto", "cuda"):
            return requested
        import torch

        return f"cuda:{self.local_rank}" if torch.cuda.is_available() else requested


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else default


def current_world() -> World:
    """The world this process runs in (a single process unless launched by torchrun or accelerate)."""
    world = World(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))
    if world.size > 1:
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(world.local_rank)
            dist.init_process_group(backend=backend)
    return world
