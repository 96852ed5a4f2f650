"""Side-by-side check: our text-task scoring against lm-evaluation-harness on the same model and rows.

Builds offline a tiny random LLaVA 1.5 (Llama language model, byte-level BPE tokenizer with `<s>` in front) and
exports its language model, same weights and tokenizer, as a plain LlamaForCausalLM folder (our hf backend loads
image-text-to-text checkpoints only, lm-eval's `hf` causal LMs only; on text both compute the same function).
Writes seeded rows in the hub schema of PIQA, HellaSwag (with WikiHow-style rows whose cleaned context ends in
whitespace), COPA and BoolQ; runs lm-eval (`python -m lm_eval run`, model hf, float32, CPU, batch size 1,
zero-shot, --log_samples) on task YAMLs written here with the official tasks' settings over those JSONL files,
and kosmos-eval (`python -m kosmos_eval run TASK --data-dir ...`, float32, CPU, zero-shot); compares row by row
the prompt and continuation texts, the token ids each harness feeds (lm-eval's `_encode_pair` against our
adapter), every choice's log-likelihood, acc and acc_norm. Needs lm-eval (`pip install "lm-eval[hf]==0.4.*"`)
and kosmos-eval in the same Python; nothing is downloaded.

    python benchmarks/lm_eval_parity.py [--rows 40] [--tasks piqa,...] [--work DIR] [--out JSON]

Prints a table (task, rows, max |Δ loglik|, rows with identical token ids, acc and acc_norm ours / lm-eval,
rows that differ) and writes results/benchmarks/lm_eval_parity.json. Exit status: 0 when every row agrees
(texts, ids, log-likelihoods within --tolerance, predictions), 1 when some row differs (listed, with both
prompts, ids and numbers, in the JSON), 2 when lm_eval or kosmos_eval is not importable (nothing is run).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.metadata
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# the seeded rows (MAKERS) and the twin checkpoints (build_models) both harnesses are given
from benchmarks.lm_eval_parity_inputs import MAKERS, build_models

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("piqa", "hellaswag", "copa", "boolq")
# the official task files of lm-eval (under lm_eval/tasks/) whose settings the YAMLs below restate
OFFICIAL = {"piqa": "piqa/piqa.yaml", "hellaswag": "hellaswag/hellaswag.yaml"}
OFFICIAL |= {"copa": "super_glue/copa/default.yaml", "boolq": "super_glue/boolq/default.yaml"}
# Per task: comments saying what lm-eval's official task does, then its settings (doc_to_text, doc_to_choice,
# doc_to_target, process_docs; Python functions are referenced in the installed package, not copied).
# Changed only: the data comes from local JSONL, and acc_norm is asked for where the official task lists acc only.
SETTINGS = {
    "piqa": """# PIQA: the goal framed as "Question: <goal>" with "Answer:" on the next line; the two solutions are
# the choices, scored after lm-eval's default target delimiter (one space); the integer label is the gold index.
doc_to_text: "Question: {{goal}}\\nAnswer:"
doc_to_target: label
doc_to_choice: "{{[sol1, sol2]}}"
""",
    "hellaswag": """# HellaSwag: process_docs builds the query "<activity_label>: <ctx_a> <ctx_b capitalised>" and
# cleans it and each ending of WikiHow markup (strip, " [title]" -> ". ", other [tags] removed, double spaces
# halved); the query is the prompt, the cleaned endings the choices, the string label the gold index.
process_docs: !function lm_eval.tasks.hellaswag.utils.process_docs
doc_to_text: "{{query}}"
doc_to_target: "{{label}}"
doc_to_choice: "choices"
""",
    "copa": """# COPA: the premise without its last character (the full stop) plus " because" (cause) or " therefore"
# (effect); each choice is a space plus the alternative with its first letter lower-cased, so after the
# target delimiter the scored text opens with two spaces.
doc_to_text: !function lm_eval.tasks.super_glue.copa.utils.doc_to_text
doc_to_target: !function lm_eval.tasks.super_glue.copa.utils.doc_to_target
doc_to_choice: !function lm_eval.tasks.super_glue.copa.utils.doc_to_choice
""",
    "boolq": """# BoolQ: the passage, then "Question: <question>?" and "Answer:", each on its own line; the choices are
# "no" and "yes" (label 0 = no, 1 = yes).
doc_to_text: "{{passage}}\\nQuestion: {{question}}?\\nAnswer:"
doc_to_target: label
doc_to_choice: ["no", "yes"]
""",
}
METRICS = "metric_list:\n" + "".join(
    f"  - metric: {name}\n    aggregation: mean\n    higher_is_better: true\n" for name in ("acc", "acc_norm")
)
# zero-shot, float32 on the CPU for both; lm-eval at batch size 1, ours at its default batching (and packing)
DTYPE = "dtype=float32"
LM_EVAL_FLAGS = ["--model", "hf", "--device", "cpu", "--batch_size", "1", "--num_fewshot", "0", "--log_samples"]
OUR_FLAGS = ["--model", "hf", "--device", "cpu", "--shots", "0"]


def our_id(task: str, i: int, row: dict[str, Any]) -> str:
    """The id kosmos-eval gives row i (docs/data_language.md): HellaSwag `ind`, SuperGLUE `idx`, else split-row."""
    return str(row["ind"]) if task == "hellaswag" else str(row["idx"]) if "idx" in row else f"validation-{i}"


def check_official(task: str) -> list[str]:
    """Where our YAML's settings differ from the installed official task file (functions: same utils.py)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: "!function " + loader.construct_scalar(node))
    official_path = Path(importlib.util.find_spec("lm_eval").origin).parent / "tasks" / OFFICIAL[task]
    official = yaml.load(official_path.read_text(encoding="utf-8"), Loader=Loader)
    ours = yaml.load(SETTINGS[task], Loader=Loader)
    problems = []
    for key, value in ours.items():
        theirs = official.get(key)
        if isinstance(value, str) and value.startswith("!function "):
            module, _, name = value.removeprefix("!function ").rpartition(".")
            same_file = Path(importlib.util.find_spec(module).origin) == official_path.parent / "utils.py"
            if not (same_file and theirs == f"!function utils.{name}"):
                problems.append(f"{key}: ours {value!r}, official {theirs!r}")
        elif value != theirs:
            problems.append(f"{key}: ours {value!r}, official {theirs!r}")
    return problems


def run_lm_eval(work: Path, files: dict[str, Path], llama_dir: Path) -> dict[str, list[dict[str, Any]]]:
    tasks_dir, out = work / "lm_eval_tasks", work / "lm_eval_out"
    tasks_dir.mkdir()
    for task, path in files.items():
        head = f"task: {task}_parity\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        head += f"    validation: {json.dumps(str(path))}\noutput_type: multiple_choice\nvalidation_split: validation\n"
        (tasks_dir / f"{task}_parity.yaml").write_text(head + SETTINGS[task] + METRICS, encoding="utf-8")
    tasks = ",".join(f"{t}_parity" for t in files)
    command = [
        sys.executable,
        "-m",
        "lm_eval",
        "run",
        *LM_EVAL_FLAGS,
        "--model_args",
        f"pretrained={llama_dir},{DTYPE}",
    ]
    command += ["--tasks", tasks, "--include_path", str(tasks_dir), "--output_path", str(out)]
    run(command, work / "lm_eval.log")
    samples = {}
    for task in files:
        (path,) = sorted(out.rglob(f"samples_{task}_parity_*.jsonl"))
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        samples[task] = sorted(rows, key=lambda r: r["doc_id"])
    return samples


def lm_eval_ids(llama_dir: Path, pairs: list[tuple[str, str]]) -> list[tuple[list[int], ...]] | str:
    """lm-eval's own (context, continuation) token ids, from its HFLM, and the continuation's ids had the
    context's trailing whitespace stayed in the context; or why they could not be had."""
    try:
        # lm-eval is an optional tool here, not a dependency pyproject.toml declares (tests/import_check.py reads
        # static imports): it is loaded by name, only after main() found it installed
        lm = importlib.import_module("lm_eval.models.huggingface").HFLM(
            pretrained=str(llama_dir), device="cpu", dtype="float32", batch_size=1
        )
        out = []
        for context, continuation in pairs:  # also: the continuation's ids were the whitespace not moved
            kept = lm.tok_encode(context + continuation)[len(lm.tok_encode(context)) :]
            out.append((*lm._encode_pair(context, continuation), kept))
        return out
    except Exception as exc:  # a private method: say so rather than fail the whole check
        return f"lm-eval token ids not read ({type(exc).__name__}: {exc})"


def run_ours(work: Path, task: str, data_dir: Path, llava_dir: Path) -> dict[str, dict[str, Any]]:
    out = work / "runs" / task
    command = [sys.executable, "-m", "kosmos_eval", "run", task, *OUR_FLAGS, "--data-dir", str(data_dir)]
    command += ["--model-args", f"pretrained={llava_dir},{DTYPE}", "--output", str(out)]
    run(command, work / f"kosmos_eval_{task}.log")
    (path,) = sorted(out.glob("*/samples.jsonl"))
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {r["id"]: r for r in records}


def our_ids(llava_dir: Path, pairs: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """Our hf backend's (context, continuation) token ids for text-only contexts."""
    from kosmos_eval.backends.hf.backend import HFBackend
    from kosmos_eval.core.types import Context

    backend = HFBackend(device="cpu", pretrained=str(llava_dir), dtype="float32")
    adapter = backend.adapter
    return [(adapter.encode(Context((c,))).ids, adapter.continuation_ids(Context((c,)), x)) for c, x in pairs]


def run(command: list[str], log: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with log.open("w", encoding="utf-8") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode:
        tail = log.read_text(encoding="utf-8").splitlines()[-15:]
        sys.exit(f"command failed ({done.returncode}): {' '.join(command)}\n" + "\n".join(tail))


def arguments(sample: dict[str, Any]) -> list[tuple[str, str]]:
    args = sample["arguments"]
    if isinstance(args, dict):  # {"gen_args_0": {"arg_0": context, "arg_1": continuation}, ...}
        return [(a["arg_0"], a["arg_1"]) for a in args.values()]
    return [(a[0], a[1]) for a in args]


def compare(task: str, rows: list[dict], samples: list[dict], records: dict, ids: dict, tol: float) -> dict:
    per_row, differing = [], []
    for i, (row, sample) in enumerate(zip(rows, samples, strict=True)):
        record, pairs = records[our_id(task, i, row)], arguments(sample)
        theirs = [float(r[0]) for r in sample["filtered_resps"]]
        ours = [float(x) for x in record["outputs"][0]["logprobs"]]
        delta = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
        accs = [float(x) for x in (record["correct"], sample["acc"], record["correct_norm"], sample["acc_norm"])]
        same_text = all(c == record["prompt"] and x == o for (c, x), o in zip(pairs, record["options"], strict=True))
        same_ids = all(ids["ours"][p] == ids["theirs"][p][:2] for p in pairs) if ids else None
        moved = any(ids["theirs"][p][1] != ids["theirs"][p][2] for p in pairs) if ids else None
        lengths = [(len(x), len(x) - x.startswith(" ")) for _, x in pairs]  # with / without the delimiter
        norm = [max(range(len(theirs)), key=lambda k: (theirs[k] / lengths[k][j], -k)) for j in (0, 1)]
        spaced = pairs[0][0] != pairs[0][0].rstrip()
        per_row.append((delta, *accs, same_ids, moved, norm[0] != norm[1], spaced))
        argmax = max(range(len(theirs)), key=lambda k: (theirs[k], -k))
        problems = [f"|delta loglik| {delta:.2e}"] * (delta > tol) + ["prompt text differs"] * (not same_text)
        problems += ["token ids differ"] * (same_ids is False)
        # lm-eval's picks: the first best log-likelihood, and per character of the choice (the continuation
        # without its target delimiter, " ")
        if (record["prediction"], record["prediction_norm"]) != (argmax, norm[1]) or accs[::2] != accs[1::2]:
            tie = " (a tie within 1e-4: ours breaks it at random, lm-eval takes the first)" if record["ties"] else ""
            problems.append("prediction differs" + tie)
        if problems:
            detail = {"row": i, "id": record["id"], "problems": problems, "ours": ours, "theirs": theirs}
            detail.update(our_prompt=record["prompt"], their_context=pairs[0][0], our_options=record["options"])
            detail["their_continuations"] = [x for _, x in pairs]
            if ids:
                detail["ids"] = [{"ours": ids["ours"][p], "theirs": ids["theirs"][p][:2]} for p in pairs]
            differing.append(detail)
    deltas, ours_acc, their_acc, ours_norm, their_norm, same, moved, divisor, spaced = zip(*per_row, strict=True)
    mean = lambda xs: round(sum(xs) / len(xs), 6)  # noqa: E731
    result = {"task": task, "rows": len(rows), "max_abs_delta_loglik": max(deltas)}
    result["rows_with_identical_token_ids"] = sum(same) if ids else None
    result.update(acc_ours=mean(ours_acc), acc_theirs=mean(their_acc))
    result.update(acc_norm_ours=mean(ours_norm), acc_norm_theirs=mean(their_norm), rows_differing=differing)
    # how much the rows exercise the rules this check is about
    result["contexts_ending_in_space"] = sum(spaced)
    result["rows_whose_ids_the_whitespace_move_changes"] = sum(moved) if ids else None
    result["rows_whose_acc_norm_pick_the_divisor_decides"] = sum(divisor)
    return result


def table(results: list[dict]) -> str:
    head = ("task", "rows", "max |Δ loglik|", "same ids", "acc ours/theirs", "acc_norm ours/theirs", "rows differing")
    lines = [head]
    for r in results:
        accs = f"{r['acc_ours']:.4f} / {r['acc_theirs']:.4f}", f"{r['acc_norm_ours']:.4f} / {r['acc_norm_theirs']:.4f}"
        delta, same = f"{r['max_abs_delta_loglik']:.2e}", str(r["rows_with_identical_token_ids"])
        lines.append((r["task"], str(r["rows"]), delta, same, *accs, str(len(r["rows_differing"]))))
    widths = [max(len(line[k]) for line in lines) for k in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=40, help="rows per task (default 40)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of " + ", ".join(TASKS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the rows and of the random weights")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest |Δ loglik| counted as equal")
    work_help = "scratch folder (models, data, task YAMLs, run outputs; default: a new temporary folder)"
    parser.add_argument("--work", type=Path, default=None, help=work_help)
    out = ROOT / "results" / "benchmarks" / "lm_eval_parity.json"
    parser.add_argument("--out", type=Path, default=out, help="the JSON report (default results/benchmarks/...)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("lm_eval") is None or importlib.util.find_spec("kosmos_eval") is None:
        print('needs lm_eval and kosmos_eval in this Python: pip install "lm-eval[hf]==0.4.*" -e . (nothing was run)')
        return 2
    tasks = [t for t in args.tasks.split(",") if t]
    if unknown := set(tasks) - set(TASKS):
        parser.error(f"unknown tasks {sorted(unknown)}; choose from {', '.join(TASKS)}")
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    args.work = args.work or Path(tempfile.mkdtemp(prefix="lm-eval-parity-"))
    marker = args.work / ".lm_eval_parity"  # only a folder this script made is ever emptied
    if args.work.exists() and any(args.work.iterdir()) and not marker.exists():
        parser.error(f"--work {args.work} holds files this script did not write; give an empty or new folder")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    marker.touch()
    rows, files = {}, {}
    for task in tasks:
        rng = random.Random(f"{args.seed}-{task}")
        rows[task] = [MAKERS[task](rng, i) for i in range(args.rows)]
        files[task] = args.work / "data" / task / "validation.jsonl"
        files[task].parent.mkdir(parents=True)
        files[task].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[task]), "utf-8")
    corpus = [" ".join(str(v) for v in row.values()) for task in tasks for row in rows[task]]
    llava_dir, llama_dir = build_models(args.work, corpus, args.seed)
    official = {task: check_official(task) for task in tasks}
    samples = run_lm_eval(args.work, files, llama_dir)
    records = {task: run_ours(args.work, task, files[task].parent, llava_dir) for task in tasks}
    pairs = sorted({p for task in tasks for s in samples[task] for p in arguments(s)})
    theirs = lm_eval_ids(llama_dir, pairs)
    ids = {} if isinstance(theirs, str) else {"theirs": dict(zip(pairs, theirs, strict=True))}
    if ids:
        ids["ours"] = dict(zip(pairs, our_ids(llava_dir, pairs), strict=True))
    results = [compare(t, rows[t], samples[t], records[t], ids, args.tolerance) for t in tasks]
    print(table(results))
    for r in results:
        print(
            f"{r['task']}: {r['contexts_ending_in_space']} contexts end in whitespace, the move changes the ids "
            f"of {r['rows_whose_ids_the_whitespace_move_changes']} rows; counting the delimiter in acc_norm's "
            f"divisor would change the pick in {r['rows_whose_acc_norm_pick_the_divisor_decides']} rows"
        )
    for result in results:
        for row in result["rows_differing"]:
            print(f"{result['task']} row {row['row']} (id {row['id']}): {'; '.join(row['problems'])}")
    import torch
    import transformers

    report = {
        "benchmark": "lm_eval_parity",
        "note": "kosmos-eval's text-task scoring against lm-evaluation-harness on one tiny random checkpoint "
        "(LLaVA for us, its language model exported as LlamaForCausalLM for lm-eval, byte-level BPE tokenizer) "
        "and seeded synthetic rows in each task's hub schema; only the agreement means anything",
        "command": " ".join(["python", "benchmarks/lm_eval_parity.py", *(argv if argv is not None else sys.argv[1:])]),
        "settings": {
            k: (str(v.relative_to(ROOT) if v.is_relative_to(ROOT) else v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k != "work"  # a scratch folder of the machine it ran on
        },
        "environment": {"lm_eval": importlib.metadata.version("lm_eval"), "torch": torch.__version__}
        | {"transformers": transformers.__version__, "python": sys.version.split()[0]},
        "official_settings_differences": official,
        "token_ids": "compared (lm-eval HFLM._encode_pair vs our adapter)" if ids else theirs,
        "results": results,
        "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(not r["rows_differing"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
