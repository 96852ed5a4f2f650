"""Readers for the eight text-only datasets of KOSMOS-1's language evaluation (paper Table 13).

KOSMOS-1 is scored there as a plain language model: each item's answer options are ranked by log-likelihood,
zero- and few-shot. This module turns every dataset into the same neutral `ChoiceItem` (text fields for a prompt
template, option texts, index of the right option); templates, demonstrations and scoring live in the tasks.
Rows are read in each dataset's Hugging Face schema (from a local file or the hub, see `language_sources`), and
the text clean-up lm-evaluation-harness applies is reproduced here so scores stay comparable with it
(docs/data_language.md describes every dataset, its sources and the upstream behaviour matched).

Two item shapes occur:
* full: a fixed context, each option a continuation of it (StoryCloze, HellaSwag, PIQA, BoolQ, CB, COPA);
* partial (Winograd, Winogrande): each option fills a gap inside the sentence, so the context
  (`fields["prefix"]` + option) varies and the text after the gap (`fields["continuation"]`) is what is scored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kosmos_eval.errors import DataError, UserError
from kosmos_eval.formats.language_sources import DOCS, Rows, hub_rows, local_rows


@dataclass(frozen=True)
class ChoiceItem:
    """One multiple-choice item.

    `id` is the dataset's own id where it has one, else "<split>-<row index>"; `fields` holds the text a template
    needs (per dataset, see DATASETS); `choices` the option texts (the words that fill the gap, for partial
    datasets); `label` the index of the right option, or -1 where the row carries no answer.
    """

    id: str
    fields: dict[str, Any]
    choices: tuple[str, ...]
    label: int


class _RowError(ValueError):
    """A problem with one row; the loader adds where the row came from and its index."""


Row = Mapping[str, Any]


def _value(row: Row, name: str) -> Any:
    value = row.get(name)
    if value is None:
        raise _RowError(f"no '{name}' field")
    return value


def _text(row: Row, name: str) -> str:
    value = _value(row, name)
    if not isinstance(value, str):
        raise _RowError(f"field '{name}' must be text, is {value!r}")
    return value


def _texts(row: Row, name: str) -> tuple[str, ...]:
    value = _value(row, name)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        shown = repr(value)[:80]
        raise _RowError(f"field '{name}' must be a list of texts, is {shown} (CSV cannot hold lists: use .jsonl)")
    return tuple(value)


def _int(row: Row, name: str, names: tuple[str, ...] = (), blank: int | None = None) -> int:
    """An integer given as a number or a numeric string; also one of `names` (giving its index) and, where
    `blank` is set, the empty string (giving `blank`). Booleans count as the names "False"/"True"."""
    value = _value(row, name)
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in names:
            return names.index(text)
        if text == "" and blank is not None:
            return blank
        if re.fullmatch(r"-?\d+", text):
            return int(text)
    allowed = f" or one of {', '.join(names)}" if names else ""
    raise _RowError(f"field '{name}' must be an integer{allowed}, is {value!r}")


def _own_id(row: Row, name: str, split: str, index: int) -> str:
    value = row.get(name)
    return f"{split}-{index}" if value is None or value == "" else str(value)


def _item(item_id: str, fields: dict[str, Any], choices: tuple[str, ...], label: int) -> ChoiceItem:
    if not -1 <= label < len(choices):
        raise _RowError(f"label {label} does not index one of the {len(choices)} options")
    return ChoiceItem(id=item_id, fields=fields, choices=choices, label=label)


# --- HellaSwag -------------------------------------------------------------------------------------------------

_BRACKET_TAG = re.compile(r"\[.*?\]")


def clean_hellaswag_text(text: str) -> str:
    """lm-eval's clean-up of HellaSwag text, whose WikiHow rows carry markup such as "[header]", "[title]" and
    "[step]": trim the ends, turn " [title]" into a sentence break ". ", delete every other bracketed tag, then
    replace each pair of spaces with one space (a single pass, so four spaces become two, as upstream)."""
    text = text.strip().replace(" [title]", ". ")
    return _BRACKET_TAG.sub("", text).replace("  ", " ")


def convert_hellaswag(row: Row, split: str, index: int) -> ChoiceItem:
    """fields: query (lm-eval's context, exactly: the clean-up applied to "<activity_label>: <ctx_a> <Ctx_b>" as a
    whole), activity_label and ctx (both cleaned). f"{activity_label}: {ctx}" equals query except where cleaning
    the whole differs from cleaning the parts (a context that opens with "[title]" becomes "Label:. ..." upstream)."""
    raw_context = _text(row, "ctx_a") + " " + _text(row, "ctx_b").capitalize()
    query = clean_hellaswag_text(_text(row, "activity_label") + ": " + raw_context)
    activity = clean_hellaswag_text(_text(row, "activity_label"))
    head = activity + ": "
    context = query[len(head) :] if query.startswith(head) else clean_hellaswag_text(raw_context).strip()
    endings = tuple(clean_hellaswag_text(ending) for ending in _texts(row, "endings"))
    fields = {"query": query, "activity_label": activity, "ctx": context}
    return _item(_own_id(row, "ind", split, index), fields, endings, _int(row, "label", blank=-1))


# --- StoryCloze ------------------------------------------------------------------------------------------------

# The official CSV's columns, renamed to the Hugging Face `story_cloze` schema the converter reads.
STORYCLOZE_CSV_COLUMNS = {
    "InputStoryid": "story_id",
    **{f"InputSentence{k}": f"input_sentence_{k}" for k in range(1, 5)},
    "RandomFifthSentenceQuiz1": "sentence_quiz1",
    "RandomFifthSentenceQuiz2": "sentence_quiz2",
    "AnswerRightEnding": "answer_right_ending",
}


def convert_storycloze(row: Row, split: str, index: int) -> ChoiceItem:
    """fields: story (the four sentences joined by single spaces); choices: the two candidate endings."""
    story = " ".join(_text(row, f"input_sentence_{k}") for k in range(1, 5))
    ending = _int(row, "answer_right_ending")
    if ending not in (1, 2):
        raise _RowError(f"field 'answer_right_ending' must be 1 or 2, is {ending}")
    choices = (_text(row, "sentence_quiz1"), _text(row, "sentence_quiz2"))
    return _item(_own_id(row, "story_id", split, index), {"story": story}, choices, ending - 1)


# --- Winograd (WSC273) -----------------------------------------------------------------------------------------

_POSSESSIVE_PRONOUNS = ("my", "his", "her", "our", "their")
_LOWERED_FIRST_WORDS = ("A", "An", "The", "She", "He", "It", "They", "My", "His", "Her", "Their")


def _winograd_option(option: str, pronoun: str, text: str, pronoun_loc: int) -> str:
    """The option as it reads in place of the pronoun (lm-eval's wsc273 normalisation): "'s" appended when the
    pronoun is a possessive determiner; a leading article or pronoun from a fixed list lower-cased unless the
    pronoun opens a sentence (the character two before it is "."). Upstream lower-cases with str.replace, i.e.
    every occurrence of that word in the option, and so does this."""
    if not option.strip():
        raise _RowError("field 'options' holds an empty option")
    if pronoun.lower() in _POSSESSIVE_PRONOUNS:
        option += "'s"
    first = option.split()[0]
    opens_sentence = len(text) >= 2 and text[pronoun_loc - 2] == "."  # negative index for pronoun_loc < 2
    if first in _LOWERED_FIRST_WORDS and not opens_sentence:
        option = option.replace(first, first.lower())
    return option


def convert_winograd(row: Row, split: str, index: int) -> ChoiceItem:
    """Partial: fields prefix (text before the pronoun) and continuation (" " + the stripped text after it)."""
    text = _text(row, "text").replace("  ", " ")  # upstream's one-pass space fix; a no-op on the hub rows
    pronoun = _text(row, "pronoun")
    loc = _int(row, "pronoun_loc")
    if not pronoun or loc < 0 or text[loc : loc + len(pronoun)] != pronoun:
        raise _RowError(f"'pronoun' {pronoun!r} is not at character {loc} ('pronoun_loc') of 'text'")
    choices = tuple(_winograd_option(option, pronoun, text, loc) for option in _texts(row, "options"))
    fields = {"prefix": text[:loc], "continuation": " " + text[loc + len(pronoun) :].strip()}
    return _item(f"{split}-{index}", fields, choices, _int(row, "label"))


# --- Winogrande ------------------------------------------------------------------------------------------------


def convert_winogrande(row: Row, split: str, index: int) -> ChoiceItem:
    """Partial: the sentence's first "_" is the gap; prefix is the text before it, continuation " " + the
    stripped text after it. `answer` is "1"/"2" ("" in the unlabelled test split, giving label -1)."""
    sentence = _text(row, "sentence")
    gap = sentence.find("_")
    if gap < 0:
        raise _RowError("field 'sentence' has no '_' gap")
    answer = _int(row, "answer", blank=0)
    if answer not in (0, 1, 2):
        raise _RowError(f"field 'answer' must be '1', '2' or empty, is {answer}")
    fields = {"prefix": sentence[:gap], "continuation": " " + sentence[gap + 1 :].strip()}
    return _item(f"{split}-{index}", fields, (_text(row, "option1"), _text(row, "option2")), answer - 1)


# --- PIQA, BoolQ, CB, COPA -------------------------------------------------------------------------------------

CB_LABELS = ("entailment", "contradiction", "neutral")  # the SuperGLUE ClassLabel order
BOOLQ_CHOICES = ("no", "yes")


def convert_piqa(row: Row, split: str, index: int) -> ChoiceItem:
    """fields: goal; choices: sol1, sol2."""
    choices = (_text(row, "sol1"), _text(row, "sol2"))
    return _item(f"{split}-{index}", {"goal": _text(row, "goal")}, choices, _int(row, "label"))


def convert_boolq(row: Row, split: str, index: int) -> ChoiceItem:
    """fields: passage, question; choices ("no", "yes"); label 0 = False, 1 = True (also read from booleans, as
    in SuperGLUE's own val.jsonl)."""
    fields = {"passage": _text(row, "passage"), "question": _text(row, "question")}
    label = _int(row, "label", names=("False", "True"))
    return _item(_own_id(row, "idx", split, index), fields, BOOLQ_CHOICES, label)


def convert_cb(row: Row, split: str, index: int) -> ChoiceItem:
    """fields: premise, hypothesis; choices: CB_LABELS (labels may also be given by name, as in SuperGLUE's files)."""
    fields = {"premise": _text(row, "premise"), "hypothesis": _text(row, "hypothesis")}
    return _item(_own_id(row, "idx", split, index), fields, CB_LABELS, _int(row, "label", names=CB_LABELS))


def convert_copa(row: Row, split: str, index: int) -> ChoiceItem:
    """fields: premise, question ("cause" or "effect"); choices: choice1, choice2."""
    question = _text(row, "question")
    if question not in ("cause", "effect"):
        raise _RowError(f"field 'question' must be 'cause' or 'effect', is {question!r}")
    choices = (_text(row, "choice1"), _text(row, "choice2"))
    label = _int(row, "label", names=("choice1", "choice2"))
    return _item(
        _own_id(row, "idx", split, index), {"premise": _text(row, "premise"), "question": question}, choices, label
    )


# --- The table of datasets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives and how its rows become ChoiceItems.

    `splits` maps our split names to the hub's. `default_split` (scored by default) and `demo_split` (few-shot
    pool) follow lm-evaluation-harness: score test where it is labelled, else validation; draw demonstrations
    from train, else validation, else test. `partial` marks gap-filling datasets. `local_patterns` are globs for
    official file names accepted in a data folder beside `<split>.jsonl`; `columns` renames their columns to
    the hub schema; `no_hub` (for datasets without a loadable hub copy) says how to provide the data instead.
    """

    hub_id: str | None
    config: str | None
    splits: Mapping[str, str]
    default_split: str
    demo_split: str
    convert: Callable[[Row, str, int], ChoiceItem]
    partial: bool = False
    local_patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    no_hub: str = ""
    sizes: Mapping[str, int] = field(default_factory=dict)


_VAL_TRAIN = {"validation": "validation", "train": "train"}
_COMMON = {"default_split": "validation", "demo_split": "train"}

DATASETS: dict[str, DatasetSpec] = {
    "storycloze": DatasetSpec(
        hub_id=None,
        config=None,
        splits={"validation": "validation", "test": "test"},
        default_split="test",
        demo_split="validation",
        convert=convert_storycloze,
        local_patterns={"validation": ("cloze_test_val*.csv",), "test": ("cloze_test_test*.csv",)},
        columns=STORYCLOZE_CSV_COLUMNS,
        sizes={"validation": 1871, "test": 1871},
        no_hub="StoryCloze has no downloadable hub copy: pass --data-dir with the official CSV files "
        "('cloze_test_val__spring2016 - cloze_test_ALL_val.csv', "
        "'cloze_test_test__spring2016 - cloze_test_ALL_test.csv')",
    ),
    "hellaswag": DatasetSpec(
        "Rowan/hellaswag",
        None,
        _VAL_TRAIN,
        convert=convert_hellaswag,
        sizes={"validation": 10042, "train": 39905},
        local_patterns={"validation": ("hellaswag_val.jsonl",), "train": ("hellaswag_train.jsonl",)},
        **_COMMON,
    ),
    "winograd": DatasetSpec(
        "coref-data/davis_wsc_raw",
        "wsc285",
        {"test": "test"},
        default_split="test",
        demo_split="test",
        convert=convert_winograd,
        sizes={"test": 285},  # WSC285; its first 273 rows are WSC273 (config "wsc273")
        partial=True,
    ),
    "winogrande": DatasetSpec(
        "allenai/winogrande",
        "winogrande_xl",
        _VAL_TRAIN,
        convert=convert_winogrande,
        sizes={"validation": 1267, "train": 40398},
        partial=True,
        local_patterns={"train": ("train_xl.jsonl",)},
        **_COMMON,
    ),
    "piqa": DatasetSpec(
        "baber/piqa", None, _VAL_TRAIN, convert=convert_piqa, sizes={"validation": 1838, "train": 16113}, **_COMMON
    ),
    "boolq": DatasetSpec(
        "aps/super_glue",
        "boolq",
        _VAL_TRAIN,
        convert=convert_boolq,
        sizes={"validation": 3270, "train": 9427},
        **_COMMON,
    ),
    "cb": DatasetSpec(
        "aps/super_glue", "cb", _VAL_TRAIN, convert=convert_cb, sizes={"validation": 56, "train": 250}, **_COMMON
    ),
    "copa": DatasetSpec(
        "aps/super_glue", "copa", _VAL_TRAIN, convert=convert_copa, sizes={"validation": 100, "train": 400}, **_COMMON
    ),
}


def dataset_spec(dataset: str) -> DatasetSpec:
    """The table entry for `dataset`; a UserError listing the known names otherwise."""
    if dataset not in DATASETS:
        raise UserError(f"unknown language dataset '{dataset}'; known: {', '.join(DATASETS)}")
    return DATASETS[dataset]


def load_choice_items(dataset: str, split: str, data_dir: Path | None, hub: str | None = None) -> list[ChoiceItem]:
    """All items of one split, read from `data_dir` when given (a `<split>.jsonl`/.json/.csv/.parquet file in
    the hub schema, an official file name the dataset accepts, or a `save_to_disk` folder), else from the hub
    copy in DATASETS, or from `hub` ("id" or "id:config") when given. Ids must be unique within the split."""
    spec = dataset_spec(dataset)
    if split not in spec.splits:
        raise UserError(f"{dataset}: unknown split '{split}'; available: {', '.join(spec.splits)}")
    hf_split = spec.splits[split]
    if data_dir is not None:
        rows = local_rows(Path(data_dir), split, hf_split, spec.local_patterns.get(split, ()))
    else:
        hub_id, config = hub_target(dataset, spec, hub)
        rows = hub_rows(dataset, hub_id, config, hf_split, split)
    return _convert_rows(dataset, spec, rows, split)


def hub_target(dataset: str, spec: DatasetSpec, hub: str | None) -> tuple[str, str | None]:
    """The hub id and config a dataset is read from: `hub` ("id" or "id:config") when given, else its default."""
    if hub is not None:
        hub_id, _, config = hub.partition(":")
        if not hub_id.strip():
            raise UserError(f"{dataset}: --hub must be 'id' or 'id:config', got {hub!r}")
        return hub_id.strip(), config.strip() or None
    if spec.hub_id is None:
        raise DataError(f"{dataset}: {spec.no_hub} (see {DOCS})")
    return spec.hub_id, spec.config


def _convert_rows(dataset: str, spec: DatasetSpec, rows: Rows, split: str) -> list[ChoiceItem]:
    items: list[ChoiceItem] = []
    first_row_of: dict[str, int] = {}
    for index, row in enumerate(rows.rows):
        if spec.columns:
            row = {spec.columns.get(key, key): value for key, value in row.items()}
        try:
            item = spec.convert(row, split, index)
        except _RowError as exc:
            raise DataError(f"{rows.source}: row {index}: {exc} (expected the {dataset} schema, see {DOCS})") from None
        if item.id in first_row_of:
            raise DataError(f"{rows.source}: rows {first_row_of[item.id]} and {index} share the id '{item.id}'")
        first_row_of[item.id] = index
        items.append(item)
    if not items:
        raise DataError(f"{rows.source}: no rows for {dataset} split '{split}'")
    return items
