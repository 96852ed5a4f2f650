"""Which runs stand for a result, and what their models are called: one rule for leaderboard, compare, report.

Runs are told apart by their identity (kosmos_eval.core.identity), never by folder or model name: two
checkpoints saved as `A/ckpt` and `B/ckpt` are both called `ckpt`, and one checkpoint run with and without its
chat template is one name for two different sets of numbers.

- Several runs of the SAME identity (one run found under two roots, a run repeated into another output folder)
  are one result: the run covering the most examples stands for them, and among equally full runs the newest,
  so a partial rerun (a `--limit 6` smoke test) never replaces a fuller result. The others are left out, each
  with a line saying which run replaced it and why, so nothing disappears without a word.
- A model is labelled by its name (folder name or hub id) alone while that name stands for one model identity
  among the runs shown. Where two model identities share a name, each label gets a short tag: `@` and the
  fingerprint's short id where that tells them apart (other weights), else `#` and a hash of the model identity
  (same weights, another chat template, decoding policy or model argument).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kosmos_eval.reporting.runs import Run

TAG_LENGTH = 6  # the shortest tag; lengthened where two tags of one name would read the same


@dataclass(frozen=True)
class LeftOut:
    """A run set aside because another run of the same identity stands for it."""

    run: Run
    kept: Run

    @property
    def reason(self) -> str:
        if self.kept.n > self.run.n:
            return f"covers more examples ({self.kept.n} vs {self.run.n})"
        if self.kept.created > self.run.created:
            return f"is newer ({self.kept.created} vs {self.run.created})"
        return "is an identical copy (same date and examples)"

    @property
    def message(self) -> str:
        """One line for stderr: the folder left out, the run that replaced it, and why."""
        return (
            f"left out {self.run.path} ({self.run.task} {self.run.shots}-shot, seed {self.run.seed}): same identity "
            f"{self.run.identity_hash} as {self.kept.path}, which {self.reason}; --all keeps every run"
        )


def _preference(run: Run) -> tuple[int, str, str]:
    return run.n, run.created, str(run.path)


def latest_per_identity(runs: Sequence[Run]) -> tuple[list[Run], list[LeftOut]]:
    """One run per identity (the fullest, then the newest), in the order given, and the runs it left out."""
    best: dict[str, Run] = {}
    for run in runs:
        current = best.get(run.identity_hash)
        if current is None or _preference(run) > _preference(current):
            best[run.identity_hash] = run
    kept = [run for run in runs if best[run.identity_hash] is run]
    left_out = [LeftOut(run, best[run.identity_hash]) for run in runs if best[run.identity_hash] is not run]
    return kept, left_out


def model_labels(runs: Sequence[Run]) -> dict[str, str]:
    """The label of every model among `runs`, by `Run.model_key`: the plain name where it is unambiguous."""
    by_name: dict[str, dict[str, Run]] = {}
    for run in runs:
        by_name.setdefault(run.model, {}).setdefault(run.model_key, run)
    labels: dict[str, str] = {}
    for name, models in by_name.items():
        if len(models) == 1:
            labels.update(dict.fromkeys(models, name))
            continue
        shared = Counter(run.fingerprint for run in models.values())
        tags = {
            key: ("@", run.fingerprint) if run.fingerprint and shared[run.fingerprint] == 1 else ("#", key)
            for key, run in models.items()
        }
        length = TAG_LENGTH
        while len({f"{mark}{text[:length]}" for mark, text in tags.values()}) < len(tags) and length < 64:
            length += 1
        labels.update({key: f"{name}{mark}{text[:length]}" for key, (mark, text) in tags.items()})
    return labels
