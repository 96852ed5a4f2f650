"""Shared-prefix packing: the layout by hand, then parity with the naive per-candidate forward pass.

The naive reference (tests/test_hf_parity.py) runs the model class's full forward once per (context,
continuation), each image encoded on its own, in float64 sums. Packing must agree to 1e-4 in float32 for
single-image, multi-image and few-shot contexts, with packs padded on the left and on the right, and when small
budgets split one request over several packs and several packs over several forward passes.
"""

from __future__ import annotations

import pytest
import torch

from kosmos_eval.backends.hf.packing import PackItem, batch_packs, pack
from kosmos_eval.core.types import Context, RankRequest
from kosmos_eval.errors import BackendOutOfMemory
from kosmos_eval.runner.batcher import Batcher
from tests.images import image_input
from tests.test_hf_parity import naive_kosmos2, naive_llava

pytestmark = pytest.mark.slow

TOL = 1e-4


def test_trie_layout_by_hand():
    # request 0: context [1, 2, 3], continuations [4] and [5, 6]; request 1: context [1, 2, 7], continuation [8]
    # tree: 1 - 2 - 3 - 4           depth-first: index 0:1 1:2 2:3 3:4 4:5 5:6 6:7 7:8
    #               \   \ 5 - 6     depths        0    1    2    3    3    4    2    3
    #                \ 7 - 8        subtree ends  8    8    6    4    6    6    8    8
    items = [PackItem(0, [1, 2, 3], [1, 2, 3], [[4], [5, 6]]), PackItem(1, [1, 2, 7], [1, 2, 7], [[8]])]
    (only,) = pack(items, max_tokens=100)
    assert only.ids.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert only.positions.tolist() == [0, 1, 2, 3, 3, 4, 2, 3]
    assert only.subtree_end.tolist() == [8, 8, 6, 4, 6, 6, 8, 8]
    # token 4 is predicted by the output at "3" (index 2); 5 also by "3", 6 by "5" (index 4); 8 by "7" (index 6)
    assert only.predictors.tolist() == [2, 2, 4, 6]
    assert only.targets.tolist() == [4, 5, 6, 8]
    assert only.spans == [(0, 0, 1), (0, 1, 2), (1, 0, 1)]
    assert only.requests == [0, 1] and only.special == []


def test_keys_keep_equal_ids_apart_and_budget_splits_a_request():
    # equal ids with different keys (two images' slots) are not merged
    items = [PackItem(0, ["a", "b"], [9, 9], [[1]]), PackItem(1, ["a", "c"], [9, 9], [[1]])]
    (only,) = pack(items, max_tokens=100)
    assert only.ids.tolist() == [9, 9, 1, 9, 1] and only.positions.tolist() == [0, 1, 2, 1, 2]
    assert only.special == [(0, "a"), (1, "b"), (3, "c")]
    # a request with four continuations and a budget of 5 tokens: context (2) + 3 one-token continuations,
    # then the context again with the last one
    split = pack([PackItem(0, [1, 2], [1, 2], [[3], [4], [5], [6]])], max_tokens=5)
    assert [p.ids.tolist() for p in split] == [[1, 2, 3, 4, 5], [1, 2, 6]]
    assert [[c for _, c, _ in p.spans] for p in split] == [[0, 1, 2], [3]]
    # without sharing across requests, identical contexts still get a pack each
    separate = pack([PackItem(0, [1], [1], [[2]]), PackItem(1, [1], [1], [[3]])], 100, share_across_requests=False)
    assert [p.ids.tolist() for p in separate] == [[1, 2], [1, 3]]


def test_many_continuations_take_the_cached_chain_layout_and_equal_the_trie_layout():
    """Over `shared_limit` continuation tokens a request is laid out as a chain plus a cached forest; the
    result is the same pack the trie gives (context [1, 2], names [3], [3, 4], [5, 6] -> 1 2 3 4 5 6)."""
    item = PackItem(0, [1, "s"], [1, 2], [[3], [3, 4], [5, 6]])
    (chain,) = pack([item], 100, shared_limit=0)
    (trie,) = pack([item], 100)
    for field in ("ids", "positions", "subtree_end", "predictors", "targets"):
        assert getattr(chain, field).tolist() == getattr(trie, field).tolist(), field
    assert chain.positions.tolist() == [0, 1, 2, 3, 2, 3]
    assert chain.predictors.tolist() == [1, 1, 2, 1, 4]  # 3 <- "2"; 3 <- "2", 4 <- "3"; 5 <- "2", 6 <- "5"
    assert chain.spans == trie.spans == [(0, 0, 1), (0, 1, 2), (0, 2, 2)]
    assert chain.special == trie.special == [(1, "s")]
    # a budget of 4 tokens leaves 2 below the context: [3] and [3, 4] share "3" (2 tokens), then [5, 6]
    assert [p.ids.tolist() for p in pack([item], 4, shared_limit=0)] == [[1, 2, 3, 4], [1, 2, 5, 6]]


@pytest.mark.parametrize("side", ["left", "right"])
def test_mask_is_ancestors_and_padding_sees_only_itself(side):
    short = pack([PackItem(0, [1], [1], [[2], [3]])], 100)[0]  # 1 -> 2, 1 -> 3: 3 tokens
    long = pack([PackItem(1, [1, 2, 3, 4], [1, 2, 3, 4], [[5]])], 100)[0]  # a chain of 5 tokens
    batch = batch_packs([long, short], pad_id=0, dtype=torch.float32, device="cpu", padding_side=side)
    visible = batch.attention[:, 0] == 0
    offset = 2 if side == "left" else 0
    assert batch.offsets == [0, offset]
    assert torch.equal(visible[0], torch.ones(5, 5).tril().bool())  # a chain is plain causal attention
    rows = visible[1, offset : offset + 3, offset : offset + 3]
    # token "3" (index 2) sees the root and itself, not its sibling "2"
    assert rows.tolist() == [[True, False, False], [True, True, False], [True, False, True]]
    pads = [i for i in range(5) if not offset <= i < offset + 3]
    for i in pads:
        assert visible[1, i].nonzero().flatten().tolist() == [i]
        assert not visible[1, offset : offset + 3, i].any()
    assert batch.positions[1, offset : offset + 3].tolist() == [0, 1, 1]


def requests() -> list[RankRequest]:
    panels = [image_input(i) for i in range(4)]
    demo_a, demo_b = image_input(8), image_input(9)
    few_shot = ["An image of", " a cat.", demo_a, " An image of", " a dog.", demo_b, " An image of"]
    return [
        RankRequest(Context.of(image_input(7), "The photo of the"), (" cat", " red bus", " dog", " sofa", " cat sofa")),
        # Raven-like: candidate contexts sharing the same panels, one continuation each
        *[
            RankRequest(
                Context.of("Here are four images:", panels, " The following image is:", image_input(c), " Correct?"),
                (" Yes",),
            )
            for c in (10, 11, 12)
        ],
        RankRequest(Context.of(*few_shot[:2]), (" a cat", " a dog")),  # context ending in text, no image yet
        RankRequest(Context.of(image_input(5), *few_shot), (" a cat.", " a red bus parked")),
        RankRequest(Context.of("Question: what is the sentiment of the opinion? Answer:"), (" positive", " negative")),
    ]


def check_against_naive(backend, results, naive) -> None:
    for request, result in zip(requests(), results, strict=True):
        for i, continuation in enumerate(request.continuations):
            expected = naive(backend, request.context, continuation, result.num_tokens[i])
            assert abs(result.logprobs[i] - expected) < TOL, (request.context.render(), continuation)


def kosmos2_naive(backend, context, continuation, num_tokens):
    total, n = naive_kosmos2(backend, context, continuation)
    assert n == num_tokens
    return total


@pytest.fixture
def tuned(request):
    """The backend with packing budgets set for one test, restored afterwards (backends are session-wide)."""
    backend = request.getfixturevalue(request.param)
    saved = (backend.packing, backend.padding_side, backend.max_pack_tokens, backend.max_forward_tokens)
    yield backend
    backend.packing, backend.padding_side, backend.max_pack_tokens, backend.max_forward_tokens = saved


@pytest.mark.parametrize("tuned", ["kosmos2_backend"], indirect=True)
@pytest.mark.parametrize(("side", "pack_tokens", "forward_tokens"), [("right", 512, 4096), ("left", 48, 160)])
def test_kosmos2_packed_rank_equals_naive(tuned, side, pack_tokens, forward_tokens):
    """Small budgets split the first request over packs and the batch over forwards of different widths."""
    tuned.padding_side, tuned.max_pack_tokens, tuned.max_forward_tokens = side, pack_tokens, forward_tokens
    assert tuned.adapter.can_pack
    check_against_naive(tuned, tuned.rank(requests()), kosmos2_naive)


@pytest.mark.parametrize("tuned", ["llava_backend"], indirect=True)
@pytest.mark.parametrize("side", ["left", "right"])
def test_llava_packed_rank_equals_naive(tuned, side):
    tuned.padding_side, tuned.max_pack_tokens, tuned.max_forward_tokens = side, 64, 256
    assert tuned.adapter.can_pack
    check_against_naive(tuned, tuned.rank(requests()), naive_llava)


@pytest.mark.parametrize("tuned", ["kosmos2_backend", "llava_backend"], indirect=True)
def test_packed_equals_row_per_continuation_path(tuned):
    packed = tuned.rank(requests())
    tuned.packing = False
    rows = tuned.rank(requests())
    for a, b in zip(packed, rows, strict=True):
        assert a.num_tokens == b.num_tokens and a.is_greedy == b.is_greedy
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < TOL


def test_shared_panels_are_encoded_once(tiny_kosmos2):
    from kosmos_eval.backends.hf.backend import HFBackend

    backend = HFBackend(pretrained=str(tiny_kosmos2), dtype="float32", device="cpu")
    backend.rank(requests())
    # distinct images: 7 (first request) + panels 0-3 + candidates 10-12 + demos 8, 9 + query 5 = 1+4+3+2+1 = 11,
    # though the panels appear 12 times and the demos twice
    assert backend.adapter.images.encoded == 11
    backend.rank(requests())  # a second pass finds them all in the cache
    assert backend.adapter.images.encoded == 11


class FailingFirst:
    """Wraps a backend's packed forward so the first `failures` calls run out of memory."""

    def __init__(self, adapter, failures: int) -> None:
        self.adapter, self.failures, self.original = adapter, failures, adapter.packed_outputs

    def __call__(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.original(*args, **kwargs)


@pytest.mark.parametrize("tuned", ["kosmos2_backend"], indirect=True)
@pytest.mark.parametrize("failures", [1, 6])
def test_simulated_out_of_memory_completes_with_the_same_results(tuned, failures, monkeypatch):
    """One failure halves the batch; six drive it to one request and then shrink the backend's forward passes."""
    expected = Batcher(tuned, 8).run(requests())
    monkeypatch.setattr(tuned.adapter, "packed_outputs", FailingFirst(tuned.adapter, failures))
    batcher = Batcher(tuned, None)
    batcher.batch_size = 8
    got = batcher.run(requests())
    assert batcher.batch_size == (4 if failures == 1 else 1)
    if failures == 6:  # 8 -> 4 -> 2 -> 1, then forward budgets halved three times
        assert tuned.max_forward_tokens < 4096
    for a, b in zip(expected, got, strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < TOL
        assert a.is_greedy == b.is_greedy


def test_out_of_memory_with_nothing_left_to_shrink_is_one_clear_error(kosmos2_backend, monkeypatch):
    from kosmos_eval.errors import UserError

    monkeypatch.setattr(kosmos2_backend, "reduce_memory", lambda: False)
    monkeypatch.setattr(
        kosmos2_backend, "rank", lambda _requests: (_ for _ in ()).throw(BackendOutOfMemory("simulated"))
    )
    batcher = Batcher(kosmos2_backend, None)
    batcher.batch_size = 2
    with pytest.raises(UserError, match="Out of memory at batch size 1: the model does not fit"):
        batcher.run(requests()[:3])
