"""Harness overhead: examples/s of the whole pipeline on the CPU with the chance backend, per task (issue 7).

Why: a GPU run must never wait on the harness. For each registered task this writes a synthetic data set of N
examples in the task's official on-disk format (or a local format its loader accepts), then times
`evaluate(RunConfig(...), backend=ChanceBackend(...))` end to end: reading, demo sampling, prompts, batching,
scoring, samples.jsonl (fsync per step), aggregation with confidence intervals, exports and summary.json.

The chance backend's own work (a hash and a seeded draw per continuation) stands in for the model; in a real run
that slot is GPU time. Its time is measured separately and subtracted: `harness_examples_per_s` is N divided by
(wall time - backend time) and is what the overhead share uses; `end_to_end_examples_per_s` keeps it in.
overhead share = GPU rate / harness rate x 100 = harness time as a percentage of GPU wall time; target < 5%.

GPU rates (issue 7): 40 images/s for ImageNet's 1,000-way ranking, 250/s for generation (captioning-like) and
for every other ranking task. Not measured here: image decoding and tokenisation, which the hf backend does.

The data writers reuse `tests/datasets.py` and `tests/images.py` (so the repository root must be importable:
this script puts it on sys.path). Language tasks and Rendered SST-2 normally come from the hub; here they are
written as the local files their loaders also accept. A warm-up run on a tenth of N first pays one-time imports;
memoised functions are emptied before every timed run; per-run fixed costs (Java start of the caption scorers,
git and package look-ups) stay in. Each size is timed `--repeat` times (fastest kept), and a second size (N/10)
splits harness time into a fixed part and a per-example part (`fixed_seconds`, `steady_overhead_pct`).
Timings are machine dependent (fsync latency above all): compare numbers from one machine only.

    python benchmarks/harness_overhead.py [--examples 500] [--tasks a,b] [--shots 0] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import platform
import pstats
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import kosmos_eval.runner.run as run_module  # noqa: E402 (after the sys.path line)
from kosmos_eval.backends.chance import ChanceBackend  # noqa: E402
from kosmos_eval.config import RunConfig  # noqa: E402
from kosmos_eval.core.registry import TASKS  # noqa: E402
from kosmos_eval.errors import UserError  # noqa: E402
from kosmos_eval.formats.language import dataset_spec  # noqa: E402
from kosmos_eval.runner.run import evaluate  # noqa: E402
from tests.datasets import write_json, write_karpathy_coco, write_vizwiz, write_vqav2  # noqa: E402
from tests.images import make_image  # noqa: E402

TARGET_PCT = 5.0
GPU_RATES = {"1000-way ranking": 40.0, "generation": 250.0, "ranking": 250.0}
DEFAULT_OUT = ROOT / "results" / "benchmarks" / "harness_overhead.json"
DEFAULT_BATCH = 32  # the hf backend's start batch size on a GPU: the same step size and fsync cadence
STAGES = ("read", "build", "backend", "score", "write", "aggregate", "export", "provenance")
TASK_STAGES = {"load": "read", "build": "build", "follow_up": "build", "score": "score"}
TASK_STAGES |= {"aggregate": "aggregate", "export": "export"}
PROVENANCE = ("harness_commit", "package_versions")


# --------------------------------------------------------------------------------------------- synthetic data
# Each writer puts `n` examples of the evaluated split (and `demos` of the demo split, for few-shot runs) in the
# task's on-disk format under `root`, and returns (split to evaluate, task options). Text is seeded filler of
# about the real data's lengths; images are tiny but real files (the chance backend never decodes them).

FILLER = (
    "man woman dog cat bus plate horse street table park kite beach snow train phone bird tree house car boat "
    "field window chair river road child shirt ball bench wall light water sign door food glass sky hill cake "
    "bridge truck bike girl boy red blue green small large old young white black brown wooden tall open"
)
WORDS = FILLER.split()
COLORS = ("black", "blue", "brown", "green", "grey", "orange", "pink", "purple", "red", "white", "yellow")
Writer = Callable[[Path, int, int], tuple[str, dict[str, str]]]


def words(seed: int, count: int) -> str:
    return " ".join(WORDS[(seed * 7919 + k * 104729 + k * k) % len(WORDS)] for k in range(count))


def sentence(seed: int, count: int) -> str:
    text = words(seed, count)
    return text[0].upper() + text[1:] + "."


def save_image(path: Path, index: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_image(index).save(path)
    return path.name


def write_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def coco_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_karpathy_coco(root, {"test": n, "train": demos} if demos else {"test": n})
    return "test", {}


def flickr30k_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    entries = []
    for i in range(n + demos):
        name = save_image(root / "flickr30k-images" / f"{1000000 + i}.jpg", i)
        refs = [sentence(i * 5 + j, 11) for j in range(5)]
        sentences = [{"raw": r, "tokens": r.lower().strip(".").split()} for r in refs]
        entries.append({"filename": name, "imgid": i, "split": "test" if i < n else "train", "sentences": sentences})
    write_json(root / "dataset_flickr30k.json", {"images": entries, "dataset": "flickr30k"})
    return "test", {}


def vqa_questions(count: int, offset: int, vizwiz: bool) -> list[tuple[str, list[str], Any]]:
    pool = ("yes", "no", "2", "red", "dog", "tennis", "kitchen", "unanswerable" if vizwiz else "white")
    questions = []
    for i in range(offset, offset + count):
        answers = [pool[(i + (j // 4)) % len(pool)] for j in range(10)]
        kind = "yes/no" if answers[0] in ("yes", "no") else "number" if answers[0].isdigit() else "other"
        extra = 0 if answers[0] == "unanswerable" else 1
        questions.append((f"What is the {words(i, 2)} {words(i + 1, 1)} doing?", answers, extra if vizwiz else kind))
    return questions


def vqav2_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_vqav2(root, "val", vqa_questions(n, 0, False))
    if demos:
        write_vqav2(root, "train", vqa_questions(demos, n, False), first_image=n + 1)
    return "val", {}  # val, not the paper's test-dev: test-dev has no public answers, so nothing would be scored


def vizwiz_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    write_vizwiz(root, "val", vqa_questions(n, 0, True))
    if demos:
        write_vizwiz(root, "train", vqa_questions(demos, n, True))
    return "val", {}  # scored locally, as vqav2


def imagenet_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    names = [f"{a} {b}" for a in WORDS for b in WORDS if a != b][:1000]
    wnids = [f"n{1_000_000 + k:08d}" for k in range(1000)]
    mapping = "".join(f"{wnid} {name}, {name.split()[1]}\n" for wnid, name in zip(wnids, names, strict=True))
    (root / "val").mkdir(parents=True, exist_ok=True)
    (root / "LOC_synset_mapping.txt").write_text(mapping)
    for i in range(n):
        save_image(root / "val" / wnids[i * 389 % 1000] / f"ILSVRC2012_val_{i + 1:08d}.JPEG", i)
    return "validation", {}


def raven_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    panel_counts = (3, 3, 3, 3, 3, 3, 3, 4, 8, 8)  # about IQ50's mix of 3-, 4- and 8-panel problems
    for i in range(n):
        folder = root / f"exp-{i + 1}"
        for k in range(panel_counts[i % len(panel_counts)]):
            save_image(folder / f"query-{k + 1}.png", i * 16 + k)
        for k, letter in enumerate("abcdef"):
            save_image(folder / f"answer-{letter}.png", i * 16 + 8 + k)
    return "test", {}


def relative_size_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    objects = [f"{WORDS[j % len(WORDS)]}{j // len(WORDS) or ''}" for j in range(2 * int((n + 1) ** 0.5) + 2)]
    pairs = [f"{a} {b}" for i, a in enumerate(objects) for b in objects[i + 1 :]][: (n + 1) // 2]
    root.mkdir(parents=True, exist_ok=True)
    (root / "sizePairsFull.txt").write_text("\n".join(pairs) + "\n")  # each pair is asked in both orders
    return "test", {}


def memory_color_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    rows = [f"{i + 1},{'the ' if i % 2 else 'a '},{words(i, 1)},{COLORS[i % 11]}" for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "memory_color_data.csv").write_bytes("\r\n".join(["Index,Descriptor,Item,Color", *rows, ""]).encode())
    return "test", {}


def color_terms_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    root.mkdir(parents=True, exist_ok=True)
    rows = [f"{words(i, 1)}{i},{COLORS[i % 11]}" for i in range(n)]
    (root / "color-concrete-objects.csv").write_text("\n".join(["object,color", *rows, ""]))
    return "test", {}


def cub_descriptions_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    rows = []
    for i in range(n):
        general = ("woodpecker", "gull", "sparrow")[i % 3]
        a, b = WORDS[i % len(WORDS)], WORDS[(i + 1) % len(WORDS)]
        candidates = [{"name": f"{w} {general}", "description": sentence(i * 2 + k, 25)} for k, w in enumerate((a, b))]
        image = f"images/bird_{i:05d}.jpg"
        save_image(root / image, i)
        label = candidates[i % 2]["name"]
        rows.append(
            {"id": f"cub-{i}", "image": image, "general_category": general, "candidates": candidates} | {"label": label}
        )
    write_lines(root / "descriptions.jsonl", rows)
    return "test", {}


def hateful_memes_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    rows = []
    for i in range(n):
        image = f"img/{10000 + i:05d}.png"
        save_image(root / image, i)
        rows.append({"id": 10000 + i, "img": image, "label": i % 2, "text": words(i, 12)})
    write_lines(root / "dev_seen.jsonl", rows)
    return "dev_seen", {}


def rendered_sst2_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    for i in range(n):
        save_image(root / "rendered-sst2" / "test" / ("negative", "positive")[i % 2] / f"{i:05d}.png", i)
    return "test", {}


def websrc_data(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
    per_page, pages_per_site = 5, 100
    domains = ("auto", "book", "camera", "game", "jobs", "movie", "phone", "restaurant", "sports", "university")
    rows: dict[tuple[str, str], list[list[Any]]] = {}
    for i in range(n):
        page = i // per_page
        domain, site = domains[page // pages_per_site // 99], f"{page // pages_per_site % 99 + 1:02d}"
        page_id = f"{site}{page % pages_per_site:05d}"
        folder = root / domain / site / "processed_data"
        if i % per_page == 0:
            save_image(folder / f"{page_id}.png", page)
            spans = (f'<div tid="{t}"><span tid="{t + 1}">{words(page + t, 14)}</span></div>' for t in range(0, 300, 2))
            blocks = "".join(spans)
            (folder / f"{page_id}.html").write_text(
                f'<html><head><style>div {{ margin: 0 }}</style><script>var x = "{words(page, 30)}";</script></head>'
                f'<body tid="0">{blocks}</body></html>'
            )  # about 16 KB, as WebSRC's cleaned pages
        yes_no = i % 5 == 4
        qid = f"{domain[:2]}{page_id}{i % per_page:05d}"
        answer = "yes" if yes_no else words(i, 2)
        element, start = (-1, 1) if yes_no else (3, 0)  # element_id -1: a yes/no question, answer_start 1 = yes
        rows.setdefault((domain, site), []).append([f"What is the {words(i, 3)}?", qid, element, start, answer])
    for (domain, site), site_rows in rows.items():
        with (root / domain / site / "dataset.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows([["question", "id", "element_id", "answer_start", "answer"], *site_rows])
    write_json(root / "dataset_split_release.json", {"train": [], "dev": [d[:2] + s for d, s in rows], "test": []})
    return "dev", {}


LANGUAGE_ROWS: dict[str, Callable[[int], dict[str, Any]]] = {
    "boolq": lambda i: {"question": words(i, 8), "passage": sentence(i, 110), "idx": i, "label": i % 2},
    "cb": lambda i: {"premise": sentence(i, 60), "hypothesis": sentence(i + 1, 9), "idx": i, "label": i % 3},
    "copa": lambda i: {
        "premise": sentence(i, 7), "choice1": sentence(i + 1, 6), "choice2": sentence(i + 2, 6),
        "question": ("cause", "effect")[i % 2], "idx": i, "label": i % 2,
    },
    "hellaswag": lambda i: {
        "ind": i, "activity_label": words(i, 2), "ctx_a": sentence(i, 25), "ctx_b": words(i + 1, 6),
        "endings": [sentence(i + k, 20) for k in range(4)], "label": str(i % 4),
    },
    "piqa": lambda i: {
        "goal": sentence(i, 12), "sol1": sentence(i + 1, 22), "sol2": sentence(i + 2, 22), "label": i % 2,
    },
    "winograd": lambda i: {
        "text": f"The {words(i, 1)} hit the {words(i + 1, 1)} because he was {words(i + 2, 6)}.",
        "pronoun": "he", "pronoun_loc": len(f"The {words(i, 1)} hit the {words(i + 1, 1)} because "),
        "options": [f"the {words(i, 1)}", f"the {words(i + 1, 1)}"], "label": i % 2,
    },
    "winogrande": lambda i: {
        "sentence": f"{sentence(i, 10)[:-1]} because _ {words(i + 1, 8)}.", "option1": words(i, 1),
        "option2": words(i + 2, 1), "answer": str(i % 2 + 1),
    },
    "storycloze": lambda i: {
        "story_id": f"story-{i}", **{f"input_sentence_{k}": sentence(i + k, 9) for k in range(1, 5)},
        "sentence_quiz1": sentence(i + 5, 8), "sentence_quiz2": sentence(i + 6, 8), "answer_right_ending": i % 2 + 1,
    },
}  # fmt: skip


def language_writer(dataset: str) -> Writer:
    """Rows in the dataset's hub schema as `<split>.jsonl`, the local form `formats/language.py` accepts."""

    def write(root: Path, n: int, demos: int) -> tuple[str, dict[str, str]]:
        spec = dataset_spec(dataset)
        write_lines(root / f"{spec.default_split}.jsonl", [LANGUAGE_ROWS[dataset](i) for i in range(n)])
        if demos and spec.demo_split != spec.default_split:
            write_lines(root / f"{spec.demo_split}.jsonl", [LANGUAGE_ROWS[dataset](n + i) for i in range(demos)])
        return spec.default_split, {}

    return write


WRITERS: dict[str, tuple[Writer, str]] = {
    "coco_caption": (coco_data, "generation"),
    "flickr30k": (flickr30k_data, "generation"),
    "vqav2": (vqav2_data, "generation"),
    "vizwiz": (vizwiz_data, "generation"),
    "websrc": (websrc_data, "generation"),
    "cub_descriptions": (cub_descriptions_data, "generation"),
    "imagenet": (imagenet_data, "1000-way ranking"),
    "raven": (raven_data, "ranking"),
    "hateful_memes": (hateful_memes_data, "ranking"),
    "rendered_sst2": (rendered_sst2_data, "ranking"),
    "relative_size": (relative_size_data, "ranking"),
    "memory_color": (memory_color_data, "ranking"),
    "color_terms": (color_terms_data, "ranking"),
    **{dataset: (language_writer(dataset), "ranking") for dataset in LANGUAGE_ROWS},
}


class TimedBackend:
    """Delegates to the chance backend and adds up the seconds spent inside it (the model's slot)."""

    def __init__(self, inner: ChanceBackend, clock: dict[str, float]) -> None:
        self.inner, self.clock, self.name = inner, clock, inner.name

    def _timed(self, method: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return getattr(self.inner, method)(*args)
        finally:
            self.clock["backend"] = self.clock.get("backend", 0.0) + time.perf_counter() - started

    def rank(self, requests: list) -> list:
        return self._timed("rank", requests)

    def generate(self, requests: list) -> list[str]:
        return self._timed("generate", requests)

    def embed_images(self, images: list) -> Any:
        return self._timed("embed_images", images)

    def fingerprint(self) -> dict[str, Any]:
        return self.inner.fingerprint()

    def default_batch_size(self) -> int:
        return self.inner.default_batch_size()


def _timer(function: Callable, stage: str, clock: dict[str, float]) -> Callable:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            clock[stage] = clock.get(stage, 0.0) + time.perf_counter() - started

    return timed


@contextmanager
def stage_clock(clock: dict[str, float]) -> Iterator[None]:
    """Times the task's and the run folder's methods from the outside, for the stage breakdown.

    Replaces the runner's `make_task`, `RunFolder` and provenance names for the duration (they are looked up at
    call time) with versions whose calls add to `clock`; nested calls inside a task are not double counted, since
    only the instance attributes the runner calls are wrapped. Restored on exit.
    """
    originals = {name: getattr(run_module, name) for name in ("make_task", "RunFolder", *PROVENANCE)}
    original_make_task, original_folder = originals["make_task"], originals["RunFolder"]

    def make_task(config: RunConfig) -> Any:
        task = original_make_task(config)
        for method, stage in TASK_STAGES.items():
            setattr(task, method, _timer(getattr(task, method), stage, clock))
        return task

    class TimedFolder(original_folder):  # type: ignore[misc, valid-type]
        def append(self, records: Any) -> None:
            _timer(super().append, "write", clock)(records)

        def write_summary(self, summary: dict[str, Any]) -> Path:
            return _timer(super().write_summary, "write", clock)(summary)

    run_module.make_task, run_module.RunFolder = make_task, TimedFolder
    for name in PROVENANCE:  # per-run look-ups: git commit and package versions for summary.json
        setattr(run_module, name, _timer(originals[name], "provenance", clock))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(run_module, name, original)


def _profile_top(profile: cProfile.Profile, count: int = 12) -> list[str]:
    stream = io.StringIO()
    pstats.Stats(profile, stream=stream).sort_stats("tottime").print_stats(count)
    lines = [line.rstrip() for line in stream.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [line for line in lines[start:] if line.strip()]


def clear_caches() -> None:
    """Empty the harness's memoised functions (parsed web pages, .npz arrays, prompt files), so every timed run
    pays what a fresh process pays; otherwise a repeat would find the previous run's pages already parsed."""
    for name, module in list(sys.modules.items()):
        if name.startswith("kosmos_eval"):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def _timed_run(config: RunConfig, profiler: cProfile.Profile | None = None) -> tuple[int, float, dict[str, float]]:
    """(examples computed, wall seconds, seconds per stage) of one evaluation with the timed chance backend, in a
    fresh output folder (`config.output_dir` must not hold the run, or it would resume instead of compute)."""
    clear_caches()
    clock: dict[str, float] = {}
    with stage_clock(clock):
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        outcome = evaluate(config, backend=TimedBackend(ChanceBackend(seed=config.seed), clock), progress=False)
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - started
    stages = {stage: clock.get(stage, 0.0) for stage in STAGES}
    stages["other"] = max(0.0, wall - sum(stages.values()))
    return outcome.computed, wall, stages


def _harness_seconds(run: tuple[int, float, dict[str, float]]) -> float:
    return run[1] - run[2]["backend"]


def measure_task(
    task: str,
    examples: int,
    shots: int,
    workdir: Path,
    batch_size: int = DEFAULT_BATCH,
    repeat: int = 1,
    profile: bool = False,
) -> dict[str, Any]:
    """Write `examples` synthetic examples of `task` under `workdir` and time one fresh evaluation of them.

    Returns the task's row: counts, seconds per stage, end-to-end and harness-only examples/s, the GPU rate it is
    compared with, the overhead share and pass/fail; or a row with `skipped` (the reason) where it cannot run.
    A second, smaller data set (a tenth) is timed too, so the harness time splits into a per-run fixed part and a
    per-example part (a straight line through the two runs): `steady_overhead_pct` is the share a data set much
    larger than N would see, where fixed costs (git and package look-ups, the METEOR JVM) no longer count.
    Each size is timed `repeat` times and the fastest harness time kept (the usual best-of against noise such as
    fsync latency and JVM start-up); `profile` adds one more, untimed run of N under cProfile.
    """
    row: dict[str, Any] = {"task": task}
    if task not in WRITERS:
        return row | {"skipped": "no synthetic data writer for this task (add one to WRITERS)"}
    writer, kind = WRITERS[task]
    if shots not in TASKS.get(task).shots:
        return row | {"skipped": f"no {shots}-shot setting"}
    small = max(1, examples // 10)
    started = time.perf_counter()
    split, options = writer(workdir / "data" / task, examples, examples if shots else 0)
    writer(workdir / "small" / task, small, small if shots else 0)
    row |= {"kind": kind, "split": split, "write_data_seconds": time.perf_counter() - started}

    def config(data: str, output: str, limit: int) -> RunConfig:
        return RunConfig(
            task=task, shots=shots, split=split, backend="chance", data_dir=str(workdir / data / task), limit=limit,
            output_dir=str(workdir / output / task), batch_size=batch_size, task_options=options,
        )  # fmt: skip

    try:
        evaluate(config("small", "warmup", small), backend=ChanceBackend(seed=1234), progress=False)  # imports
        small_runs = [_timed_run(config("small", f"small-run-{r}", small)) for r in range(repeat)]
        small_done, small_wall, small_stages = min(small_runs, key=_harness_seconds)
        runs = [_timed_run(config("data", f"run-{r}", examples)) for r in range(repeat)]
        done, wall, stages = min(runs, key=_harness_seconds)
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            _timed_run(config("data", "profiled-run", examples), profiler)
    except UserError as exc:
        return row | {"skipped": str(exc)}
    harness = wall - stages["backend"]
    small_harness = small_wall - small_stages["backend"]
    per_example = max(0.0, (harness - small_harness) / (done - small_done)) if done > small_done else harness / done
    harness_rate, gpu_rate = done / harness, GPU_RATES[kind]
    row |= {
        "examples": done,
        "wall_seconds": wall,
        "backend_seconds": stages["backend"],
        "harness_seconds": harness,
        "stage_seconds": stages,
        "slowest_stage": max((s for s in stages if s != "backend"), key=stages.__getitem__),
        "end_to_end_examples_per_s": done / wall,
        "harness_examples_per_s": harness_rate,
        "gpu_examples_per_s": gpu_rate,
        "overhead_pct": gpu_rate / harness_rate * 100.0,
        "passed": gpu_rate / harness_rate * 100.0 < TARGET_PCT,
        "small_run_examples": small_done,
        "small_run_harness_seconds": small_harness,
        "fixed_seconds": max(0.0, harness - done * per_example),
        "per_example_ms": per_example * 1000.0,
        "steady_overhead_pct": gpu_rate * per_example * 100.0,
    }
    if profiler is not None:
        row["profile_top"] = _profile_top(profiler)
    return row


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def run_benchmark(
    tasks: list[str],
    examples: int = 500,
    shots: int = 0,
    out: Path = DEFAULT_OUT,
    batch_size: int = DEFAULT_BATCH,
    repeat: int = 1,
    profile: bool = False,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Measure every task in `tasks` (each in its own temporary folder) and write the JSON report to `out`."""
    rows = []
    for task in tasks:
        with tempfile.TemporaryDirectory(prefix=f"overhead-{task}-") as workdir:
            rows.append(measure_task(task, examples, shots, Path(workdir), batch_size, repeat, profile))
    report = {
        "command": shlex.join(argv if argv is not None else [sys.executable, *sys.argv]),
        "machine": machine(),
        "settings": dict(examples=examples, shots=shots, batch_size=batch_size, repeat=repeat, target_pct=TARGET_PCT),
        "tasks": {row["task"]: row for row in rows},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_table(report: dict[str, Any]) -> str:
    """One line per task: the all-in numbers at N, then the fixed/steady split and the slowest harness stage."""
    header = ("task", "kind", "split", "n", "wall s", "e2e/s", "harness/s", "GPU/s", "overhead", "", "fixed s")
    header += ("steady", "slowest stage")
    lines = ["{:<17}{:<17}{:<11}{:>5}{:>7}{:>8}{:>10}{:>6}{:>10}  {:<5}{:>8}{:>8}  {}".format(*header)]
    for row in report["tasks"].values():
        if "skipped" in row:
            lines.append(f"{row['task']:<17}skipped: {row['skipped']}")
            continue
        slowest = row["slowest_stage"]
        lines.append(
            f"{row['task']:<17}{row['kind']:<17}{row['split']:<11}{row['examples']:>5}{row['wall_seconds']:>7.2f}"
            f"{row['end_to_end_examples_per_s']:>8.0f}{row['harness_examples_per_s']:>10.0f}"
            f"{row['gpu_examples_per_s']:>6.0f}{row['overhead_pct']:>9.2f}%  {'pass' if row['passed'] else 'FAIL':<5}"
            f"{row['fixed_seconds']:>8.2f}{row['steady_overhead_pct']:>7.2f}%  "
            f"{slowest} {row['stage_seconds'][slowest] / row['wall_seconds']:.0%}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="synthetic examples per task (default 500)")
    parser.add_argument("--tasks", help="comma-separated task names (default: every registered task)")
    parser.add_argument("--shots", type=int, default=0, help="demonstrations per example (default 0)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"default {DEFAULT_BATCH}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON report (default {DEFAULT_OUT})")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size, fastest kept (default 3)")
    parser.add_argument("--profile", action="store_true", help="one more run per task under cProfile; print its top")
    args = parser.parse_args(argv)
    if min(args.examples, args.batch_size, args.repeat) < 1 or args.shots < 0:
        parser.error("--examples, --batch-size and --repeat must be at least 1, --shots at least 0")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else TASKS.names()
    for task in tasks:
        TASKS.get(task)  # an unknown name fails here, with a suggestion, before any work
    report = run_benchmark(tasks, args.examples, args.shots, args.out, args.batch_size, args.repeat, args.profile)
    print(format_table(report))
    if args.profile:
        for row in report["tasks"].values():
            if "profile_top" in row:
                print(f"\n{row['task']}: cProfile, top by own time\n" + "\n".join(row["profile_top"]))
    rows = [row for row in report["tasks"].values() if "skipped" not in row]
    failed = [row["task"] for row in rows if not row["passed"]]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} measured tasks under {TARGET_PCT:g}% of GPU wall time; "
          f"report: {args.out}" + (f"; over target: {', '.join(failed)}" if failed else ""))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
