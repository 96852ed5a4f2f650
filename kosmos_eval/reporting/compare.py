"""`kosmos-eval compare`: is the candidate checkpoint worse than the baseline, beyond resampling noise?

Runs are paired by their identity without the model (kosmos_eval.core.identity.task_identity: task, variant,
split, shots, sampler, seed, prompt hash, template decoding, sample vs real data), so the difference measures
the model and nothing else. A run whose task, variant, split, shots and seed match a run on the other side
but whose prompt or sampler differs is paired anyway, so the refusal can name the field (`--force` compares
it). Where one side holds several runs that could pair with one run of the other (two checkpoints of one
setting in a root), the gate refuses rather than pick one. Each metric is compared
on the examples both runs scored, with a paired bootstrap (kosmos_eval.metrics.resample) that recomputes the
corpus metric on every resample. A metric fails the gate when its drop is larger than allowed AND the
bootstrap says it is unlikely to be noise (one-sided p below alpha).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kosmos_eval.errors import UserError
from kosmos_eval.metrics.resample import DEFAULT_RESAMPLES, ExampleMetric, paired_bootstrap
from kosmos_eval.reporting.markdown import markdown_text
from kosmos_eval.reporting.runs import Run
from kosmos_eval.reporting.selection import model_labels

SCALE = 100.0  # deltas and allowed drops are in the paper's points (metric x 100)
# the second pairing pass: what must match for a pair whose remaining difference `check_pair` can name
NEAR_FIELDS = ("task", "variant", "shots", "split", "seed")


@dataclass(frozen=True)
class RunPair:
    """Which two runs a comparison row is about: the models (labels as in the leaderboard) and the folders."""

    label: str  # task, shots, variant (and seed or split where two pairs would read the same)
    baseline_model: str
    baseline_run: str
    candidate_model: str
    candidate_run: str

    @property
    def text(self) -> str:
        return (
            f"{self.label}: baseline `{self.baseline_model}` ({self.baseline_run}), "
            f"candidate `{self.candidate_model}` ({self.candidate_run})"
        )


@dataclass(frozen=True)
class MetricComparison:
    task: str
    label: str  # task, shots, variant: how the pair is named in tables
    metric: str
    baseline: float  # points
    candidate: float
    delta: float
    ci_low: float | None  # None: no per-example form, compared on the point values only
    ci_high: float | None
    p_worse: float | None
    n: int
    allowed_drop: float
    significant: bool | None  # the drop is unlikely to be noise; None where no test exists
    pair: RunPair | None = None  # the runs compared

    @property
    def failed(self) -> bool:
        """The gate: a drop larger than allowed that the bootstrap calls significant. Metrics without a
        per-example form cannot be tested, so they never fail the gate (their delta is still shown)."""
        return bool(self.significant) and -self.delta > self.allowed_drop

    @property
    def status(self) -> str:
        if self.failed:
            return "FAIL"
        if self.significant is None:
            return "no test"
        if self.significant:
            return "worse, within allowed drop"
        return "ok"


@dataclass
class Comparison:
    metrics: list[MetricComparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pairs: list[RunPair] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(m.failed for m in self.metrics)


def parse_max_drop(items: Sequence[str]) -> dict[str, float]:
    """`--max-drop 1.0` (every metric) and `--max-drop cider=2 --max-drop vqav2/accuracy=0.5` (per metric, or
    per task/metric); the most specific wins. Values are points on the paper's scale, non-negative."""
    allowed: dict[str, float] = {}
    for item in items:
        key, _, text = item.rpartition("=") if "=" in item else ("*", "=", item)
        try:
            value = float(text)
        except ValueError:
            raise UserError(f"--max-drop {item!r}: expected POINTS, METRIC=POINTS or TASK/METRIC=POINTS") from None
        if value < 0 or math.isnan(value):
            raise UserError(f"--max-drop {item!r}: the allowed drop must be a non-negative number of points")
        allowed[key.strip() or "*"] = value
    return allowed


def allowed_drop(allowed: dict[str, float], task: str, metric: str) -> float:
    return allowed.get(f"{task}/{metric}", allowed.get(metric, allowed.get("*", 0.0)))


def pair_runs(baseline: Sequence[Run], candidate: Sequence[Run]) -> tuple[list[tuple[Run, Run]], list[str]]:
    """Pairs of runs of the same task identity, and notes on runs left unpaired. A single run on each side is
    paired whatever its setting, so that `check_pair` can say which field differs. A second pass pairs runs
    that agree on task, variant, shots, split and seed but not on the rest (prompt, sampler, sample data), so
    the caller refuses them naming the difference instead of calling them unpaired."""
    if len(baseline) == 1 and len(candidate) == 1:
        return [(baseline[0], candidate[0])], []
    labels = model_labels([*baseline, *candidate])
    left_base, left_cand = list(baseline), list(candidate)
    pairs: list[tuple[Run, Run]] = []
    for key in (_exact_key, _near_key):
        base_by = _group(left_base, key)
        for value, cands in _group(left_cand, key).items():
            bases = base_by.get(value, [])
            if not bases:
                continue
            if len(bases) > 1 or len(cands) > 1:
                raise UserError(_ambiguous(bases, cands, labels))
            pairs.append((bases[0], cands[0]))
            left_base.remove(bases[0])
            left_cand.remove(cands[0])
    notes = [f"only in the candidate: {run.label}, model {labels[run.model_key]}" for run in left_cand]
    notes += [f"only in the baseline: {run.label}, model {labels[run.model_key]}" for run in left_base]
    return pairs, notes


def _exact_key(run: Run) -> str:
    return run.task_key


def _near_key(run: Run) -> tuple:
    return tuple(getattr(run, name) for name in NEAR_FIELDS)


def _group(runs: Sequence[Run], key: Callable[[Run], object]) -> dict[object, list[Run]]:
    groups: dict[object, list[Run]] = {}
    for run in runs:
        groups.setdefault(key(run), []).append(run)
    return groups


def _ambiguous(bases: Sequence[Run], cands: Sequence[Run], labels: dict[str, str]) -> str:
    """One line: every run that could pair, on each side, by folder and model, so the user can pick."""

    def listed(runs: Sequence[Run]) -> str:
        return ", ".join(f"{run.path} ({labels[run.model_key]}, {run.created or 'undated'})" for run in runs)

    run = (cands if len(cands) > 1 else bases)[0]
    setting = f"{run.task} {run.shots}-shot" + (f" [{run.variant}]" if run.variant else "") + f" seed {run.seed}"
    return (
        f"ambiguous: more than one run of {setting} could be paired; baseline: {listed(bases)}; "
        f"candidate: {listed(cands)}; give the two run folders to compare, or roots holding one run per setting"
    )


def _sample_mix(baseline: Run, candidate: Run) -> str:
    which = "baseline" if baseline.sample else "candidate"
    sample_run = baseline if baseline.sample else candidate
    return (
        f"refusing to compare a run on the bundled sample with a run on real data: the {which} "
        f"{sample_run.path} was computed on the synthetic sample (--sample), which proves a pipeline runs and "
        "measures nothing; gate real runs against real runs"
    )


def check_pair(baseline: Run, candidate: Run) -> list[str]:
    """The fields that make two runs incomparable (empty when they are comparable): every part of the task
    identity but the seed (two single folders of different seeds are a fair comparison of two models)."""
    differences = []
    ours, theirs = baseline.identity, candidate.identity
    checks = {
        "task": (baseline.task, candidate.task),
        "variant (task options)": (baseline.variant, candidate.variant),
        "split": (baseline.split, candidate.split),
        "shots": (baseline.shots, candidate.shots),
        "prompt hash": (baseline.prompt_hash, candidate.prompt_hash),
        "sampler": (ours["sampler"], theirs["sampler"]),
    }
    if ours["decoding"] is not None and theirs["decoding"] is not None:  # not recorded by older harnesses
        checks["decoding (the template's)"] = (ours["decoding"], theirs["decoding"])
    for name, (base_value, cand_value) in checks.items():
        if base_value != cand_value:
            differences.append(f"{name} differs: baseline {base_value!r}, candidate {cand_value!r}")
    return differences


def _pair_labels(pairs: Sequence[tuple[Run, Run]]) -> list[str]:
    """How each pair is named in tables: task, shots and variant, with the seed, then the split, added where
    two pairs would otherwise read the same (several seeds of one setting in two roots)."""

    def name(run: Run, detail: int) -> str:
        label = f"{run.task} {run.shots}-shot" + (f" [{run.variant}]" if run.variant else "")
        label += f" seed {run.seed}" if detail >= 1 else ""
        label += f" {run.split}" if detail >= 2 else ""
        return label + (f" #{run.task_key[:6]}" if detail >= 3 else "")

    for detail in range(4):
        labels = [name(base, detail) for base, _ in pairs]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def compare_runs(
    baseline: Sequence[Run],
    candidate: Sequence[Run],
    max_drop: dict[str, float] | None = None,
    alpha: float = 0.05,
    force: bool = False,
    seed: int = 1234,
    resamples: int = DEFAULT_RESAMPLES,
) -> Comparison:
    """Every metric of every paired run: delta, paired CI and the gate's verdict."""
    if not 0 < alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1, got {alpha}")
    allowed = max_drop or {}
    pairs, notes = pair_runs(baseline, candidate)
    if not pairs:
        raise UserError("no run of the candidate matches a baseline run (same task, variant, shots, split, seed)")
    result = Comparison(notes=notes)
    labels = model_labels([*baseline, *candidate])
    for (base, cand), label in zip(pairs, _pair_labels(pairs), strict=True):
        if base.sample != cand.sample:  # not even --force: the numbers would mean nothing
            raise UserError(_sample_mix(base, cand))
        differences = check_pair(base, cand)
        if differences and not force:
            raise UserError(
                f"refusing to compare {base.path} with {cand.path}: {'; '.join(differences)} (--force compares anyway)"
            )
        pair = RunPair(label, labels[base.model_key], str(base.path), labels[cand.model_key], str(cand.path))
        result.pairs.append(pair)
        result.notes += [f"{label}: compared despite: {d}" for d in differences]
        result.metrics += _compare_pair(base, cand, pair, allowed, alpha, seed, resamples, result.notes)
    return result


def _compare_pair(
    base: Run,
    cand: Run,
    pair: RunPair,
    allowed: dict[str, float],
    alpha: float,
    seed: int,
    resamples: int,
    notes: list[str],
) -> list[MetricComparison]:
    from kosmos_eval.core.registry import TASKS

    base_records = {str(r["id"]): r for r in base.records}
    cand_records = {str(r["id"]): r for r in cand.records}
    shared = [i for i in base_records if i in cand_records]
    if not shared:
        raise UserError(f"{base.path} and {cand.path} share no example ids; were they run on the same data?")
    if len(shared) < max(len(base_records), len(cand_records)):
        notes.append(
            f"{pair.label}: compared on the {len(shared)} examples both runs scored "
            f"(baseline {len(base_records)}, candidate {len(cand_records)})"
        )
    task = TASKS.get(base.task)(seed=base.seed, options=base.task_options)
    base_metrics = task.example_metrics([base_records[i] for i in shared])
    cand_metrics = task.example_metrics([cand_records[i] for i in shared])
    label = pair.label
    out = []
    for metric in base.summary.get("metrics", {}):
        if metric not in cand.summary.get("metrics", {}):
            notes.append(f"{label}: {metric} is missing from the candidate's summary")
            continue
        limit = allowed_drop(allowed, base.task, metric)
        if metric in base_metrics and metric in cand_metrics:
            out.append(
                _bootstrapped(
                    pair, base.task, metric, base_metrics[metric], cand_metrics[metric], limit, alpha, seed, resamples
                )
            )
        else:  # corpus-pooled metrics (BLEU, METEOR): the point values of the summaries, no interval
            b = base.summary["metrics"][metric]["value"] * SCALE
            c = cand.summary["metrics"][metric]["value"] * SCALE
            out.append(
                MetricComparison(
                    base.task, label, metric, b, c, c - b, None, None, None, len(shared), limit, None, pair=pair
                )
            )
    return out


def _bootstrapped(
    pair: RunPair,
    task: str,
    metric: str,
    base: ExampleMetric,
    cand: ExampleMetric,
    limit: float,
    alpha: float,
    seed: int,
    resamples: int,
) -> MetricComparison:
    ids = [i for i in base.rows if i in cand.rows]
    paired = paired_bootstrap(base, cand, ids, seed=seed, resamples=resamples)
    delta = paired.delta * SCALE
    significant = not math.isnan(paired.p_worse) and paired.p_worse < alpha
    return MetricComparison(
        task,
        pair.label,
        metric,
        paired.baseline * SCALE,
        paired.candidate * SCALE,
        delta,
        paired.ci_low * SCALE,
        paired.ci_high * SCALE,
        paired.p_worse,
        paired.n,
        limit,
        significant=significant and delta < 0,
        pair=pair,
    )


def comparison_markdown(comparison: Comparison, alpha: float) -> str:
    """The result as a markdown table (fits a GitHub step summary): one row per task and metric."""
    verdict = "FAIL: significant drop beyond the allowed" if comparison.failed else "PASS"
    lines = [
        f"### kosmos-eval compare: {verdict}",
        "",
        f"Deltas are candidate - baseline in points (metric x 100); 95% paired bootstrap CI; a metric fails when "
        f"it drops by more than allowed and the one-sided bootstrap p < {alpha}.",
        "",
        "| task | metric | baseline | candidate | delta | 95% CI | p(worse) | n | allowed drop | status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in comparison.metrics:
        interval = f"{m.ci_low:+.2f} to {m.ci_high:+.2f}" if m.ci_low is not None else "n/a"
        p_value = f"{m.p_worse:.3f}" if m.p_worse is not None else "n/a"
        lines.append(
            f"| {markdown_text(m.label)} | {markdown_text(m.metric)} | {m.baseline:.2f} | {m.candidate:.2f} | "
            f"{m.delta:+.2f} | {interval} | "
            f"{p_value} | {m.n} | {m.allowed_drop:g} | {'**FAIL**' if m.failed else m.status} |"
        )
    # which models and folders each row is about: a table of deltas that names neither is a table of nothing
    lines += ["", "Runs compared:", "", *[f"- {markdown_text(pair.text)}" for pair in comparison.pairs]]
    lines += ["", *[f"- note: {markdown_text(note)}" for note in comparison.notes]]
    return "\n".join(lines).rstrip() + "\n"
