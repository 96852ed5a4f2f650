"""Synthetic hub copies of Raven (IQ50, and HuggingFaceM4/RAVEN, which is not the paper's set) and WebSRC,
in their cards' schemas (see kosmos_eval/generators/hub_copies.py)."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from kosmos_eval.generators.hub_copies import copy_writer, image_cell


def _raven_iq50_features() -> Any:
    """lmms-lab/IQ50 as raven.yaml declares it (its card's columns are unconfirmed: see that file)."""
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "panels": datasets.List(datasets.Image()),
            "candidates": datasets.List(datasets.Image()),
            "answer": datasets.Value("int64"),
        }
    )


def _raven_problems(sample: Path) -> list[Path]:
    """The sample's exp-N folders in numeric order."""
    return sorted(sample.glob("exp-*"), key=lambda folder: int(folder.name.removeprefix("exp-")))


@copy_writer("raven", _raven_iq50_features)
def raven_iq50_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """One row per exp-N folder: its query panels and answer candidates in file order, answer-a correct."""
    return {
        "test": [
            {
                "id": problem.name,
                "panels": [image_cell(path) for path in sorted(problem.glob("query-*.png"), key=_query_number)],
                "candidates": [image_cell(path) for path in sorted(problem.glob("answer-*.png"))],
                "answer": 0,
            }
            for problem in _raven_problems(sample)
        ]
    }


def _query_number(path: Path) -> int:
    return int(path.stem.removeprefix("query-"))


def _raven_m4_features() -> Any:
    """HuggingFaceM4/RAVEN's features, as its conversion script declares them."""
    import datasets

    return datasets.Features(
        {
            "panels": [datasets.Image(decode=True)],
            "choices": [datasets.Image(decode=True)],
            "structure": datasets.Array2D(shape=(1, 8), dtype="string"),
            "meta_matrix": datasets.Array2D(shape=(8, 9), dtype="uint8"),
            "meta_target": datasets.Array2D(shape=(1, 9), dtype="uint8"),
            "meta_structure": datasets.Array2D(shape=(1, 21), dtype="uint8"),
            "target": datasets.Value("uint8"),
            "id": datasets.Value("int32"),
            "metadata": datasets.Value("string"),
        }
    )


def write_raven_m4_copy(folder: Path, configs: tuple[str, ...] = ("center_single",)) -> Path:
    """A synthetic HuggingFaceM4/RAVEN: one folder per configuration (`<config>/test-*.parquet`, named by the
    card's `configs:`), rows made of the sample's 8-panel problems. The candidates are rotated by the row and
    configuration, so the correct one (`target`) is not always first; `id` is the problem's exp number plus
    1000 per configuration, so two configurations hold different ids."""
    import datasets

    from kosmos_eval.generators.samples import write_sample

    lines = ["---", "configs:"]
    with tempfile.TemporaryDirectory(prefix="kosmos-eval-raven-sample-") as sample:
        write_sample("raven", Path(sample))
        problems = [p for p in _raven_problems(Path(sample)) if len(list(p.glob("query-*.png"))) == 8]
        for number, config in enumerate(configs):
            rows = []
            for index, problem in enumerate(problems):
                candidates = [image_cell(path) for path in sorted(problem.glob("answer-*.png"))]
                turn = (index + number) % len(candidates)
                rows.append(
                    {
                        "panels": [image_cell(p) for p in sorted(problem.glob("query-*.png"), key=_query_number)],
                        "choices": candidates[turn:] + candidates[:turn],
                        "structure": [[config] * 8],
                        "meta_matrix": [[0] * 9] * 8,
                        "meta_target": [[0] * 9],
                        "meta_structure": [[0] * 21],
                        "target": (len(candidates) - turn) % len(candidates),
                        "id": 1000 * number + int(problem.name.removeprefix("exp-")),
                        "metadata": f"<sample problem='{problem.name}'/>",
                    }
                )
            (folder / config).mkdir(parents=True, exist_ok=True)
            table = datasets.Dataset.from_list(rows, features=_raven_m4_features())
            table.to_parquet(str(folder / config / "test-00000-of-00001.parquet"))
            lines += [f"- config_name: {config}", "  data_files:", "  - split: test", f"    path: {config}/test-*"]
    (folder / "README.md").write_text("\n".join([*lines, "---", "", "A synthetic copy (kosmos-eval tests)."]) + "\n")
    return folder


def _websrc_features() -> Any:
    """The card's five string columns: the screenshot too is a plain string (base64), not an Image feature."""
    import datasets

    columns = ("domain", "page_id", "question", "answer", "image")
    return datasets.Features({name: datasets.Value("string") for name in columns})


@copy_writer("websrc", _websrc_features)
def websrc_copy(sample: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """rootsautomation/websrc: one row per question of the dev and train sites (the release split file), the
    page id as the release's file stem (id[2:9]), the screenshot's PNG bytes base64-encoded in a string."""
    import csv

    splits = json.loads((sample / "dataset_split_release.json").read_text())
    rows: dict[str, list[dict[str, Any]]] = {}
    for split in ("dev", "train"):
        rows[split] = []
        for code in splits[split]:
            (domain_dir,) = [d for d in sample.iterdir() if d.is_dir() and d.name[:2] == code[:2]]
            site = domain_dir / code[2:]
            with (site / "dataset.csv").open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    page = row["id"][2:9]
                    png = (site / "processed_data" / f"{page}.png").read_bytes()
                    rows[split].append(
                        {
                            "domain": domain_dir.name,
                            "page_id": page,
                            "question": row["question"],
                            "answer": row["answer"],
                            "image": base64.b64encode(png).decode("ascii"),
                        }
                    )
    return rows
