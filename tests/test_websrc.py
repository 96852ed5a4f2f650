"""WebSRC reader (real sample and hand-made release-layout folders) and the official-style EM/F1."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from kosmos_eval.errors import DataError
from kosmos_eval.formats.websrc import (
    gold_answers,
    page_text,
    read_websrc,
    read_websrc_predictions,
    write_websrc_predictions,
)
from kosmos_eval.metrics.websrc import (
    normalize_websrc_answer,
    postprocess_generated_answer,
    score_websrc,
    websrc_exact_match,
    websrc_f1,
)
from tests.conftest import shared

# --- the real sample --------------------------------------------------------------------------------------


def test_reads_real_sample_with_counts_splits_and_answers():
    root = shared("websrc-sample")
    questions = read_websrc(root, None)
    assert len(questions) == 30
    sites = Counter((q.domain, q.site) for q in questions)
    assert sites == {
        ("auto", "03"): 5,
        ("auto", "08"): 5,
        ("book", "01"): 5,
        ("camera", "01"): 5,
        ("movie", "04"): 5,
        ("sports", "01"): 5,
    }
    assert [q.id for q in questions] == sorted(q.id for q in questions)

    by_id = {q.id: q for q in questions}
    fuel = by_id["au080000100002"]  # auto/08/dataset.csv: question,id,element_id,answer_start,answer
    assert (fuel.question, fuel.answer, fuel.is_yes_no) == ("What is the fuel economy of Base Style?", "20 MPG", False)
    assert (fuel.page_id, fuel.split) == ("0800001", "dev")
    assert fuel.screenshot.key == "auto/08/processed_data/0800001.png"
    assert fuel.html_path == root / "auto" / "08" / "processed_data" / "0800001.html"
    assert by_id["au030056206472"].answer == '190.7 "'  # CSV-quoted answer, kept verbatim
    camera = by_id["ca010000300002"]  # camera/01 has the answer column second
    assert (camera.answer, camera.page_id) == ("Video conferencing kit", "0100003")

    yes = by_id["mo040009941265"]  # movie/04 starts with id: id,question,answer,element_id,answer_start
    assert (yes.question, yes.answer, yes.is_yes_no) == ("Is Adam Sandler one of the actors?", "yes", True)
    assert (by_id["mo040004920403"].answer, by_id["mo040004920403"].is_yes_no) == ("no", True)
    assert sum(q.is_yes_no for q in questions) == 4


def test_real_sample_split_filter():
    root = shared("websrc-sample")
    dev = read_websrc(root, "dev")
    assert {(q.domain, q.site) for q in dev} == {("auto", "08")} and len(dev) == 5
    train = read_websrc(root, "train")
    assert len(train) == 25 and all(q.split == "train" for q in train)
    assert read_websrc(root, "test") == []  # test sites are listed but not in the sample
    with pytest.raises(DataError, match=r"unknown WebSRC split 'validation'; known splits: \['dev', 'test', 'train'\]"):
        read_websrc(root, "validation")


def test_page_text_of_a_real_page():
    root = shared("websrc-sample")
    text = page_text(root / "movie" / "04" / "processed_data" / "0400049.html")
    assert text.startswith("The Hunchback of Notre Dame ( 1996 ) Probable Score")
    assert "Directed By: Gary Trousdale , Kirk Wise Written By: Bob Tzudiker" in text
    assert "<" not in text and "tid" not in text and "  " not in text
    book = page_text(root / "book" / "01" / "processed_data" / "0100001.html")
    assert "The Tower of Nero (B&N Exclusive Edition)" in book  # &amp; decoded
    assert "10/06/2020" in book


# --- hand-made release layout -------------------------------------------------------------------------------


def _site(root: Path, domain: str, site: str, header: list[str], rows: list[dict[str, str]]) -> Path:
    folder = root / domain / site
    (folder / "processed_data").mkdir(parents=True)
    lines = [",".join(header)] + [",".join(row[c] for c in header) for row in rows]
    (folder / "dataset.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for page in {row["id"][2:9] for row in rows}:
        Image.new("RGB", (4, 4)).save(folder / "processed_data" / f"{page}.png")
        (folder / "processed_data" / f"{page}.html").write_text(
            f'<html tid="0"><body tid="1"><p tid="2">page {page}</p></body></html>', encoding="utf-8"
        )
    return folder


def _row(qid: str, question: str, answer: str, element_id: str = "2", answer_start: str = "0") -> dict[str, str]:
    return {"id": qid, "question": question, "answer": answer, "element_id": element_id, "answer_start": answer_start}


@pytest.fixture
def tiny_release(tmp_path: Path) -> Path:
    root = tmp_path / "websrc"
    shuffled = ["answer_start", "answer", "id", "question", "element_id"]
    _site(
        root,
        "game",
        "12",
        shuffled,
        [_row("ga120000200001", "Who made it?", "Nintendo"), _row("ga120000100000", "Is it free?", "no", "-1", "0")],
    )
    _site(
        root,
        "game",
        "01",
        ["question", "id", "element_id", "answer_start", "answer"],
        [_row("ga010000100000", "Q", "A")],
    )
    (root / "dataset_split.json").write_text(json.dumps({"dev": ["ga12"], "test": []}))
    return root


def test_reads_shuffled_columns_and_implied_train_split(tiny_release):
    questions = read_websrc(tiny_release, None)
    assert [q.id for q in questions] == ["ga010000100000", "ga120000100000", "ga120000200001"]
    free, made = questions[1], questions[2]
    assert (free.question, free.answer, free.is_yes_no, free.split) == ("Is it free?", "no", True, "dev")
    assert (made.answer, made.page_id, made.screenshot.key) == (
        "Nintendo",
        "1200002",
        "game/12/processed_data/1200002.png",
    )
    assert made.screenshot.load().size == (4, 4)
    # dataset_split.json lists dev and test; the official conversion puts every other site in train
    assert [q.id for q in read_websrc(tiny_release, "train")] == ["ga010000100000"]
    assert gold_answers(read_websrc(tiny_release, "dev")) == {"ga120000100000": "no", "ga120000200001": "Nintendo"}
    assert page_text(tiny_release / "game" / "12" / "processed_data" / "1200002.html") == "page 1200002"


def test_release_split_file_is_preferred(tiny_release):
    (tiny_release / "dataset_split_release.json").write_text(json.dumps({"dev": [], "test": ["ga12"], "train": []}))
    assert [q.split for q in read_websrc(tiny_release, None)] == [None, "test", "test"]
    assert read_websrc(tiny_release, "train") == []


def test_missing_column_names_the_file_and_columns_found(tiny_release):
    csv_path = tiny_release / "game" / "01" / "dataset.csv"
    csv_path.write_text("question,id,element_id,answer\nQ,ga010000100000,2,A\n")
    with pytest.raises(DataError, match=r"game/01/dataset.csv: missing column\(s\) \['answer_start'\]; found \["):
        read_websrc(tiny_release, None)
    # the dev split does not parse game/01, so a broken train file does not block dev
    assert len(read_websrc(tiny_release, "dev")) == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("Q,ga010000100000,x,0,A", r"dataset.csv line 2: column 'element_id' must be an integer, got 'x'"),
        ("Q,ga010000100000,2,0", r"dataset.csv line 2: row does not have one value per header column"),
        ("Q,ga020000100000,2,0,A", r"id 'ga020000100000' should have 14 characters and start with 'ga01'"),
        ("Q,ga010000100000,-1,1,no", r"yes/no question ga010000100000 \(element_id -1\) needs answer_start 1"),
    ],
)
def test_malformed_rows_name_the_file_and_line(tiny_release, row, message):
    csv_path = tiny_release / "game" / "01" / "dataset.csv"
    csv_path.write_text(f"question,id,element_id,answer_start,answer\n{row}\n")
    with pytest.raises(DataError, match=message) as info:
        read_websrc(tiny_release, None)
    assert str(csv_path) in str(info.value)


def test_missing_page_files_and_split_file(tiny_release):
    html = tiny_release / "game" / "12" / "processed_data" / "1200001.html"
    html.unlink()
    with pytest.raises(DataError, match=r"1200001.html: file missing for page 1200001"):
        read_websrc(tiny_release, "dev")
    (tiny_release / "game" / "12" / "processed_data" / "1200001.png").unlink()
    with pytest.raises(DataError, match=r"1200001.png: file missing"):
        read_websrc(tiny_release, "dev")
    (tiny_release / "dataset_split.json").unlink()
    with pytest.raises(DataError, match=r"split 'dev' requested but neither of"):
        read_websrc(tiny_release, "dev")
    with pytest.raises(DataError, match=r"no <domain>/<site>/dataset.csv found"):
        read_websrc(tiny_release / "game" / "01" / "processed_data", None)


def test_page_text_drops_script_style_and_comments(tmp_path):
    html = tmp_path / "p.html"
    html.write_text(
        "<html><head><style>p { color: red }</style></head><body><!-- hidden -->"
        "<p>Fish &amp; Chips&nbsp;&pound;5</p><script>var x = '<b>no</b>';</script>"
        "Hel<b>lo</b>\n\n   world<br/>end <SCRIPT type='x'>alert(1)</SCRIPT>tail</body></html>"
    )
    assert page_text(html) == "Fish & Chips £5 Hel lo world end tail"
    with pytest.raises(DataError, match=r"nope.html: HTML file not found"):
        page_text(tmp_path / "nope.html")


def test_prediction_file_round_trip_and_errors(tmp_path):
    path = tmp_path / "out" / "prediction.json"
    write_websrc_predictions(path, {"sp160000100002": "Jarrett Allen", "sp160000100001": "yes"})
    assert json.loads(path.read_text()) == {"sp160000100001": "yes", "sp160000100002": "Jarrett Allen"}
    assert read_websrc_predictions(path) == {"sp160000100001": "yes", "sp160000100002": "Jarrett Allen"}
    path.write_text('["yes"]')
    with pytest.raises(DataError, match=r"prediction.json: expected a JSON object .* got list"):
        read_websrc_predictions(path)
    path.write_text('{"a": 3}')
    with pytest.raises(DataError, match=r"answer for 'a' must be a string, got int"):
        read_websrc_predictions(path)
    path.write_text('{"a": ')
    with pytest.raises(DataError, match=r"prediction.json: not valid JSON"):
        read_websrc_predictions(path)
    with pytest.raises(DataError, match=r"missing.json: prediction file not found"):
        read_websrc_predictions(tmp_path / "missing.json")


# --- metrics ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The  Tower of Nero!", "tower of nero"),
        ("An apple, a pear & THE plum.", "apple pear plum"),
        ("the-end", "theend"),  # punctuation goes first, so the article is glued to its neighbour
        ('190.7 "', "1907"),
        ("Barnes & Noble®", "barnes noble®"),  # only ASCII punctuation is removed
        ("theatre", "theatre"),
        ("  ", ""),
    ],
)
def test_normalization(text, normalized):
    assert normalize_websrc_answer(text) == normalized


def test_exact_match_and_f1_tricky_cases():
    assert websrc_exact_match("the Web Camera.", "Web camera") == 1.0
    assert websrc_exact_match("190.7", '190.7 "') == 1.0
    assert websrc_exact_match("20 MPG", "20 mpg city") == 0.0
    # gold tokens: tower of nero bn exclusive edition (6); prediction: tower of nero paperback (4); overlap 3
    # precision 3/4, recall 3/6 -> F1 = 2 * 3/4 * 1/2 / (3/4 + 1/2) = 0.6
    gold = "The Tower of Nero (B&N Exclusive Edition)"
    assert websrc_f1("the Tower of Nero paperback", gold) == pytest.approx(0.6)
    # repeated tokens count once each side: precision 1/3, recall 1 -> 0.5
    assert websrc_f1("nero nero nero", "Nero") == pytest.approx(0.5)
    assert websrc_f1("Kirk", "Gary Trousdale") == 0.0
    # empty prediction: no credit against a real answer, full credit when the gold also normalises to nothing
    assert websrc_exact_match("", "Web camera") == 0.0 and websrc_f1("", "Web camera") == 0.0
    assert websrc_exact_match("", "The") == 1.0 and websrc_f1("", "The") == 1.0
    assert websrc_f1("an", "the") == 1.0
    # yes/no questions are scored as text
    assert websrc_exact_match("Yes.", "yes") == 1.0 and websrc_f1("yes", "no") == 0.0


def test_corpus_scores_and_missing_predictions():
    gold = {"q1": "yes", "q2": "no", "q3": "Web camera", "q4": "20 MPG"}
    predictions = {"q1": "Yes.", "q2": "yes", "q3": "a web camera kit", "q4": "", "extra": "ignored"}
    # EM 1, 0, 0, 0; F1 1, 0, 0.8 (precision 2/3, recall 1), 0 -> means 0.25 and 0.45
    scores = score_websrc(predictions, gold)
    assert scores == {"exact": 0.25, "f1": pytest.approx(0.45), "total": 4}
    del predictions["q4"]
    with pytest.raises(DataError, match=r"1 of 4 questions have no prediction \(q4\)"):
        score_websrc(predictions, gold)
    assert score_websrc(predictions, gold, missing="skip") == {"exact": 1 / 3, "f1": pytest.approx(0.6), "total": 3}
    assert score_websrc(predictions, gold, missing="zero") == {"exact": 0.25, "f1": pytest.approx(0.45), "total": 4}
    with pytest.raises(DataError, match="no question has a prediction"):
        score_websrc({}, gold, missing="skip")
    with pytest.raises(DataError, match="no gold questions"):
        score_websrc(predictions, {})


@pytest.mark.parametrize(
    ("generated", "answer"),
    [
        (" Penguin Books Ltd.\nQ: Who wrote it?", "Penguin Books Ltd."),
        (" 20 MPG Q: What is the fuel economy?", "20 MPG"),
        (" FAQ: none", "FAQ: none"),
        ("Q: next", ""),
        ("\nyes", ""),
        ("  yes  ", "yes"),
    ],
)
def test_postprocess_generated_answer(generated, answer):
    assert postprocess_generated_answer(generated) == answer
