"""Prefix-tree constrained beam search: it only ever emits a candidate, a narrow beam prunes exactly as
hand-computed, and a beam as wide as the candidate list finds the ranking argmax on the tiny model."""

from __future__ import annotations

import math

import pytest
import torch

from kosmos_eval.backends.hf.adapters import Encoded
from kosmos_eval.backends.hf.constrained import build_tree, constrained_beam_search
from kosmos_eval.core.types import Context, GenerateRequest, RankRequest
from tests.images import image_input


class TableAdapter:
    """A fake model over a 5-token vocabulary: next-token probabilities looked up by the tokens after the
    context (the prefix), so every score in the tests below can be computed by hand."""

    device = "cpu"

    def __init__(self, context_length: int, table: dict[tuple[int, ...], list[float]]) -> None:
        self.context_length = context_length
        self.table = table

    def logits_at(self, batch: list[Encoded], rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        out = []
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            prefix = tuple(batch[row].ids[self.context_length : col + 1])
            out.append(torch.tensor(self.table[prefix]).log())  # probabilities -> logits (softmax gives them back)
        return torch.stack(out)


# Candidates: A = [1, 2], B = [1, 3], C = [4]. First step: P(1) = 0.6, P(4) = 0.4.
# After 1: P(2) = 0.3, P(3) = 0.2 (the rest elsewhere). So A = 0.18, B = 0.12, C = 0.4: C is best overall.
TABLE = {
    (): [0.0, 0.6, 0.0, 0.0, 0.4],
    (1,): [0.5, 0.0, 0.3, 0.2, 0.0],
}
CANDIDATES = [[1, 2], [1, 3], [4]]


def test_wide_beam_returns_the_best_candidate_with_its_exact_log_probability() -> None:
    adapter = TableAdapter(1, TABLE)
    result = constrained_beam_search(adapter, Encoded([7]), CANDIDATES, num_beams=3)  # type: ignore[arg-type]
    assert result.index == 2 and result.logprob == pytest.approx(math.log(0.4))
    # C finishes at step 1 (log 0.4), but the live prefix [1] (log 0.6) could still beat it, so a second
    # step runs: A = log 0.18 and B = log 0.12 finish below C and nothing is left alive
    assert result.steps == 2


def test_search_stops_once_the_best_finished_candidate_beats_every_live_beam() -> None:
    table = {(): [0.0, 0.3, 0.0, 0.0, 0.7], (1,): [0.0, 0.0, 0.5, 0.5, 0.0]}
    result = constrained_beam_search(TableAdapter(1, table), Encoded([7]), CANDIDATES, num_beams=3)  # type: ignore[arg-type]
    assert (result.index, result.steps) == (2, 1)  # C = log 0.7 >= the live prefix's log 0.3: no second step


def test_narrow_beam_prunes_and_can_miss_the_best_candidate() -> None:
    table = {(): [0.0, 0.6, 0.0, 0.0, 0.4], (1,): [0.0, 0.0, 0.9, 0.1, 0.0]}
    longer = [[1, 2], [1, 3], [4, 2]]  # C now needs two tokens, so it must survive pruning
    table[(4,)] = [0.0, 0.0, 1.0, 0.0, 0.0]
    wide = constrained_beam_search(TableAdapter(1, table), Encoded([7]), longer, num_beams=2)  # type: ignore[arg-type]
    assert wide.index == 0 and wide.logprob == pytest.approx(math.log(0.54))  # A: 0.6 * 0.9 beats C: 0.4
    table[(1,)] = [0.0, 0.0, 0.3, 0.2, 0.5]  # now A = 0.18, B = 0.12, C = 0.4
    wide = constrained_beam_search(TableAdapter(1, table), Encoded([7]), longer, num_beams=2)  # type: ignore[arg-type]
    narrow = constrained_beam_search(TableAdapter(1, table), Encoded([7]), longer, num_beams=1)  # type: ignore[arg-type]
    assert wide.index == 2 and narrow.index == 0  # the width-1 beam kept [1] and lost C


def test_tree_records_shared_and_duplicate_sequences() -> None:
    root = build_tree([[5, 6], [5], [5, 6]])
    assert list(root.children) == [5] and root.children[5].ends == [1]
    assert root.children[5].children[6].ends == [0, 2]
    with pytest.raises(ValueError, match="candidate 0 tokenises to nothing"):
        build_tree([[]])


NAMES = (" red fox", " red wolf", " grey fox", " tench", " goldfish", " great white shark", " tiger shark")


@pytest.mark.parametrize("index", [1, 2, 3])
def test_tiny_model_constrained_output_is_a_name_and_wide_beam_equals_ranking(kosmos2_backend, index):
    context = Context((image_input(index), "The photo of the"))
    (ranked,) = kosmos2_backend.rank([RankRequest(context, NAMES)])
    best = max(range(len(NAMES)), key=lambda i: ranked.logprobs[i])
    outputs = kosmos2_backend.generate(
        [GenerateRequest(context, num_beams=beams, candidates=NAMES, constrained=True) for beams in (1, 2, 7)]
    )
    assert all(output in {name.strip() for name in NAMES} for output in outputs)
    assert outputs[2] == NAMES[best].strip()
    encoded = kosmos2_backend.adapter.encode(context)
    sequences = [kosmos2_backend.adapter.continuation_ids(context, name) for name in NAMES]
    with torch.inference_mode():
        result = constrained_beam_search(kosmos2_backend.adapter, encoded, sequences, num_beams=len(NAMES))
    assert result.logprob == pytest.approx(ranked.logprobs[best], abs=1e-4)


def test_constrained_request_needs_candidates() -> None:
    with pytest.raises(ValueError, match="needs candidates"):
        GenerateRequest(Context(("x",)), constrained=True)


def test_with_the_end_of_sequence_scored_a_name_cannot_win_by_starting_a_longer_one() -> None:
    """'tiger' = [1], 'tiger shark' = [1, 2]; after 1 the model wants 2 (0.9) and ends (token 0) with 0.1.
    Scoring names' tokens alone, 'tiger' (log 1.0) always beats 'tiger shark' (log 0.9); with the end token
    appended the model's preference decides: 0.1 vs 0.9."""
    table = {(): [0.0, 1.0, 0.0, 0.0, 0.0], (1,): [0.1, 0.0, 0.9, 0.0, 0.0], (1, 2): [1.0, 0.0, 0.0, 0.0, 0.0]}
    bare = constrained_beam_search(TableAdapter(1, table), Encoded([7]), [[1], [1, 2]], num_beams=2)  # type: ignore[arg-type]
    ended = constrained_beam_search(TableAdapter(1, table), Encoded([7]), [[1, 0], [1, 2, 0]], num_beams=2)  # type: ignore[arg-type]
    assert bare.index == 0 and ended.index == 1
    assert ended.logprob == pytest.approx(math.log(0.9))


def test_end_of_sequence_requests_score_the_end_token_exactly(kosmos2_backend):
    context = Context((image_input(4), "The photo of the"))
    plain, ended = kosmos2_backend.rank(
        [RankRequest(context, NAMES), RankRequest(context, NAMES, end_of_sequence=True)]
    )
    adapter, model = kosmos2_backend.adapter, kosmos2_backend.loaded.model
    eos = adapter.tokenizer.eos_token_id
    for i, name in enumerate(NAMES):
        assert ended.num_tokens[i] == plain.num_tokens[i] + 1
        encoded = adapter.encode(context)
        ids = encoded.extended([*adapter.continuation_ids(context, name), eos]).ids
        pixels = adapter.processor.image_processor(context.images[0].load(), return_tensors="pt")["pixel_values"]
        mask = torch.zeros((1, len(ids)), dtype=torch.bool)
        mask[0, encoded.image_slots] = True
        with torch.no_grad():
            features = model.get_image_features(pixels, return_dict=True).pooler_output
            logits = model(input_ids=torch.tensor([ids]), image_embeds=features, image_embeds_position_mask=mask).logits
        logprobs = torch.log_softmax(logits[0].double(), dim=-1)
        end_logprob = float(logprobs[len(ids) - 2, eos])
        assert ended.logprobs[i] == pytest.approx(plain.logprobs[i] + end_logprob, abs=1e-4)
