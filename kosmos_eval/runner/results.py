"""One run = one folder: run.json (what is computed), samples.jsonl (append-only), summary.json (atomic).

A step's records (examples built, batched and scored together) are appended to samples.jsonl in one write,
fsynced, and then committed: the file's new length is appended to samples.jsonl.commits, fsynced. On the next
start everything past the last committed length is an interrupted step: it is cut off and the whole step is
computed again, with the same neighbours as in an uninterrupted run, so a resumed run's records are
byte-identical to an uninterrupted run's (a backend's numbers can depend on batch composition in the last
bits). Folders written before commits existed are read as before: every complete line counts.

summary.json, run.json and every export are written whole and renamed into place (core/files.py). summary.json
holds the result only (what follows from the identity, the records and the harness version), so a resumed or
extended run rewrites it byte for byte; when the run finished and how long it took are in timing.json.

In a data-parallel run each rank appends to samples.rank<N>.jsonl (with its own commits file); every file is
read on resume, and rank 0 merges them into samples.jsonl at the end (written whole and renamed, then the rank
files removed; a crash in between leaves duplicates of identical records, which loading tolerates).

Records are checked as they are read: a line that is not a JSON object with an id, or a second record of an
id that says something else, is one error line naming the file and line.

Every file here is opened without following a link (core/files.py `open_plain`), for reading too: a folder
from someone else's tarball, or planted on a shared --output, whose samples.jsonl or commits file links to
another file is refused in one line, and the file it points to is neither read, cut nor appended to. The
folder as a whole (its owner, links in it) is checked when its lock is taken (runner/lock.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from kosmos_eval.core.files import open_plain, read_json, read_plain, write_json_atomic, write_text_atomic, writing
from kosmos_eval.errors import DataError, UserError
from kosmos_eval.runner.schema import check_record

log = logging.getLogger(__name__)

SAMPLES = "samples.jsonl"
RANK_SAMPLES = "samples.rank*.jsonl"
COMMITS_SUFFIX = ".commits"
SUMMARY = "summary.json"
TIMING = "timing.json"
RUN_META = "run.json"


def _shared_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {sys.intern(key): value for key, value in pairs}


_RECORD_DECODER = json.JSONDecoder(object_pairs_hook=_shared_keys)


def decode_record(raw: bytes) -> Any:
    """One samples.jsonl line as JSON, its keys interned: 100k records then share one copy of each field name
    instead of holding their own (a third of a record's memory), and decoding is no slower."""
    return _RECORD_DECODER.decode(raw.decode("utf-8"))


def slug(text: str) -> str:
    """A filesystem-safe short name: the last path component, non-alphanumerics as '-'."""
    tail = text.rstrip("/").split("/")[-1] or text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-")[:60] or "model"


def commits_path(samples: Path) -> Path:
    return samples.with_name(samples.name + COMMITS_SUFFIX)


def committed_length(samples: Path) -> int | None:
    """The length of `samples` at its last committed step, or None for a folder written before commits."""
    try:
        text = read_plain(commits_path(samples)).decode("ascii", errors="replace")
    except FileNotFoundError:
        return None
    lengths = [line.strip() for line in text.splitlines()]
    valid = [int(line) for line in lengths if line.isdigit()]
    return valid[-1] if valid else 0


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
        # lexists: a link is listed (and refused when opened), not skipped as a dangling one would be
        return [p for p in [self.path / SAMPLES, *sorted(self.path.glob(RANK_SAMPLES))] if os.path.lexists(p)]

    def merge_rank_files(self, order: Sequence[str]) -> None:
        """Rewrite samples.jsonl with every record, in `order` (ids) first, then any others; drop rank files."""
        records = self.load_records(repair=False)
        ordered = [records[i] for i in order if i in records]
        ordered += [r for i, r in records.items() if i not in set(order)]
        text = "".join(json.dumps(record, default=str) + "\n" for record in ordered)
        samples = self.path / SAMPLES
        write_text_atomic(samples, text)
        write_text_atomic(commits_path(samples), f"{len(text.encode('utf-8'))}\n")
        for path in self.path.glob(RANK_SAMPLES):
            path.unlink()
            commits_path(path).unlink(missing_ok=True)

    def prepare(self, identity: dict[str, Any]) -> None:
        """Create the folder, or check that an existing one was made for the same identity."""
        meta_path = self.path / RUN_META
        if os.path.lexists(meta_path):
            existing = read_json(meta_path, "run identity file (run.json)")
            if not isinstance(existing, dict) or existing.get("identity") != identity:
                raise UserError(f"{self.path} holds a run with a different configuration; choose another --output")
            return
        with writing(self.path, "create the run folder"):
            self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(meta_path, {"identity": identity})

    def read_meta(self) -> dict[str, Any]:
        meta = read_json(self.path / RUN_META, "run identity file (run.json)")
        if not isinstance(meta, dict):
            raise UserError(f"{self.path / RUN_META}: not a run identity file; move the folder away to start over")
        return meta

    def update_meta(self, **fields: Any) -> None:
        meta = self.read_meta()
        meta.update(fields)
        write_json_atomic(self.path / RUN_META, meta)

    def load_records(self, repair: bool = True) -> dict[str, dict[str, Any]]:
        """Finished records by id from every samples file. An interrupted step (past the last commit, or a
        line cut short) is dropped, and with `repair` cut from the file. Identical records of one id (a merge
        interrupted by a crash) are one record; differing ones are an error.

        Files are read a line at a time and nothing but the records is kept, so a resume of 100k records
        holds the records and not also the file's bytes and a copy of its lines."""
        records: dict[str, dict[str, Any]] = {}
        for path in self.sample_files():
            for number, record in self._read_samples(path, repair):
                key = str(record["id"])
                if key in records and records[key] != record:
                    raise UserError(
                        f"{path}:{number}: a second record of example {key!r} that differs from the one at "
                        f"{self._first_place(key)}; the folder was written by two different runs: move it away to "
                        "start over"
                    )
                records.setdefault(key, record)
        return records

    def _first_place(self, key: str) -> str:
        """Where the first record of example `key` is (read again: only an error message needs it)."""
        for path in self.sample_files():
            for number, record in self._read_samples(path, repair=False, quiet=True):
                if str(record["id"]) == key:
                    return f"{path}:{number}"
        return "an earlier line"

    @staticmethod
    def _read_samples(path: Path, repair: bool, quiet: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, record) of each committed, complete line; then the uncommitted tail is reported
        and, with `repair`, cut off."""
        committed = committed_length(path)
        good_bytes = 0
        with os.fdopen(open_plain(path, os.O_RDONLY), "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            limit = size if committed is None else min(committed, size)
            number = 0
            while good_bytes < limit:
                raw = handle.readline(limit - good_bytes)
                if not raw.endswith(b"\n"):
                    break  # a line cut short (or nothing left): dropped below
                number += 1
                try:
                    record = decode_record(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    if good_bytes + len(raw) == size and committed is None:
                        break  # a legacy folder's last line, written half: dropped below
                    raise UserError(
                        f"{path}:{number}: not a JSON record (damaged file?); move the file away to start this run over"
                    ) from None
                try:
                    check_record(record, f"{path}:{number}")  # its format's schema (runner/schema.py)
                except DataError as exc:
                    raise DataError(f"{exc}; move the file away to start this run over") from None
                good_bytes += len(raw)
                yield number, record
        if good_bytes != size and not quiet:
            if repair:
                log.warning(
                    "%s: dropping its last %d bytes: a step that was being written when the run stopped, never "
                    "committed; it is computed again",
                    path,
                    size - good_bytes,
                )
            else:
                log.warning(
                    "%s: ignoring its last %d bytes: a step not yet committed (being written by a live run, or "
                    "cut short by a crash; rerunning the run's command recomputes it)",
                    path,
                    size - good_bytes,
                )
            if repair:
                with writing(path, "repair"):
                    fd = open_plain(path, os.O_WRONLY)
                    try:
                        os.ftruncate(fd, good_bytes)
                    finally:
                        os.close(fd)
                if committed is not None and committed != good_bytes:
                    _append_commit(path, good_bytes)

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """One step's records, written in one piece and then committed (see the module docstring)."""
        path, commits = self.samples_path, commits_path(self.samples_path)
        data = "".join(json.dumps(record, default=str) + "\n" for record in records).encode("utf-8")
        with writing(path, "append to"):
            first = not os.path.lexists(commits)
            # both files open before a byte is written: a refused commits file leaves samples.jsonl as it was
            with _open_append(path) as handle, _open_append(commits) as ledger:
                if first:
                    _commit(ledger, commits, os.fstat(handle.fileno()).st_size)  # from now on only commits count
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
                _commit(ledger, commits, os.fstat(handle.fileno()).st_size)

    def write_summary(self, summary: dict[str, Any], timing: dict[str, Any]) -> Path:
        """summary.json, then timing.json (a reader finding a summary newer than its timing uses the file's
        modification time)."""
        path = write_json_atomic(self.path / SUMMARY, summary)
        write_json_atomic(self.path / TIMING, timing)
        return path


def _open_append(path: Path) -> BinaryIO:
    return os.fdopen(open_plain(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab")


def _commit(ledger: BinaryIO, commits: Path, length: int) -> None:
    with writing(commits, "append to"):
        ledger.write(f"{length}\n".encode("ascii"))
        ledger.flush()
        os.fsync(ledger.fileno())


def _append_commit(samples: Path, length: int) -> None:
    commits = commits_path(samples)
    with writing(commits, "append to"), _open_append(commits) as ledger:
        _commit(ledger, commits, length)
