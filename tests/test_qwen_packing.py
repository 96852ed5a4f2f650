"""Shared-prefix packing across requests for the M-RoPE families (families/qwen.py): requests that share a
prefix share its tokens in one pack, and every score still equals the row-per-continuation path.

The conformance suite checks packing on its five contexts, which share little; here the shared prefixes are
the point: Raven-style candidates after the same eight panels, few-shot prompts with the same demonstrations,
a context that another extends with an image (its continuations sit inside the shorter context's subtree at
another rope delta), and the same image twice in one context.
"""

from __future__ import annotations

import pytest

from kosmos_eval.backends.hf.backend import HFBackend
from kosmos_eval.backends.hf.families import families
from kosmos_eval.backends.hf.families.qwen import QwenVLAdapter
from kosmos_eval.backends.hf.packing import PackItem, pack
from kosmos_eval.core.types import Context, RankRequest
from kosmos_eval.tiny import build_tiny_model
from tests.images import image_input

pytestmark = pytest.mark.slow

PACKING = [
    name
    for name, family in families().items()
    if family.packing and issubclass(family.adapter_class(), QwenVLAdapter) and not family.refuse
]


def shared_requests() -> list[RankRequest]:
    panels = [image_input(i) for i in range(8)]
    raven = [
        RankRequest(
            Context.of("Here are eight images:", *panels, " The following image is:", image_input(50 + k), " Is it?"),
            (" Yes", " No"),
        )
        for k in range(3)
    ]
    demos = (image_input(30), "An image of a cat.", image_input(31), "An image of a dog.")
    few_shot = [
        RankRequest(Context.of(*demos, image_input(60 + k), "An image of"), (" a cat", " a red bus parked"))
        for k in range(3)
    ]
    extended = [
        RankRequest(Context.of("An image of"), (" a cat", " a dog")),
        RankRequest(Context.of("An image of", image_input(70), " a"), (" cat", " dog walking")),
        RankRequest(Context.of("An image of", image_input(70), " a cat"), (" walking",)),
        RankRequest(Context.of("An image of a"), (" cat", " dog")),
    ]
    twice = [RankRequest(Context.of(image_input(30), "A cat.", image_input(30), "An image of"), (" a cat",))]
    return raven + few_shot + extended + twice


@pytest.mark.slow
@pytest.mark.parametrize("name", PACKING)
def test_requests_sharing_a_pack_score_as_rows(name, tmp_path):
    backend = HFBackend(pretrained=str(build_tiny_model(name, tmp_path / name)), dtype="float32", device="cpu")
    adapter = backend.adapter
    assert adapter.can_pack and adapter.share_across_requests
    requests = shared_requests()
    items = [
        PackItem(r, adapter.token_keys(e), e.ids, [adapter.continuation_ids(q.context, c) for c in q.continuations])
        for r, (q, e) in enumerate(zip(requests, (adapter.encode(q.context) for q in requests), strict=True))
    ]
    packs = pack(items, backend.max_pack_tokens, adapter.share_across_requests)
    assert len(packs) < len(requests)  # prefixes are shared: the check below is about shared packs
    backend.packing = True
    packed = backend.rank(requests)
    backend.packing = False
    rows = backend.rank(requests)
    for request, a, b in zip(requests, packed, rows, strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < 1e-4, request.context
