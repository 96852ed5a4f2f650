"""One run = one folder: run.json (what is computed), samples.jsonl (append-only), summary.json (atomic).

samples.jsonl gets one line per finished example, flushed and fsynced as examples finish, so a crash loses
at most the examples in flight. A line cut short by a crash is dropped on the next start. summary.json is
written to a temporary file and renamed into place, so it is either the old or the new summary, never half.

In a data-parallel run each rank appends to samples.rank<N>.jsonl; every file is read on resume, and rank 0
merges them into samples.jsonl at the end (written whole and renamed, then the rank files removed; a crash
in between leaves duplicates of identical records, which loading tolerates).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kosmos_eval.errors import UserError

log = logging.getLogger(__name__)

SAMPLES = "samples.jsonl"
RANK_SAMPLES = "samples.rank*.jsonl"
SUMMARY = "summary.json"
RUN_META = "run.json"


def slug(text: str) -> str:
    """A filesystem-safe short name: the last path component, non-alphanumerics as '-'."""
    tail = text.rstrip("/").split("/")[-1] or text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-")[:60] or "model"


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class RunFolder:
    def __init__(self, path: Path, rank: int | None = None) -> None:
        """`rank` set: this process appends to its own samples.rank<rank>.jsonl (data-parallel runs)."""
        self.path = path
        self.rank = rank

    @property
    def samples_path(self) -> Path:
        return self.path / (SAMPLES if self.rank is None else f"samples.rank{self.rank}.jsonl")

    def has_rank_files(self) -> bool:
        return any(self.path.glob(RANK_SAMPLES))

    def sample_files(self) -> list[Path]:
        return [p for p in [self.path / SAMPLES, *sorted(self.path.glob(RANK_SAMPLES))] if p.exists()]

    def merge_rank_files(self, order: Sequence[str]) -> None:
        """Rewrite samples.jsonl with every record, in `order` (ids) first, then any others; drop rank files."""
        records = self.load_records(repair=False)
        ordered = [records[i] for i in order if i in records]
        ordered += [r for i, r in records.items() if i not in set(order)]
        tmp = self.path / f".{SAMPLES}.tmp"
        with tmp.open("w") as handle:
            for record in ordered:
                handle.write(json.dumps(record, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path / SAMPLES)
        for path in self.path.glob(RANK_SAMPLES):
            path.unlink()

    def prepare(self, identity: dict[str, Any]) -> None:
        """Create the folder, or check that an existing one was made for the same identity."""
        meta_path = self.path / RUN_META
        if meta_path.exists():
            existing = json.loads(meta_path.read_text())
            if existing.get("identity") != identity:
                raise UserError(f"{self.path} holds a run with a different configuration; choose another --output")
            return
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(meta_path, {"identity": identity})

    def read_meta(self) -> dict[str, Any]:
        return json.loads((self.path / RUN_META).read_text())

    def update_meta(self, **fields: Any) -> None:
        meta = self.read_meta()
        meta.update(fields)
        write_json_atomic(self.path / RUN_META, meta)

    def load_records(self, repair: bool = True) -> dict[str, dict[str, Any]]:
        """Finished records by id from every samples file. A truncated last line (crash mid-write) is
        dropped, and with `repair` cut from the file."""
        records: dict[str, dict[str, Any]] = {}
        for path in self.sample_files():
            records.update(self._read_samples(path, repair))
        return records

    @staticmethod
    def _read_samples(path: Path, repair: bool) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        good_bytes = 0
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError:
                    rest = handle.read()
                    if rest.strip():
                        raise UserError(
                            f"{path}:{number}: corrupt line in the middle of the file; "
                            "move the file away to start this run over"
                        ) from None
                    log.warning("%s: dropping a line cut short by an interrupted run", path)
                    break
                if not raw.endswith(b"\n"):
                    log.warning("%s: dropping a line cut short by an interrupted run", path)
                    break
                records[str(record["id"])] = record
                good_bytes += len(raw)
        if repair and good_bytes != path.stat().st_size:
            with path.open("r+b") as handle:
                handle.truncate(good_bytes)
        return records

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        with self.samples_path.open("a") as handle:
            for record in records:
                handle.write(json.dumps(record, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def write_summary(self, summary: dict[str, Any]) -> Path:
        path = self.path / SUMMARY
        write_json_atomic(path, summary)
        return path
