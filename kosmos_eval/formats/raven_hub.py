"""Raven problems from the hub copies declared in kosmos_eval/data/sources/raven.yaml: the same `RavenProblem`s
formats/raven.py reads from the official files, with the same ids and image keys, so a run on a hub copy and
a run on the files it was made from give the same records (and share cached image features).

* lmms-lab/IQ50 (the paper's set): a row per exp-N folder. Ids are `exp-N`, keys `exp-N/query-K.png` and
  `exp-N/answer-<letter>.png`, as `read_iq50` names them.
* HuggingFaceM4/RAVEN (RAVEN-10000, not the paper's set): a row per `RAVEN_<id>_test.npz`. Ids are
  `<config>/RAVEN_<id>_test` and keys `<id>.npz#<0..15>`, as `read_npz_folder` names them on the release's
  folder, so a row and the .npz file it came from are one example.

Images stay encoded in the copy's Arrow table until a backend needs one; only the list lengths are read up
front (to check every problem before any model work).
"""

from __future__ import annotations

import re
from typing import Any

from kosmos_eval.core.types import ImageInput
from kosmos_eval.data.hub_source import HubTable, to_pil
from kosmos_eval.errors import DataError
from kosmos_eval.formats.raven import RavenProblem

RAVEN_ID = "HuggingFaceM4/RAVEN"
RAVEN_CONFIGS = (
    "center_single",
    "distribute_four",
    "distribute_nine",
    "in_center_single_out_center_single",
    "in_distribute_four_out_center_single",
    "left_center_single_right_center_single",
    "up_center_single_down_center_single",
)
_EXP = re.compile(r"^(?:exp-)?(\d+)$")
_NPZ_SPLITS = {"validation": "val"}  # the hub's split name -> the one in the .npz file names


def raven_hub_problems(table: HubTable) -> list[RavenProblem]:
    """Every row as a problem, in the order the official reader lists the same problems. A declaration with
    an `npz_id` field holds converted RAVEN .npz files; one with `exp` holds IQ50's exp-N folders."""
    npz = "npz_id" in table.copy.columns
    names = _npz_names(table) if npz else _exp_names(table)
    panel_counts = _lengths(table, "panels")
    candidate_counts = _lengths(table, "candidates")
    answers = table.values("answer")
    problems: dict[str, RavenProblem] = {}
    for index, name in enumerate(names):
        where = f"{table.describe()} row {index} ({name})"
        if name in problems:
            raise DataError(f"{where}: repeats an id of an earlier row")
        panels, candidates, answer = panel_counts[index], candidate_counts[index], answers[index]
        if panels < 1 or candidates < 2:
            raise DataError(f"{where}: needs given panels and at least 2 candidates, has {panels} and {candidates}")
        if answer is None or not 0 <= int(answer) < candidates:
            raise DataError(f"{where}: answer {answer!r} is not a candidate position 0..{candidates - 1}")
        if npz:
            panel_keys = [f"{name}.npz#{k}" for k in range(panels)]
            candidate_keys = [f"{name}.npz#{panels + k}" for k in range(candidates)]
        else:
            panel_keys = [f"{name}/query-{k + 1}.png" for k in range(panels)]
            candidate_keys = [f"{name}/answer-{chr(ord('a') + k)}.png" for k in range(candidates)]
        problems[name] = RavenProblem(
            id=name,
            panels=tuple(_list_image(table, "panels", index, k, key) for k, key in enumerate(panel_keys)),
            candidates=tuple(_list_image(table, "candidates", index, k, key) for k, key in enumerate(candidate_keys)),
            answer_index=int(answer),
            source=f"{table.describe()} row {index}",
        )
    order = sorted(problems) if npz else sorted(problems, key=lambda name: int(name.removeprefix("exp-")))
    return [problems[name] for name in order]


def _exp_names(table: HubTable) -> list[str]:
    """IQ50's folder names; a copy that stores the bare number gets the release's `exp-` prefix back."""
    names = []
    for index, value in enumerate(table.values("exp")):
        match = _EXP.match(str(value).strip()) if value is not None else None
        if match is None:
            raise DataError(f"{table.describe()} row {index}: id {value!r} is not an IQ50 folder name (exp-N)")
        names.append(f"exp-{int(match.group(1))}")
    return names


def _npz_names(table: HubTable) -> list[str]:
    """`<config>/RAVEN_<id>_test`: the path (without .npz) of the file the row was converted from, relative to
    the RAVEN-10000 release folder, which is the id `read_npz_folder` gives it."""
    config = table.copy.config or "default"
    hub_split = table.copy.splits[table.split].hub
    suffix = _NPZ_SPLITS.get(hub_split, hub_split)
    return [f"{config}/RAVEN_{int(value)}_{suffix}" for value in table.values("npz_id")]


def _lengths(table: HubTable, name: str) -> list[int]:
    """How many images each row's list holds, read from the Arrow offsets (no image is decoded)."""
    cells = _cells(table, name)
    lengths: list[int] = []
    for chunk in cells.chunks:
        lengths.extend(0 if length is None else int(length) for length in chunk.value_lengths().to_pylist())
    return lengths


def _cells(table: HubTable, name: str) -> Any:
    """The field's column as an Arrow chunked array of lists, one row per problem."""
    return table.dataset.data.column(table.copy.columns[name][0])


def _list_image(table: HubTable, name: str, index: int, position: int, key: str) -> ImageInput:
    """Image `position` of row `index`'s list, decoded from its stored bytes only when a backend asks."""
    cells = _cells(table, name)
    column = table.copy.columns[name][0]
    return ImageInput(
        key=key,
        opener=lambda: to_pil(cells[index].values[position].as_py()),
        origin=f"{table.describe()} row {index} {column}[{position}]",
    )
