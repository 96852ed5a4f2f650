"""Few-shot demonstrations: which training examples are shown before each query.

`make_sampler(name, pool, seed, ...)` returns a `DemoSampler`; the runner asks it for k demos per query and
records their ids in every sample, so any run can be reproduced and audited.
"""

from kosmos_eval.fewshot.samplers import (
    SAMPLERS,
    BalancedSampler,
    DemoSampler,
    FixedSampler,
    RandomSampler,
    make_sampler,
)

__all__ = ["SAMPLERS", "BalancedSampler", "DemoSampler", "FixedSampler", "RandomSampler", "make_sampler"]
