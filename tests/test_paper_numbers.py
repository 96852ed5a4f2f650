"""The paper's reported numbers (results/paper/kosmos1.csv): keys that match our tasks, values as printed."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from kosmos_eval.core.registry import TASKS
from kosmos_eval.errors import DataError
from kosmos_eval.reporting.paper import (
    COLUMNS,
    PAPER_MODEL,
    paper_column_order,
    paper_csv,
    paper_numbers,
    read_paper_numbers,
    reference,
)

FACT_SHEET = Path(__file__).resolve().parents[1].parent / "shared" / "paper" / "KOSMOS1.md"
HEADER = ",".join(COLUMNS)


def rows_of_table(frame, table: str):
    return frame[frame["table"].map(lambda tables: table in tables.split(";"))]


def options_of(variant: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in variant.split(";") if part)


# --- keys match the harness --------------------------------------------------------------------------------


def test_every_row_names_a_registered_task_metric_shot_and_variant() -> None:
    frame = paper_numbers()
    for row in frame.itertuples(index=False):
        assert row.task in TASKS.names(), row
        task_class = TASKS.get(row.task)
        assert row.metric in task_class.metrics, row
        assert row.shots in task_class.shots, row
        # the variant is what the task itself reports for those options (defaults dropped, keys sorted)
        assert task_class(options=options_of(row.variant)).variant == row.variant, row


def test_no_key_is_given_twice() -> None:
    frame = paper_numbers()
    keys = Counter(frame[["model", "task", "variant", "shots", "metric"]].itertuples(index=False, name=None))
    assert [key for key, count in keys.items() if count > 1] == []


def test_header_and_dtypes() -> None:
    assert paper_csv().read_text(encoding="utf-8").splitlines()[0] == HEADER
    frame = paper_numbers()
    assert list(frame.columns) == list(COLUMNS)
    assert str(frame["shots"].dtype) == "int64"
    assert str(frame["value"].dtype) == "float64"
    assert all(isinstance(value, str) for column in ("table", "variant", "note") for value in frame[column])
    # 5 rows have options: websrc without_text x2 (EM, F1), rendered_sst2 cot=true x1, imagenet decoding=free for
    # 2 models (its "with constraints" rows are the default decoding)
    assert int((frame["variant"] != "").sum()) == 5
    assert int((frame["variant"] == "").sum()) == 139


def test_paper_numbers_returns_a_copy() -> None:
    first = paper_numbers()
    first.loc[0, "value"] = -1.0
    assert paper_numbers().loc[0, "value"] == 14.6  # ZeroCap COCO CIDEr, the first row of Table 2


# --- values ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "metric", "shots", "variant", "model", "expected"),
    [
        ("flickr30k", "cider", 0, "", PAPER_MODEL, 67.1),  # Table 2
        ("coco_caption", "spice", 0, "", "ZeroCap", 5.5),  # Table 2
        ("coco_caption", "cider", 4, "", PAPER_MODEL, 101.7),  # Table 3
        ("vizwiz", "accuracy", 0, "", "Flamingo-3B", 28.9),  # Table 4
        ("vqav2", "accuracy", 8, "", "Flamingo-9B", 58.0),  # Table 5
        ("vqav2", "accuracy", 4, "", "Frozen", 38.2),  # Table 5
        ("raven", "accuracy", 0, "", "Random Choice", 17.0),  # Table 6
        ("raven", "accuracy", 0, "", "KOSMOS-1 w/o language-only instruction tuning", 26.0),  # Table 6
        ("hateful_memes", "roc_auc", 0, "", PAPER_MODEL, 63.9),  # Table 7
        ("rendered_sst2", "accuracy", 0, "", "CLIP ViT-L/14", 64.0),  # Tables 7 and 9
        ("websrc", "f1", 0, "setting=without_text", PAPER_MODEL, 10.6),  # Table 8
        ("websrc", "exact_match", 0, "", "LLM", 7.6),  # Table 8
        ("rendered_sst2", "accuracy", 0, "cot=true", PAPER_MODEL, 72.9),  # Table 9
        ("imagenet", "accuracy", 0, "decoding=free", PAPER_MODEL, 4.0),  # Table 10
        ("imagenet", "accuracy", 0, "", "GIT", 33.5),  # Table 10, with constraints (the default decoding)
        ("cub_descriptions", "accuracy_with_descriptions", 0, "", PAPER_MODEL, 90.0),  # Table 12
        ("cub_descriptions", "accuracy_without_descriptions", 0, "", PAPER_MODEL, 61.7),  # Table 12
        ("hellaswag", "accuracy_norm", 1, "", PAPER_MODEL, 50.0),  # Table 13
        ("cb", "accuracy", 4, "", "LLM", 42.9),  # Table 13
        ("copa", "accuracy", 0, "", PAPER_MODEL, 63.0),  # Table 13
        ("coco_caption", "cider", 0, "", "KOSMOS-1 w/o language-only instruction tuning", 87.6),  # Table 14
        ("memory_color", "accuracy", 0, "", PAPER_MODEL, 76.1),  # Table 16
        ("relative_size", "accuracy_paper_order", 0, "", "VaLM", 85.0),  # Table 16: each pair asked once
    ],
)
def test_spot_values(task: str, metric: str, shots: int, variant: str, model: str, expected: float) -> None:
    assert reference(task, metric, shots, variant=variant, model=model) == expected


def test_reference_misses_and_defaults() -> None:
    assert reference("coco_caption", "cider", 2, model="Flamingo-3B") is None  # a "–" cell of Table 3
    assert reference("hellaswag", "accuracy", 0) is None  # Table 13 reports HellaSwag as accuracy_norm only
    assert reference("websrc", "f1", 0) == 31.3  # default model KOSMOS-1, default setting (with extracted text)
    assert reference("no_such_task", "accuracy", 0) is None


def test_cells_printed_in_two_tables_are_one_row() -> None:
    frame = paper_numbers()
    shared_rows = frame[frame["table"].str.contains(";")]
    got = sorted(shared_rows[["table", "model", "task", "value"]].itertuples(index=False, name=None))
    assert got == [
        ("2;14", "KOSMOS-1", "coco_caption", 84.7),
        ("2;14", "KOSMOS-1", "flickr30k", 67.1),
        ("4;14", "KOSMOS-1", "vizwiz", 29.2),
        ("4;14", "KOSMOS-1", "vqav2", 51.0),
        ("7;9", "CLIP ViT-B/16", "rendered_sst2", 59.8),
        ("7;9", "CLIP ViT-B/32", "rendered_sst2", 59.6),
        ("7;9", "CLIP ViT-L/14", "rendered_sst2", 64.0),
        ("7;9", "KOSMOS-1", "rendered_sst2", 67.1),
    ]


# Rows listing each table, counted from the cells of KOSMOS1.md section 4 ("–" cells skipped):
#  2: ZeroCap 2 + VLKD 2 + FewVLM 2 + MetaLM 4 + Flamingo-3B 2 + Flamingo-9B 2 + KOSMOS-1 4 = 18
#  3: Flamingo-3B 4 + Flamingo-9B 4 + KOSMOS-1 6 = 14
#  4: Frozen 1 + VLKD 1 + MetaLM 1 + Flamingo-3B 2 + Flamingo-9B 2 + KOSMOS-1 2 = 9
#  5: Frozen 1 + MetaLM 1 + Flamingo-3B 4 + Flamingo-9B 4 + KOSMOS-1 6 = 16
#  6: 3 methods x 1 = 3
#  7: 3 CLIP x 2 + Flamingo-3B 1 + Flamingo-9B 1 + KOSMOS-1 2 = 10
#  8: 3 rows x (EM, F1) = 6
#  9: 5 models x 1 = 5 (4 of them shared with Table 7)
# 10: 2 models x 2 settings = 4
# 12: 2 settings = 2
# 13: 8 tasks x 3 shot counts x 2 models = 48 (the Average row is derived, not stored)
# 14: 2 models x 4 tasks = 8 (the KOSMOS-1 row is shared with Tables 2 and 4)
# 16: 3 models x 3 tasks = 9
TABLE_ROWS = {"2": 18, "3": 14, "4": 9, "5": 16, "6": 3, "7": 10, "8": 6, "9": 5, "10": 4, "12": 2, "13": 48}
TABLE_ROWS |= {"14": 8, "16": 9}


def test_row_counts_per_table() -> None:
    frame = paper_numbers()
    assert {table: len(rows_of_table(frame, table)) for table in TABLE_ROWS} == TABLE_ROWS
    for table in ("1", "11", "15"):
        assert len(rows_of_table(frame, table)) == 0
    # 152 table-cells minus the 8 rows that count twice (2;14 x2, 4;14 x2, 7;9 x4) = 144 rows
    assert sum(TABLE_ROWS.values()) == 152
    assert len(frame) == 144


def test_table_13_means_equal_the_printed_average_row() -> None:
    frame = rows_of_table(paper_numbers(), "13")
    # Average row of Table 13, columns 0-shot LLM, 0-shot KOSMOS-1, 1-shot LLM, 1-shot KOSMOS-1, 4-shot ...
    # e.g. 0-shot LLM: (72.9+50.4+71.6+56.7+73.2+56.4+39.3+68.0)/8 = 488.5/8 = 61.0625 -> printed 61.1
    printed = {
        ("LLM", 0): 61.1,
        ("KOSMOS-1", 0): 60.5,
        ("LLM", 1): 61.2,
        ("KOSMOS-1", 1): 60.9,
        ("LLM", 4): 61.8,
        ("KOSMOS-1", 4): 62.2,
    }
    for (model, shots), average in printed.items():
        cells = frame[(frame["model"] == model) & (frame["shots"] == shots)]
        assert len(cells) == 8
        # half a printed digit; 1-shot LLM sums to 489.2/8 = 61.15 exactly, printed 61.2 (float noise: +1e-9)
        assert abs(cells["value"].mean() - average) <= 0.05 + 1e-9, (model, shots, cells["value"].mean())


def test_column_order_follows_the_paper() -> None:
    order = paper_column_order()
    assert order[:4] == [
        ("coco_caption", "", "cider", 0),
        ("coco_caption", "", "spice", 0),
        ("flickr30k", "", "cider", 0),
        ("flickr30k", "", "spice", 0),
    ]
    assert len(order) == len(set(order))
    assert order.index(("vqav2", "", "accuracy", 0)) < order.index(("raven", "", "accuracy", 0))
    assert order[-1] == ("color_terms", "", "accuracy", 0)  # last column of Table 16


# --- the loader rejects malformed files -----------------------------------------------------------------------


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "numbers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reader_types_a_good_file(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, '2;14,M,coco_caption,,0,cider,84.7,"a, quoted note"', "6,M,raven,,0,accuracy,17,")
    frame = read_paper_numbers(path)
    assert frame["value"].tolist() == [84.7, 17.0]
    assert frame["variant"].tolist() == ["", ""]
    assert frame["note"].tolist() == ["a, quoted note", ""]


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("2,M,coco_caption,,two,cider,84.7,", "shots 'two'"),
        ("2,M,coco_caption,,0,cider,–,", "value '–'"),
        ("1,M,coco_caption,,0,cider,84.7,", "table '1'"),
        ("2,M,coco_caption,decoding free,0,cider,84.7,", "variant 'decoding free'"),
        ("2,M,coco_caption,,0,cider,84.7,note, with comma", "9 fields"),
        ("2,M,coco_caption,,0,cider,99.0,", "repeats the key"),
        ("2,,coco_caption,,0,cider,84.7,", "'model' is empty"),
    ],
)
def test_reader_names_file_and_line_of_a_bad_row(tmp_path: Path, bad_row: str, message: str) -> None:
    path = write(tmp_path, HEADER, "2,M,coco_caption,,0,cider,84.7,", bad_row)
    with pytest.raises(DataError) as caught:
        read_paper_numbers(path)
    text = str(caught.value)
    assert f"{path}:3:" in text and message in text and "\n" not in text


def test_reader_rejects_a_wrong_header(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"numbers\.csv:1: header"):
        read_paper_numbers(write(tmp_path, "table,model,task", "2,M,coco_caption"))


# --- agreement with the fact sheet ----------------------------------------------------------------------------

NUMBER = re.compile(r"^\d+(\.\d+)?$")


def fact_sheet_cells(text: str) -> dict[str, list[float]]:
    """Numeric cells of every markdown table under '### Table N' in section 4, without header rows."""
    section = text.split("\n## 4.", 1)[1].split("\n## ", 1)[0]
    cells: dict[str, list[float]] = {}
    for block in re.split(r"\n### Table ", section)[1:]:
        table = block.split(":", 1)[0].strip()
        lines = [line for line in block.splitlines() if line.startswith("|")]
        for line in lines[2:]:  # lines[0] is the header, lines[1] the |---| separator
            row = [cell.strip().replace("*", "").rstrip("%").strip() for cell in line.strip("|").split("|")]
            if row[0] == "Average":
                continue
            numbers = [float(cell) for cell in row if NUMBER.match(cell)]
            if numbers:
                cells.setdefault(table, []).extend(numbers)
    return cells


def test_every_fact_sheet_number_is_in_the_csv() -> None:
    if not FACT_SHEET.exists():
        pytest.skip(f"fact sheet not present at {FACT_SHEET}")
    cells = fact_sheet_cells(FACT_SHEET.read_text(encoding="utf-8"))
    assert set(cells) == set(TABLE_ROWS)  # Tables 11 and 15 print no numbers
    frame = paper_numbers()
    for table, numbers in cells.items():
        stored = rows_of_table(frame, table)["value"].tolist()
        missing = [number for number in numbers if number not in stored]
        assert missing == [], f"Table {table}: {missing}"
        # and nothing more: the CSV holds exactly the printed cells of the table (as a multiset)
        assert sorted(stored) == sorted(numbers), f"Table {table}"


def test_relative_size_is_compared_with_the_papers_one_order_statistic():
    """The paper asks each of the 486 pairs once, bigger first; our headline also asks them reversed. Its 94.2
    belongs beside `accuracy_paper_order` (an always-Yes model: 100), never beside `accuracy` (50)."""
    assert reference("relative_size", "accuracy_paper_order", 0) == 94.2
    assert reference("relative_size", "accuracy", 0) is None


def test_a_paper_number_sits_only_beside_a_run_on_the_papers_split():
    assert reference("vqav2", "accuracy", 0, split="test-dev") == 51.0
    assert reference("vqav2", "accuracy", 0, split="val") is None
    assert reference("vqav2", "accuracy", 0) == 51.0  # no split given: the lookup itself
