"""Readers for the eight language datasets: tiny files in each dataset's real hub schema, exact items out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.language import (
    DATASETS,
    ChoiceItem,
    clean_hellaswag_text,
    convert_hellaswag,
    convert_winograd,
    convert_winogrande,
    load_choice_items,
)


def table(columns: str, *values: tuple) -> list[dict]:
    """Rows with the given (space-separated) column names."""
    return [dict(zip(columns.split(), row, strict=True)) for row in values]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# --- HellaSwag -------------------------------------------------------------------------------------------------

HELLASWAG_ROWS = [
    {
        "ind": 24,
        "activity_label": "Roof shingle removal",
        "ctx_a": "A man is sitting on a roof.",
        "ctx_b": "he",
        "ctx": "A man is sitting on a roof. he",
        "endings": [
            "is using wrap to wrap a pair of skis.",
            "is ripping level tiles off.",
            "is holding a rubik's cube.",
            "starts pulling up roofing on a roof.",
        ],
        "source_id": "activity_net~v_-JhWjGDPHMY",
        "split": "val",
        "split_type": "indomain",
        "label": "3",
    },
    {
        "ind": 92,
        "activity_label": "Personal Care and Style",
        "ctx_a": "[header] How to increase breast size with a bra [title] Check your bra size. [step] Wearing a "
        "bra that is too big will not make your breasts look larger.",
        "ctx_b": "that is why it is important",
        "ctx": "",
        "endings": [
            "to wear a bra that fits properly. [substeps] Go to a lingerie store and ask to be measured.",
            "to buy a bra in a larger size [title] Try on different brands.",
            "to only wear a bra at night.",
            "to keep your bra in the freezer.",
        ],
        "source_id": "wikihow~7",
        "split": "val",
        "split_type": "zeroshot",
        "label": "0",
    },
]


WIKIHOW_CTX = (
    "How to increase breast size with a bra. Check your bra size. Wearing a bra that is too big will not make "
    "your breasts look larger. That is why it is important"
)


def test_hellaswag_items_follow_lm_eval_preprocessing(tmp_path):
    write_jsonl(tmp_path / "validation.jsonl", HELLASWAG_ROWS)
    first, second = load_choice_items("hellaswag", "validation", tmp_path)
    assert first == ChoiceItem(
        id="24",
        fields={
            "query": "Roof shingle removal: A man is sitting on a roof. He",
            "activity_label": "Roof shingle removal",
            "ctx": "A man is sitting on a roof. He",
        },
        choices=tuple(HELLASWAG_ROWS[0]["endings"]),
        label=3,
    )
    # " [title]" became ". ", the other tags went, and the double spaces left behind collapsed.
    assert second == ChoiceItem(
        id="92",
        fields={
            "query": f"Personal Care and Style: {WIKIHOW_CTX}",
            "activity_label": "Personal Care and Style",
            "ctx": WIKIHOW_CTX,
        },
        choices=(
            "to wear a bra that fits properly. Go to a lingerie store and ask to be measured.",
            "to buy a bra in a larger size. Try on different brands.",
            "to only wear a bra at night.",
            "to keep your bra in the freezer.",
        ),
        label=0,
    )


def test_hellaswag_clean_up_is_a_single_pass_over_double_spaces():
    # Removing "[step]" leaves four spaces; one pass of "two spaces -> one" leaves two, as upstream does.
    assert clean_hellaswag_text("  Wash it.  [step]  Rinse. ") == "Wash it.  Rinse."
    assert clean_hellaswag_text("Dry it [title] Fold it") == "Dry it. Fold it"


def test_hellaswag_context_opening_with_title_tag_keeps_upstream_query():
    row = dict(HELLASWAG_ROWS[1], ctx_a="[title] Check your bra size. [step] Measure under your bust.", ctx_b="")
    item = convert_hellaswag(row, "validation", 0)
    # Upstream cleans "<label>: <ctx>" as a whole, so ": [title]" turns into ":. "; the parts are cleaned alone.
    assert item.fields == {
        "query": "Personal Care and Style:. Check your bra size. Measure under your bust.",
        "activity_label": "Personal Care and Style",
        "ctx": "Check your bra size. Measure under your bust.",
    }


def test_hellaswag_official_file_name_and_unlabelled_rows(tmp_path):
    row = dict(HELLASWAG_ROWS[0], label="")
    write_jsonl(tmp_path / "hellaswag_val.jsonl", [row])
    (item,) = load_choice_items("hellaswag", "validation", tmp_path)
    assert item.label == -1


def test_hellaswag_list_field_in_csv_is_reported(tmp_path):
    path = tmp_path / "validation.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["ind", "activity_label", "ctx_a", "ctx_b", "endings", "label"])
        writer.writeheader()
        writer.writerow({**{k: HELLASWAG_ROWS[0][k] for k in writer.fieldnames}, "endings": "['a', 'b']"})
    with pytest.raises(DataError, match=r"validation\.csv: row 0: field 'endings' must be a list of texts.*\.jsonl"):
        load_choice_items("hellaswag", "validation", tmp_path)


# --- StoryCloze ------------------------------------------------------------------------------------------------

STORY = {
    "story_id": "138d5bfb-05cc-41e3-bf2c-fa85ebad14e2",
    "input_sentence_1": "Rick grew up in a troubled household.",
    "input_sentence_2": "He never found good support in family, and turned to gangs.",
    "input_sentence_3": "It wasn't long before Rick got shot in a robbery.",
    "input_sentence_4": "The incident caused him to turn a new leaf.",
    "sentence_quiz1": "He is happy now.",
    "sentence_quiz2": "He joined a gang.",
    "answer_right_ending": 1,
}
STORY_TEXT = (
    "Rick grew up in a troubled household. He never found good support in family, and turned to gangs. "
    "It wasn't long before Rick got shot in a robbery. The incident caused him to turn a new leaf."
)
OFFICIAL_HEADER = ["InputStoryid", *[f"InputSentence{k}" for k in range(1, 5)]]
OFFICIAL_HEADER += ["RandomFifthSentenceQuiz1", "RandomFifthSentenceQuiz2", "AnswerRightEnding"]


def test_storycloze_hub_schema_jsonl(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", [STORY])
    (item,) = load_choice_items("storycloze", "test", tmp_path)
    assert item == ChoiceItem(STORY["story_id"], {"story": STORY_TEXT}, ("He is happy now.", "He joined a gang."), 0)


def test_storycloze_official_csv_files_map_to_their_splits(tmp_path):
    tom = "Tom had a very short temper.|One day a guest made him very angry.|He punched a hole in the wall."
    second = ["2f4b4b2e-8a1e-4f7a-9c1e-3b0d5f0b7a11", *tom.split("|"), "Tom's guest became afraid and left quickly."]
    second += ["Tom sat on his couch filled with regret.", "Tom realized he was really mad.", "1"]
    for name, rows in [
        ("cloze_test_val__spring2016 - cloze_test_ALL_val.csv", [list(STORY.values()), second]),
        ("cloze_test_test__spring2016 - cloze_test_ALL_test.csv", [[*second[:7], "2"]]),
    ]:
        with (tmp_path / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
            writer.writerow(OFFICIAL_HEADER)
            writer.writerows(rows)
    validation = load_choice_items("storycloze", "validation", tmp_path)
    assert [item.id for item in validation] == [STORY["story_id"], second[0]]
    assert validation[0] == ChoiceItem(
        STORY["story_id"], {"story": STORY_TEXT}, (STORY["sentence_quiz1"], STORY["sentence_quiz2"]), 0
    )
    (test_item,) = load_choice_items("storycloze", "test", tmp_path)
    assert test_item.fields["story"].startswith("Tom had a very short temper. One day a guest")
    assert test_item.choices == ("Tom sat on his couch filled with regret.", "Tom realized he was really mad.")
    assert test_item.label == 1


def test_storycloze_defaults_follow_lm_eval_and_has_no_hub_copy():
    spec = DATASETS["storycloze"]
    assert (spec.default_split, spec.demo_split) == ("test", "validation")
    with pytest.raises(DataError, match=r"storycloze: .*cloze_test_val__spring2016") as info:
        load_choice_items("storycloze", "test", None)
    assert "\n" not in str(info.value)


# --- Winograd (WSC273) -----------------------------------------------------------------------------------------

COUNCIL = "The city councilmen refused the demonstrators a permit because they feared violence."
BASSINET = "The father carried the sleeping boy in his bassinet."
CAKE = "I put the cake away in the refrigerator. It has a lot of butter in it."
WSC_ROWS = table(
    "text pronoun pronoun_loc quote quote_loc options label source",
    (COUNCIL, "they", 63, "they feared violence", 63, ["The city councilmen", "The demonstrators"], 0, "Winograd"),
    (BASSINET, "his", 39, "his bassinet", 39, ["The father", "The boy"], 1, "Hector Levesque"),
    (CAKE, "It", 41, "It has a lot of butter", 41, ["The cake", "The refrigerator"], 0, "Ernest Davis"),
)


def test_winograd_partial_items_with_possessive_and_sentence_start_handling(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", WSC_ROWS)
    items = load_choice_items("winograd", "test", tmp_path)
    because = "The city councilmen refused the demonstrators a permit because "
    assert items == [
        ChoiceItem(
            "test-0",
            {"prefix": because, "continuation": " feared violence."},
            ("the city councilmen", "the demonstrators"),
            0,
        ),
        # "his" is possessive: "'s" appended
        ChoiceItem(
            "test-1",
            {"prefix": "The father carried the sleeping boy in ", "continuation": " bassinet."},
            ("the father's", "the boy's"),
            1,
        ),
        # the pronoun opens a sentence: capitals kept
        ChoiceItem(
            "test-2",
            {"prefix": "I put the cake away in the refrigerator. ", "continuation": " has a lot of butter in it."},
            ("The cake", "The refrigerator"),
            0,
        ),
    ]
    assert DATASETS["winograd"].partial and DATASETS["winograd"].splits == {"test": "test"}


def test_winograd_misplaced_pronoun_is_a_data_error(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", [dict(WSC_ROWS[0], pronoun_loc=60)])
    with pytest.raises(DataError, match=r"test\.jsonl: row 0: 'pronoun' 'they' is not at character 60"):
        load_choice_items("winograd", "test", tmp_path)


def test_winograd_lowercases_every_occurrence_like_upstream():
    row = dict(WSC_ROWS[0], options=["The Theatre group", "The demonstrators"])
    assert convert_winograd(row, "test", 0).choices == ("the theatre group", "the demonstrators")


# --- Winogrande ------------------------------------------------------------------------------------------------

SURGEON = "Sarah was a much better surgeon than Maria so _ always got the {} cases."
WINOGRANDE_ROWS = table(
    "sentence option1 option2 answer",
    (SURGEON.format("harder"), "Sarah", "Maria", "1"),
    (SURGEON.format("easier"), "Sarah", "Maria", "2"),
)


def test_winogrande_prefix_and_continuation(tmp_path):
    write_jsonl(tmp_path / "validation.jsonl", WINOGRANDE_ROWS)
    prefix = "Sarah was a much better surgeon than Maria so "
    assert load_choice_items("winogrande", "validation", tmp_path) == [
        ChoiceItem(
            f"validation-{k}",
            {"prefix": prefix, "continuation": f" always got the {word} cases."},
            ("Sarah", "Maria"),
            k,
        )
        for k, word in enumerate(("harder", "easier"))
    ]


def test_winogrande_gap_at_sentence_end_and_unlabelled_test_rows():
    row = {"sentence": "The cup fell off the table because of the _ .", "option1": "cat", "option2": "wind"}
    item = convert_winogrande(dict(row, answer=""), "test", 7)
    assert item == ChoiceItem(
        id="test-7",
        fields={"prefix": "The cup fell off the table because of the ", "continuation": " ."},
        choices=("cat", "wind"),
        label=-1,
    )


def test_winogrande_sentence_without_gap(tmp_path):
    write_jsonl(tmp_path / "dev.jsonl", [dict(WINOGRANDE_ROWS[0], sentence="No gap here.")])
    with pytest.raises(DataError, match=r"dev\.jsonl: row 0: field 'sentence' has no '_' gap"):
        load_choice_items("winogrande", "validation", tmp_path)


# --- PIQA, BoolQ, CB, COPA -------------------------------------------------------------------------------------


PIQA_ROWS = table(
    "goal sol1 sol2 label",
    ("When boiling butter, when it's ready, you can", "Pour it onto a plate", "Pour it into a jar", 1),
    ("To make a kite fly higher, you can", "Let out more string", "Cut the string shorter", 0),
)
BOOLQ_PASSAGE = (
    "Persian language -- Persian, also known by its endonym Farsi, is one of the Western Iranian languages "
    "within the Indo-Iranian branch of the Indo-European language family."
)
BOOLQ_ROWS = table(
    "question passage idx label",
    ("do iran and afghanistan speak the same language", BOOLQ_PASSAGE, 0, 1),
    ("is persian a semitic language", BOOLQ_PASSAGE, 1, 0),
)
CB_PEELED = "It was a complex language. Not written down but handed down. One might say it was peeled down."
CB_ROWS = table(
    "premise hypothesis idx label",
    (CB_PEELED, "the language was peeled down", 0, 0),
    ("Valence the void-brain, Valence the virtuous valet.", "Valence was helping", 1, "contradiction"),
    ("B: Yeah. A: I don't think it's going to change.", "it's going to change", 2, 2),
)
COPA_ROWS = table(
    "premise choice1 choice2 question idx label",
    ("My body cast a shadow over the grass.", "The sun was rising.", "The grass was cut.", "cause", 0, 0),
    ("The man turned on the faucet.", "The toilet filled with water.", "Water flowed from the spout.", "effect", 1, 1),
)


def test_piqa(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", PIQA_ROWS)
    assert load_choice_items("piqa", "train", tmp_path) == [
        ChoiceItem("train-0", {"goal": PIQA_ROWS[0]["goal"]}, ("Pour it onto a plate", "Pour it into a jar"), 1),
        ChoiceItem("train-1", {"goal": PIQA_ROWS[1]["goal"]}, ("Let out more string", "Cut the string shorter"), 0),
    ]


def test_boolq_hub_labels_and_superglue_booleans(tmp_path):
    write_jsonl(tmp_path / "hub" / "validation.jsonl", BOOLQ_ROWS)
    items = load_choice_items("boolq", "validation", tmp_path / "hub")
    assert items == [
        ChoiceItem("0", {"passage": BOOLQ_PASSAGE, "question": BOOLQ_ROWS[0]["question"]}, ("no", "yes"), 1),
        ChoiceItem("1", {"passage": BOOLQ_PASSAGE, "question": BOOLQ_ROWS[1]["question"]}, ("no", "yes"), 0),
    ]
    # SuperGLUE's own BoolQ/val.jsonl stores the label as a JSON boolean.
    write_jsonl(tmp_path / "superglue" / "val.jsonl", [dict(row, label=bool(row["label"])) for row in BOOLQ_ROWS])
    assert load_choice_items("boolq", "validation", tmp_path / "superglue") == items


def test_cb_label_order_and_names(tmp_path):
    write_jsonl(tmp_path / "validation.jsonl", CB_ROWS)
    items = load_choice_items("cb", "validation", tmp_path)
    fields = {"premise": CB_PEELED, "hypothesis": "the language was peeled down"}
    assert items[0] == ChoiceItem("0", fields, ("entailment", "contradiction", "neutral"), 0)
    assert [item.label for item in items] == [0, 1, 2]  # the second row names its label, as SuperGLUE's files do


def test_copa(tmp_path):
    write_jsonl(tmp_path / "validation.jsonl", COPA_ROWS)
    first, second = load_choice_items("copa", "validation", tmp_path)
    assert first == ChoiceItem(
        "0", {"premise": COPA_ROWS[0]["premise"], "question": "cause"}, ("The sun was rising.", "The grass was cut."), 0
    )
    assert second == ChoiceItem(
        "1",
        {"premise": "The man turned on the faucet.", "question": "effect"},
        ("The toilet filled with water.", "Water flowed from the spout."),
        1,
    )
    write_jsonl(tmp_path / "validation.jsonl", [dict(COPA_ROWS[0], question="reason")])
    with pytest.raises(DataError, match=r"field 'question' must be 'cause' or 'effect', is 'reason'"):
        load_choice_items("copa", "validation", tmp_path)


# --- Other local layouts ---------------------------------------------------------------------------------------


def test_csv_json_and_parquet_files_read_like_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = WINOGRANDE_ROWS
    expected = load_choice_items(
        "winogrande", "validation", write_jsonl(tmp_path / "a" / "validation.jsonl", rows).parent
    )
    for folder in "bcde":
        (tmp_path / folder).mkdir()
    with (tmp_path / "b" / "validation.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "c" / "validation.json").write_text(json.dumps(rows), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d" / "validation.parquet")
    write_jsonl(tmp_path / "e" / "validation.json", rows)  # Dataset.to_json writes JSON lines, even to .json
    for folder in "bcde":
        assert load_choice_items("winogrande", "validation", tmp_path / folder) == expected


def test_save_to_disk_folders(tmp_path):
    import datasets

    rows = WSC_ROWS[:2]
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "dict"))
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "single" / "test"))
    write_jsonl(tmp_path / "jsonl" / "test.jsonl", rows)
    expected = load_choice_items("winograd", "test", tmp_path / "jsonl")
    assert load_choice_items("winograd", "test", tmp_path / "dict") == expected
    assert load_choice_items("winograd", "test", tmp_path / "single") == expected


def test_saved_dataset_dict_without_the_split(tmp_path):
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(WINOGRANDE_ROWS)}).save_to_disk(str(tmp_path))
    with pytest.raises(DataError, match=r"saved DatasetDict has no split 'validation' \(it has train\)"):
        load_choice_items("winogrande", "validation", tmp_path)


# --- The hub ---------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_hub(monkeypatch):
    """Replaces datasets.load_dataset; records its calls and answers with `answer` (rows, or an exception)."""
    import datasets

    state = {"calls": [], "answer": []}

    def load_dataset(*args, **kwargs):
        state["calls"].append((args, kwargs))
        if isinstance(state["answer"], Exception):
            raise state["answer"]
        return state["answer"]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return state


@pytest.mark.parametrize(
    ("dataset", "split", "hub_id", "config"),
    [
        ("hellaswag", "validation", "Rowan/hellaswag", None),
        ("winograd", "test", "coref-data/davis_wsc_raw", "wsc285"),
        ("winogrande", "train", "allenai/winogrande", "winogrande_xl"),
        ("piqa", "validation", "baber/piqa", None),
        ("boolq", "validation", "aps/super_glue", "boolq"),
        ("cb", "train", "aps/super_glue", "cb"),
        ("copa", "validation", "aps/super_glue", "copa"),
    ],
)
def test_hub_ids_configs_and_splits(fake_hub, dataset, split, hub_id, config):
    rows = {
        "hellaswag": HELLASWAG_ROWS,
        "winograd": WSC_ROWS,
        "winogrande": WINOGRANDE_ROWS,
        "piqa": PIQA_ROWS,
        "boolq": BOOLQ_ROWS,
        "cb": CB_ROWS,
        "copa": COPA_ROWS,
    }[dataset]
    fake_hub["answer"] = rows
    items = load_choice_items(dataset, split, None)
    assert fake_hub["calls"] == [((hub_id,), {"name": config, "split": split})]
    assert len(items) == len(rows)


def test_hub_override_with_and_without_config(fake_hub):
    fake_hub["answer"] = WINOGRANDE_ROWS
    load_choice_items("winogrande", "validation", None, hub="me/winogrande-copy:winogrande_debiased")
    load_choice_items("winogrande", "validation", None, hub="me/winogrande-parquet")
    assert fake_hub["calls"] == [
        (("me/winogrande-copy",), {"name": "winogrande_debiased", "split": "validation"}),
        (("me/winogrande-parquet",), {"name": None, "split": "validation"}),
    ]
    fake_hub["answer"] = [STORY]
    assert load_choice_items("storycloze", "test", None, hub="me/story_cloze:2016")[0].label == 0


def test_offline_hub_failure_is_one_actionable_line(fake_hub):
    fake_hub["answer"] = ConnectionError("Couldn't reach 'allenai/winogrande' on the Hub (OfflineModeIsEnabled)")
    with pytest.raises(DataError) as info:
        load_choice_items("winogrande", "validation", None)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("winogrande: cannot load hub allenai/winogrande (config winogrande_xl, split validation)")
    assert "no cached copy" in message and "--data-dir" in message and "validation.jsonl" in message


def test_script_based_hub_repository_is_reported(fake_hub):
    fake_hub["answer"] = RuntimeError("Dataset scripts are no longer supported, but found piqa.py")
    with pytest.raises(DataError, match=r"piqa: cannot load hub ybisk/piqa .*script-based.*--hub"):
        load_choice_items("piqa", "validation", None, hub="ybisk/piqa")


# --- Errors ----------------------------------------------------------------------------------------------------


def test_unknown_dataset_and_split_are_user_errors(tmp_path):
    with pytest.raises(UserError, match=r"unknown language dataset 'sst2'; known: storycloze, hellaswag, winograd"):
        load_choice_items("sst2", "validation", tmp_path)
    with pytest.raises(UserError, match=r"winograd: unknown split 'validation'; available: test"):
        load_choice_items("winograd", "validation", tmp_path)


def test_missing_field_names_file_row_and_field(tmp_path):
    rows = [PIQA_ROWS[0], {key: value for key, value in PIQA_ROWS[1].items() if key != "sol2"}]
    path = write_jsonl(tmp_path / "validation.jsonl", rows)
    with pytest.raises(DataError, match=rf"^{path}: row 1: no 'sol2' field \(expected the piqa schema"):
        load_choice_items("piqa", "validation", tmp_path)


def test_duplicate_ids_and_out_of_range_labels(tmp_path):
    row = CB_ROWS[0]
    write_jsonl(tmp_path / "validation.jsonl", [row, dict(CB_ROWS[1], idx=0)])
    with pytest.raises(DataError, match=r"rows 0 and 1 share the id '0'"):
        load_choice_items("cb", "validation", tmp_path)
    write_jsonl(tmp_path / "validation.jsonl", [dict(row, label=3)])
    with pytest.raises(DataError, match=r"row 0: label 3 does not index one of the 3 options"):
        load_choice_items("cb", "validation", tmp_path)
    write_jsonl(tmp_path / "validation.jsonl", [dict(row, label="maybe")])
    with pytest.raises(DataError, match=r"field 'label' must be an integer or one of entailment, contradiction"):
        load_choice_items("cb", "validation", tmp_path)


def test_local_folder_problems(tmp_path):
    with pytest.raises(DataError, match=r"data folder does not exist"):
        load_choice_items("copa", "validation", tmp_path / "missing")
    with pytest.raises(DataError, match=r"no data for split 'validation': expected validation/val/dev"):
        load_choice_items("copa", "validation", tmp_path)
    write_jsonl(tmp_path / "validation.jsonl", [])
    with pytest.raises(DataError, match=r"no rows for copa split 'validation'"):
        load_choice_items("copa", "validation", tmp_path)
    write_jsonl(tmp_path / "val.jsonl", [])
    with pytest.raises(
        DataError, match=r"several files could hold split 'validation' \('val.jsonl', 'validation.jsonl'\)"
    ):
        load_choice_items("copa", "validation", tmp_path)
    (tmp_path / "val.jsonl").unlink()
    (tmp_path / "validation.jsonl").write_text('{"premise": "p"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"validation\.jsonl: line 1 is not valid JSON"):
        load_choice_items("copa", "validation", tmp_path)
