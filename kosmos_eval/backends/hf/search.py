"""The harness's own decoding loops, greedy and beam search, over a DecodeSession.

Why not transformers' `generate`: it prefills every beam of a prompt separately (N times the prompt's work),
runs its logits processors and stopping criteria in Python each step, asks the device whether to stop after
every token, and in transformers 5 numbers positions by counting tokens, so rows of different lengths cannot
share a left-padded batch. Here a family's session (its adapter's `start_decoding`) prefills each prompt once
with its true positions, its beams are copies of that one prefill, the whole batch x beams advances in one
forward per step, and the device is asked whether everything is finished only every `CHECK_EVERY` steps
(steps after the end change nothing: a finished row emits padding, a beam row whose best hypothesis cannot
improve is frozen).

The beam search reproduces `generate(num_beams=N, do_sample=False)` of transformers 5 decision for decision,
with its defaults `length_penalty=1.0` and `early_stopping=False` (the protocol's: decoding.py neutralises a
checkpoint's own) or the generation config's values; a request's length_penalty (`--gen-kwargs`) overrides
the config's, as it would in `generate`. Per prompt and step: the log-softmax of each beam's
next-token logits (float32) plus the beam's running score; the best 2N of the N x vocabulary candidates
(N x (1 + the number of end-of-sequence ids) when there are several); candidates ending in an end-of-sequence
id, or reaching the token budget, are finished, and the best N of the others run on. A finished candidate
among the first N enters the prompt's N best finished hypotheses, scored by its summed log-probability over
(generated tokens ** length_penalty), unless the prompt's search is over: its N finished hypotheses are in
and the best running beam, scored as if it ended now, would not beat the worst of them. At the start only
the first beam is live (the others start at -1e9), so the first step's candidates all extend the prompt
itself. The answer is the best finished hypothesis. Each prompt's search is independent of its batch-mates
(tests/test_own_decoding.py checks every row against `generate` on that row alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

CHECK_EVERY = 4  # steps between the device-to-host checks of whether every row is finished
NEG = -1.0e9  # the score that keeps a candidate out, as transformers writes it


class DecodeSession(Protocol):
    """A batch of prompts prefilled with a KV cache, advanced one token per row at a time.

    `logits` holds the next-token logits of every current row, (rows, vocab). `select(rows)` makes row i the
    old row rows[i] (beams copying their parent; indices may repeat), and `feed(tokens)` appends one token per
    row and returns the logits after it."""

    logits: torch.Tensor

    def select(self, rows: torch.Tensor) -> None: ...

    def feed(self, tokens: torch.Tensor) -> torch.Tensor: ...


def _until_end(row: list[int], eos: Sequence[int]) -> list[int]:
    ends = [i for i, token in enumerate(row) if token in eos]
    return row[: ends[0] + 1] if ends else row


def greedy_search(
    session: DecodeSession, max_new_tokens: int, eos: Sequence[int], pad: int, check_every: int = CHECK_EVERY
) -> list[list[int]]:
    """New tokens per prompt, up to and including the first end-of-sequence id: the argmax each step."""
    logits = session.logits
    stops = torch.tensor(list(eos), dtype=torch.long, device=logits.device)
    finished = torch.zeros(logits.shape[0], dtype=torch.bool, device=logits.device)
    steps: list[torch.Tensor] = []
    for step in range(max_new_tokens):
        token = torch.where(finished, torch.full_like(finished, pad, dtype=torch.long), logits.argmax(dim=-1))
        steps.append(token)
        finished = finished | torch.isin(token, stops)
        if step + 1 == max_new_tokens or ((step + 1) % check_every == 0 and bool(finished.all())):
            break
        logits = session.feed(token)
    return [_until_end(row, eos) for row in torch.stack(steps, dim=1).cpu().tolist()]


def _gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values[b, index[b, k], ...] for every b, k (beams picked per prompt)."""
    while index.dim() < values.dim():
        index = index.unsqueeze(-1)
    return torch.take_along_dim(values, index, dim=1)


def beam_search(
    session: DecodeSession,
    num_beams: int,
    max_new_tokens: int,
    eos: Sequence[int],
    pad: int,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    check_every: int = CHECK_EVERY,
) -> list[list[int]]:
    """New tokens of each prompt's best hypothesis (see the module docstring for the rules)."""
    first = session.logits
    prompts, vocab = first.shape
    beams, kept = num_beams, max(2, 1 + len(eos)) * num_beams  # enough candidates to leave N running
    device = first.device
    stops = torch.tensor(list(eos), dtype=torch.long, device=device)
    session.select(torch.arange(prompts, device=device).repeat_interleave(beams))
    logits = session.logits

    running_scores = torch.zeros((prompts, beams), dtype=torch.float32, device=device)
    running_scores[:, 1:] = NEG
    running_tokens = torch.full((prompts, beams, max_new_tokens), pad, dtype=torch.long, device=device)
    done_tokens = running_tokens.clone()
    done_scores = torch.full((prompts, beams), NEG, dtype=torch.float32, device=device)
    done_lengths = torch.zeros((prompts, beams), dtype=torch.long, device=device)
    done_flags = torch.zeros((prompts, beams), dtype=torch.bool, device=device)
    can_improve = torch.ones((prompts, 1), dtype=torch.bool, device=device)
    in_top = torch.arange(kept, device=device) < beams  # only the best N candidates may finish
    row_offset = torch.arange(prompts, device=device)[:, None] * beams

    for step in range(max_new_tokens):
        scores = torch.log_softmax(logits.float(), dim=-1).view(prompts, beams, vocab) + running_scores[..., None]
        cand_scores, cand_index = torch.topk(scores.view(prompts, beams * vocab), kept)
        cand_beam, cand_token = cand_index // vocab, cand_index % vocab
        cand_tokens = _gather(running_tokens, cand_beam)
        cand_tokens[:, :, step] = cand_token
        ends = torch.isin(cand_token, stops) | (step + 1 >= max_new_tokens)

        # the best N candidates that did not end run on
        open_scores = cand_scores + ends.to(torch.float32) * NEG
        running = torch.topk(open_scores, beams).indices
        running_tokens = _gather(cand_tokens, running)
        running_scores = _gather(open_scores, running)
        parents = _gather(cand_beam, running)

        # ended candidates among the best N enter the finished hypotheses, unless the prompt's search is over
        entering = ends & in_top[None, :]
        final = cand_scores / ((step + 1) ** length_penalty)
        full = done_flags.all(dim=-1, keepdim=True) & (early_stopping is True)
        final = final + full.to(torch.float32) * NEG + (~can_improve).to(torch.float32) * NEG
        final = final + (~entering).to(torch.float32) * NEG
        merged = torch.cat((done_scores, final), dim=1)
        best = torch.topk(merged, beams).indices
        done_scores = _gather(merged, best)
        done_tokens = _gather(torch.cat((done_tokens, cand_tokens), dim=1), best)
        done_flags = _gather(torch.cat((done_flags, entering), dim=1), best)
        lengths = torch.full_like(cand_token, step + 1)
        done_lengths = _gather(torch.cat((done_lengths, lengths), dim=1), best)

        # can the best running beam still beat the worst finished hypothesis?
        horizon = max_new_tokens if early_stopping == "never" and length_penalty > 0.0 else step + 1
        best_running = running_scores[:, :1] / (horizon**length_penalty)
        worst_done = torch.where(done_flags, done_scores.min(dim=1, keepdim=True).values, NEG)
        can_improve = can_improve & (best_running > worst_done).any(dim=-1, keepdim=True)

        if step + 1 == max_new_tokens:
            break
        if (step + 1) % check_every == 0:
            over = ~can_improve.any() | (done_flags.all() & (early_stopping is True)) | ends.all()
            if bool(over):
                break
        session.select((row_offset + parents).view(-1))
        logits = session.feed(running_tokens[:, :, step].reshape(-1))

    tokens, lengths = done_tokens[:, 0].cpu().tolist(), done_lengths[:, 0].cpu().tolist()
    return [row[:length] for row, length in zip(tokens, lengths, strict=True)]
