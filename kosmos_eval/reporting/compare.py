"""`kosmos-eval compare`: is the candidate checkpoint worse than the baseline, beyond resampling noise?

Runs are paired by task, variant, shots, split and seed; a paired pair must also share the prompt (its hash)
and the few-shot sampler, or the difference would measure the prompt, not the model. Each metric is compared
on the examples both runs scored, with a paired bootstrap (kosmos_eval.metrics.resample) that recomputes the
corpus metric on every resample. A metric fails the gate when its drop is larger than allowed AND the
bootstrap says it is unlikely to be noise (one-sided p below alpha).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from kosmos_eval.errors import UserError
from kosmos_eval.metrics.resample import DEFAULT_RESAMPLES, ExampleMetric, paired_bootstrap
from kosmos_eval.reporting.runs import Run

SCALE = 100.0  # deltas and allowed drops are in the paper's points (metric x 100)
PAIR_FIELDS = ("task", "variant", "shots", "split", "seed", "sample")


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
    """Pairs of runs of the same setting, and notes on runs left unpaired. A single run on each side is
    paired whatever its setting, so that `check_pair` can say which field differs."""
    if len(baseline) == 1 and len(candidate) == 1:
        return [(baseline[0], candidate[0])], []

    def key(run: Run) -> tuple:
        return tuple(getattr(run, name) for name in PAIR_FIELDS)

    by_key: dict[tuple, Run] = {}
    for run in baseline:
        if key(run) in by_key and by_key[key(run)].created > run.created:
            continue
        by_key[key(run)] = run
    pairs, notes, used = [], [], set()
    for run in sorted(candidate, key=lambda r: r.created):
        match = by_key.get(key(run))
        if match is None:
            notes.append(f"only in the candidate: {run.label}")
            continue
        pairs = [p for p in pairs if key(p[1]) != key(run)]  # the newest candidate run of a setting wins
        pairs.append((match, run))
        used.add(key(run))
    notes += [f"only in the baseline: {run.label}" for k, run in by_key.items() if k not in used]
    paired = {id(run) for pair in pairs for run in pair}
    for run in candidate:  # a setting found only on the other kind of data is a mistake, never "only in"
        twin = next((b for b in baseline if id(b) not in paired and _same_setting_other_data(b, run)), None)
        if id(run) not in paired and twin is not None:
            raise UserError(_sample_mix(twin, run))
    return pairs, notes


def _same_setting_other_data(a: Run, b: Run) -> bool:
    return a.sample != b.sample and all(getattr(a, f) == getattr(b, f) for f in PAIR_FIELDS if f != "sample")


def _sample_mix(baseline: Run, candidate: Run) -> str:
    which = "baseline" if baseline.sample else "candidate"
    sample_run = baseline if baseline.sample else candidate
    return (
        f"refusing to compare a run on the bundled sample with a run on real data: the {which} "
        f"{sample_run.path} was computed on the synthetic sample (--sample), which proves a pipeline runs and "
        "measures nothing; gate real runs against real runs"
    )


def check_pair(baseline: Run, candidate: Run) -> list[str]:
    """The fields that make two runs incomparable (empty when they are comparable)."""
    differences = []
    checks = {
        "task": (baseline.task, candidate.task),
        "variant (task options)": (baseline.variant, candidate.variant),
        "split": (baseline.split, candidate.split),
        "shots": (baseline.shots, candidate.shots),
        "prompt hash": (baseline.prompt_hash, candidate.prompt_hash),
        "sampler": (baseline.summary.get("sampler"), candidate.summary.get("sampler")),
    }
    for name, (ours, theirs) in checks.items():
        if ours != theirs:
            differences.append(f"{name} differs: baseline {ours!r}, candidate {theirs!r}")
    return differences


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
    for base, cand in pairs:
        if base.sample != cand.sample:  # not even --force: the numbers would mean nothing
            raise UserError(_sample_mix(base, cand))
        differences = check_pair(base, cand)
        if differences and not force:
            raise UserError(
                f"refusing to compare {base.path} with {cand.path}: {'; '.join(differences)} (--force compares anyway)"
            )
        result.notes += [f"{cand.task}: compared despite: {d}" for d in differences]
        result.metrics += _compare_pair(base, cand, allowed, alpha, seed, resamples, result.notes)
    return result


def _compare_pair(
    base: Run, cand: Run, allowed: dict[str, float], alpha: float, seed: int, resamples: int, notes: list[str]
) -> list[MetricComparison]:
    import kosmos_eval.tasks  # noqa: F401  (registers tasks)
    from kosmos_eval.core.registry import TASKS

    base_records = {str(r["id"]): r for r in base.records}
    cand_records = {str(r["id"]): r for r in cand.records}
    shared = [i for i in base_records if i in cand_records]
    if not shared:
        raise UserError(f"{base.path} and {cand.path} share no example ids; were they run on the same data?")
    if len(shared) < max(len(base_records), len(cand_records)):
        notes.append(
            f"{cand.task}: compared on the {len(shared)} examples both runs scored "
            f"(baseline {len(base_records)}, candidate {len(cand_records)})"
        )
    task = TASKS.get(base.task)(seed=base.seed, options=base.task_options)
    base_metrics = task.example_metrics([base_records[i] for i in shared])
    cand_metrics = task.example_metrics([cand_records[i] for i in shared])
    label = f"{base.task} {base.shots}-shot" + (f" [{base.variant}]" if base.variant else "")
    out = []
    for metric in base.summary.get("metrics", {}):
        if metric not in cand.summary.get("metrics", {}):
            notes.append(f"{label}: {metric} is missing from the candidate's summary")
            continue
        limit = allowed_drop(allowed, base.task, metric)
        if metric in base_metrics and metric in cand_metrics:
            out.append(
                _bootstrapped(
                    label, base.task, metric, base_metrics[metric], cand_metrics[metric], limit, alpha, seed, resamples
                )
            )
        else:  # corpus-pooled metrics (BLEU, METEOR): the point values of the summaries, no interval
            b = base.summary["metrics"][metric]["value"] * SCALE
            c = cand.summary["metrics"][metric]["value"] * SCALE
            out.append(
                MetricComparison(base.task, label, metric, b, c, c - b, None, None, None, len(shared), limit, None)
            )
    return out


def _bootstrapped(
    label: str,
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
        label,
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
            f"| {m.label} | {m.metric} | {m.baseline:.2f} | {m.candidate:.2f} | {m.delta:+.2f} | {interval} | "
            f"{p_value} | {m.n} | {m.allowed_drop:g} | {'**FAIL**' if m.failed else m.status} |"
        )
    lines += ["", *[f"- note: {note}" for note in comparison.notes]]
    return "\n".join(lines).rstrip() + "\n"
