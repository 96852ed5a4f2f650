"""The capability of reading a task's declared hub copy (kosmos_eval/data/sources/<task>.yaml).

A task opts in by listing `HubData` before its base class (a capability, tasks/capabilities.py, which brings
`LocatesData` with it) and, in its `load`, asking `open_hub` first: it
returns the opened split when no local folder was given (or the folder is a downloaded hub repo), and None
when the task's official files are to be read as before. What the task then builds from the rows (its
examples) stays in the task; where the rows came from, and whether they are the paper's split, is kept in
`hub_tables` for the run's summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kosmos_eval.core.types import DataStatus
from kosmos_eval.data.hub import hub_status
from kosmos_eval.data.hub_load import chosen_copy, is_hub_snapshot, open_split
from kosmos_eval.data.hub_source import HubCopy, HubTable
from kosmos_eval.errors import DataError
from kosmos_eval.tasks.capabilities import LocatesData

HUB_OPTIONS = {
    "hub_id": "read another hub copy of the data than the declared one (its columns and row count are checked)",
    "hub_revision": "the hub copy's revision: a branch, tag or commit (default: the declared one)",
}


def serves(copy: HubCopy) -> str:
    """What a hub copy can serve of the paper's settings, as `kosmos-eval list` shows it."""
    parts = [f"hub copy serves {', '.join(copy.splits)}"]
    if copy.demos:
        parts.append("zero-shot only")
    if copy.not_paper:
        parts.append("not the paper's data")
    return "; ".join(parts)


class HubData(LocatesData):
    """Mixin for a Task with a declared hub copy; see the module docstring."""

    task_options: dict[str, str]

    @classmethod
    def all_options(cls) -> dict[str, str]:
        return {**super().all_options(), **HUB_OPTIONS}  # type: ignore[misc]

    @property
    def hub_tables(self) -> dict[str, HubTable]:
        """The hub splits this task read, by our split name (the evaluated split and the demo pool)."""
        tables: dict[str, HubTable] | None = self.__dict__.get("_hub_tables")
        if tables is None:
            tables = self.__dict__["_hub_tables"] = {}
        return tables

    def open_hub(self, split: str, data_dir: Path | None) -> HubTable | None:
        """`split` of the hub copy when no folder was given or `data_dir` is a downloaded hub repo; else None."""
        if data_dir is not None and not is_hub_snapshot(data_dir):
            return None
        table = open_split(self.name, split, self.task_options, local_copy=data_dir)
        self.hub_tables[split] = table
        return table

    def check_hub_demos(self, shots: int, data_dir: Path | None) -> None:
        """Refuse, before any split is opened (a download of minutes), a few-shot run whose demonstrations the
        hub copy cannot give (COCO's: no copy holds Karpathy's train images)."""
        if shots == 0 or (data_dir is not None and not is_hub_snapshot(data_dir)):
            return
        copy = chosen_copy(self.name, self.task_options)
        demo_split = getattr(self, "demo_split", None)
        if copy is not None and demo_split is not None and demo_split not in copy.splits:
            why = f": {copy.demos}" if copy.demos else "; pass --data-dir with the official files"
            raise DataError(f"{self.name} --shots {shots}: hub {copy.id} has no '{demo_split}' split for demos{why}")

    def data_status(self, data_dir: Path | None) -> DataStatus:
        copy = chosen_copy(self.name, self.task_options)
        if data_dir is None and copy is not None:
            status = hub_status(copy.id, copy.config, f"pass --data-dir with {self.data_needed}")
            return DataStatus(status.found, f"{status.where} [{serves(copy)}]")
        if data_dir is not None and copy is not None and is_hub_snapshot(data_dir):
            return DataStatus(True, f"local copy of hub {copy.id} ({data_dir}) [{serves(copy)}]")
        return super().data_status(data_dir)

    def hub_provenance(self, split: str) -> dict[str, Any] | None:
        table = self.hub_tables.get(split)
        return table.provenance() if table is not None else None
