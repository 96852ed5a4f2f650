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

PEOPLE = ("The man", "A woman", "The girl", "Two boys", "The chef", "My neighbour", "The old farmer", "José")
VERBS = ("cuts", "washes", "paints", "lifts", "folds", "throws", "stirs", "repairs", "polishes", "opens")
THINGS = ("the red bucket", "a wooden chair", "the café sign", "some paper", "the bicycle tyre", "a glass jar")
THINGS += ("the garden hose", "an old blanket", "the kitchen floor", "a loaf of bread", "the “naïve” poster")
PLACES = ("in the yard", "at the sink", "on a ladder", "near the window", "by the river", "inside the garage")
EXTRAS = ("slowly", "with care", "while talking", "again and again", "for a few minutes", "— then stops")


def clause(rng: random.Random, people: bool = True) -> str:
    words = [rng.choice(PEOPLE)] if people else []
    words += [rng.choice(VERBS), rng.choice(THINGS)]
    words += [rng.choice(PLACES)] * rng.randint(0, 1) + [rng.choice(EXTRAS)] * rng.randint(0, 1)
    return " ".join(words)


def sentences(rng: random.Random, low: int, high: int) -> str:
    return " ".join(clause(rng) + "." for _ in range(rng.randint(low, high)))


def piqa_row(rng: random.Random, i: int) -> dict[str, Any]:
    goal = rng.choice(("How do I", "To", "What is the best way to")) + " " + clause(rng, people=False).lower()
    goal += "?" if goal.startswith(("How", "What")) else ""
    sols = [clause(rng, people=False).capitalize() + "." + " " + sentences(rng, 0, 3) for _ in range(2)]
    if i % 3 == 0:  # short solutions, where acc_norm's divisor (with or without the delimiter) can decide
        sols = [f"{verb} {thing}" for verb, thing in zip(rng.sample(VERBS, 2), rng.sample(THINGS, 2), strict=True)]
    return {"goal": goal, "sol1": sols[0].strip(), "sol2": sols[1].strip(), "label": rng.randint(0, 1)}


def hellaswag_row(rng: random.Random, i: int) -> dict[str, Any]:
    label = rng.choice(("Washing dishes", "Home and Garden", "Cutting the grass", "Food and Entertaining"))
    if i % 2:  # WikiHow style: markup tags; every fourth row ends in a tag that leaves trailing whitespace
        ctx_a = f"[header] How to {rng.choice(VERBS)[:-1]} {rng.choice(THINGS)} [title] {sentences(rng, 1, 2)}"
        ctx_b = "" if i % 4 == 1 else f"[step] {clause(rng).lower()} {rng.choice(('[title]', '[substeps]'))}"
        endings = [f"[step] {sentences(rng, 1, 4)} [title] {clause(rng)}" for _ in range(4)]
    else:  # ActivityNet style: ctx_b starts lower-case and may hold names that capitalize() lower-cases
        ctx_a = sentences(rng, 1, 3)
        ctx_b = clause(rng).lower() + rng.choice((" and Mary", " while John", ""))
        endings = [clause(rng, people=False) + "." * rng.randint(0, 1) + " " * (j == 3) for j in range(4)]
    ctx = f"{ctx_a} {ctx_b}".strip() if ctx_b else ctx_a
    row = {"ind": 100 + i, "activity_label": label, "ctx_a": ctx_a, "ctx_b": ctx_b, "ctx": ctx, "endings": endings}
    more = {"source_id": f"parity~{i}", "split": "val", "split_type": "indomain"}
    return {**row, **more, "label": str(rng.randint(0, 3))}  # the hub's label is a string


def copa_row(rng: random.Random, i: int) -> dict[str, Any]:
    premise = clause(rng) + "."
    picks = [clause(rng) + "." for _ in range(2)]
    if i % 3 == 0:  # short alternatives, where acc_norm's divisor can decide
        picks = [f"{who} {verb}." for who, verb in zip(rng.sample(PEOPLE, 2), rng.sample(VERBS, 2), strict=True)]
    if i % 5 == 0:
        picks[0] = f"I {clause(rng, people=False)}."  # lm-eval lower-cases the first letter: "I" -> "i"
    row = {"premise": premise, "choice1": picks[0], "choice2": picks[1], "question": rng.choice(("cause", "effect"))}
    return {**row, "idx": i, "label": rng.randint(0, 1)}


def boolq_row(rng: random.Random, i: int) -> dict[str, Any]:
    passage = f"{rng.choice(THINGS).title()} -- " + sentences(rng, 1, 12)
    question = ("does " + clause(rng).lower()).replace("é", "e")
    return {"question": question, "passage": passage, "idx": i, "label": rng.randint(0, 1)}


MAKERS = {"piqa": piqa_row, "hellaswag": hellaswag_row, "copa": copa_row, "boolq": boolq_row}


def our_id(task: str, i: int, row: dict[str, Any]) -> str:
    """The id kosmos-eval gives row i (docs/data_language.md): HellaSwag `ind`, SuperGLUE `idx`, else split-row."""
    return str(row["ind"]) if task == "hellaswag" else str(row["idx"]) if "idx" in row else f"validation-{i}"


def build_models(work: Path, corpus: list[str], seed: int) -> tuple[Path, Path]:
    """(LLaVA folder for kosmos-eval, LlamaForCausalLM folder for lm-eval) with the same text weights."""
    import torch
    import transformers as tf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    special = ["<s>", "</s>", "<pad>", "<image>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=900, special_tokens=special, show_progress=False, initial_alphabet=alphabet
    )
    raw.train_from_iterator(corpus, trainer)
    raw.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    tokenizer = tf.PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    sizes = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
    ids = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2}  # <s>, </s>, <pad>; <image> is 3
    text = tf.LlamaConfig(
        vocab_size=len(tokenizer), num_key_value_heads=2, max_position_embeddings=2048, **sizes, **ids
    )
    vision = tf.CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8
    )
    select = {"vision_feature_select_strategy": "default"}
    config = tf.LlavaConfig(vision_config=vision, text_config=text, image_token_id=3, vision_feature_layer=-1, **select)
    torch.manual_seed(seed)
    llava = tf.LlavaForConditionalGeneration(config).eval()
    image_processor = tf.CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = tf.LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=8, num_additional_image_tokens=1, **select
    )
    llama = tf.LlamaForCausalLM(text).eval()
    llama.model.load_state_dict(llava.model.language_model.state_dict())
    llama.lm_head.load_state_dict(llava.lm_head.state_dict())
    tokens = torch.tensor([tokenizer(corpus[0])["input_ids"]])
    with torch.no_grad():
        gap = (llava(input_ids=tokens).logits - llama(input_ids=tokens).logits).abs().max().item()
    if gap > 1e-5:
        sys.exit(f"the exported Llama differs from the LLaVA language model (max logit gap {gap:.2e})")
    llava_dir, llama_dir = work / "models" / "llava", work / "models" / "llama"
    llava.save_pretrained(llava_dir)
    processor.save_pretrained(llava_dir)
    llama.save_pretrained(llama_dir)
    tokenizer.save_pretrained(llama_dir)
    return llava_dir, llama_dir


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
