"""Reader for WebSRC v1.0 in its official release layout, the page text used as KOSMOS-1's {WebText}, and the
official prediction-file format.

Layout (X-LANCE/WebSRC-Baseline, data/ and README):

* ``<domain>/<site>/dataset.csv``: one question per row with columns ``question, id, element_id,
  answer_start, answer`` in a per-file order (parse by header). ``id`` has 14 characters: two letters of the
  domain, the two-digit site, five digits of page, five of question; the page id is ``id[2:9]``.
* ``<domain>/<site>/processed_data/<page_id>.{html,png,json,txt}``: cleaned HTML (every tag carries ``tid``),
  screenshot, per-tag boxes, and a two-line ``.txt`` (page title and URL; not the page's text).
* ``element_id == -1`` marks a yes/no question; ``answer_start`` is then 1 for "yes" and 0 for "no", and the
  ``answer`` column holds that word. The official conversion takes the answer column verbatim, so do we.
* Splits are lists of site codes (``domain[:2] + site``, e.g. ``"au08"``). ``dataset_split_release.json``
  lists train, dev and test explicitly; the older ``dataset_split.json`` lists dev and test only and the
  official conversion script puts every other site in train. We prefer the release file when both exist.

See docs/metrics/websrc.md for the choices made here and the upstream commit they were checked against.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path

from kosmos_eval.core.files import write_text_atomic
from kosmos_eval.core.types import ImageInput
from kosmos_eval.errors import DataError
from kosmos_eval.formats.common import DataFolder, load_json

COLUMNS = ("question", "id", "element_id", "answer_start", "answer")
SPLIT_FILES = ("dataset_split_release.json", "dataset_split.json")
_ID_LENGTH = 14
_YES_NO = {1: "yes", 0: "no"}


@dataclass(frozen=True)
class WebSRCQuestion:
    id: str
    question: str
    answer: str  # gold text, verbatim from the answer column ("yes"/"no" for yes/no questions)
    is_yes_no: bool
    page_id: str
    domain: str
    site: str
    screenshot: ImageInput
    html_path: Path
    split: str | None  # the site's split per the split file; None when no split file lists it


def site_code(domain: str, site: str) -> str:
    """The code split files use for a website: first two letters of the domain plus the site number."""
    return domain[:2] + site


def _site_folders(data_root: Path) -> list[tuple[str, str, Path]]:
    """(domain, site, folder) for every <domain>/<site>/dataset.csv, in name order."""
    found = []
    for domain_dir in sorted(p for p in data_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for site_dir in sorted(p for p in domain_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (site_dir / "dataset.csv").is_file():
                found.append((domain_dir.name, site_dir.name, site_dir))
    return found


def read_split_lists(data_root: Path, present_sites: list[str]) -> dict[str, set[str]] | None:
    """Split name -> site codes, or None when the data root has no split file.

    With ``dataset_split_release.json`` every list is taken as written. With only ``dataset_split.json``
    (dev and test lists), train is every present site listed in neither, as the official conversion does.
    """
    for name in SPLIT_FILES:
        path = data_root / name
        if not path.is_file():
            continue
        raw = load_json(path)
        if not isinstance(raw, dict) or not all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in raw.values()
        ):
            raise DataError(f"{path}: expected a JSON object mapping split names to lists of site codes like 'au08'")
        splits = {str(key): set(value) for key, value in raw.items()}
        if name == "dataset_split.json" and "train" not in splits:
            listed = set().union(*splits.values()) if splits else set()
            splits["train"] = {code for code in present_sites if code not in listed}
        names = sorted(splits)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                if shared := sorted(splits[first] & splits[second]):
                    raise DataError(f"{path}: site(s) {shared} listed in both '{first}' and '{second}'")
        return splits
    return None


def _int_field(row: dict[str, str], column: str, where: str) -> int:
    value = (row.get(column) or "").strip()
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{where}: column '{column}' must be an integer, got {value!r}") from None


def _read_site(domain: str, site: str, folder: Path, data_root: DataFolder, split: str | None) -> list[WebSRCQuestion]:
    csv_path = folder / "dataset.csv"
    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise DataError(
                    f"{csv_path}: missing column(s) {missing}; found {list(header)} "
                    f"(WebSRC needs {list(COLUMNS)}; test-set files without 'answer' have no public labels)"
                )
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{csv_path}: cannot read ({exc.__class__.__name__}: {exc})") from exc

    questions = []
    checked_pages: dict[str, tuple[ImageInput, Path]] = {}
    for line, row in rows:
        where = f"{csv_path} line {line}"
        if None in row or any(value is None for value in row.values()):
            raise DataError(f"{where}: row does not have one value per header column {list(header)}")
        qid = row["id"].strip()
        if len(qid) != _ID_LENGTH or qid[:2] != domain[:2] or qid[2:4] != site:
            raise DataError(
                f"{where}: id {qid!r} should have {_ID_LENGTH} characters and start with "
                f"{site_code(domain, site)!r} (domain letters + site folder)"
            )
        element_id = _int_field(row, "element_id", where)
        answer_start = _int_field(row, "answer_start", where)
        answer = row["answer"]
        is_yes_no = element_id == -1
        if is_yes_no and (answer_start not in _YES_NO or answer != _YES_NO[answer_start]):
            raise DataError(
                f"{where}: yes/no question {qid} (element_id -1) needs answer_start 1 with answer 'yes' or "
                f"answer_start 0 with answer 'no', got answer_start {answer_start} and answer {answer!r}"
            )
        page_id = qid[2:9]
        if page_id not in checked_pages:
            checked_pages[page_id] = _page_files(data_root, domain, site, page_id, where)
        screenshot, html_path = checked_pages[page_id]
        questions.append(
            WebSRCQuestion(
                id=qid,
                question=row["question"],
                answer=answer,
                is_yes_no=is_yes_no,
                page_id=page_id,
                domain=domain,
                site=site,
                screenshot=screenshot,
                html_path=html_path,
                split=split,
            )
        )
    return questions


def _page_files(data_root: DataFolder, domain: str, site: str, page_id: str, where: str) -> tuple[ImageInput, Path]:
    """The page's screenshot and HTML (whose text goes into the prompt), both kept inside the data folder: the
    page id comes from the CSV's `id` column and a folder may be a symlink."""
    relative = f"{domain}/{site}/processed_data/{page_id}"
    png = data_root.resolve(f"{relative}.png", where, "id")
    html = data_root.resolve(f"{relative}.html", where, "id")
    for path in (png, html):
        if not path.is_file():
            raise DataError(f"{path}: file missing for page {page_id} (every page needs its .png and .html)")
    return ImageInput.from_path(png, key=f"{relative}.png"), html


def read_websrc(data_root: Path, split: str | None) -> list[WebSRCQuestion]:
    """All questions of the requested split (``None``: every site found), sorted by question id.

    Only the CSV files of sites in the split are parsed, so a data root that also holds the unlabelled test
    set can be read for dev. Screenshots are not opened; their existence and the HTML's are checked per page.
    """
    data_root = Path(data_root)
    if not data_root.is_dir():
        raise DataError(f"{data_root}: WebSRC data folder does not exist")
    folders = _site_folders(data_root)
    if not folders:
        raise DataError(f"{data_root}: no <domain>/<site>/dataset.csv found (expected the WebSRC release layout)")
    codes = [site_code(domain, site) for domain, site, _ in folders]
    inside = DataFolder(data_root)
    splits = read_split_lists(data_root, codes)
    if split is not None:
        if splits is None:
            raise DataError(f"{data_root}: split {split!r} requested but neither of {list(SPLIT_FILES)} exists")
        if split not in splits:
            raise DataError(f"{data_root}: unknown WebSRC split {split!r}; known splits: {sorted(splits)}")

    questions: list[WebSRCQuestion] = []
    for (domain, site, folder), code in zip(folders, codes, strict=True):
        site_split = None
        if splits is not None:
            site_split = next((name for name in sorted(splits) if code in splits[name]), None)
        if split is not None and site_split != split:
            continue
        questions.extend(_read_site(domain, site, folder, inside, site_split))

    questions.sort(key=lambda q: q.id)
    for previous, current in pairwise(questions):
        if previous.id == current.id:
            raise DataError(
                f"{data_root}: question id {current.id} appears twice ({previous.domain}/{previous.site} and "
                f"{current.domain}/{current.site}); ids must be unique"
            )
    return questions


class _TextCollector(HTMLParser):
    """Collects text nodes in document order, skipping the contents of script and style elements."""

    _SKIPPED = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self._buffer: list[str] = []
        self._skip_depth = 0

    def _flush(self) -> None:
        if self._buffer:
            if self._skip_depth == 0:
                self.words.extend("".join(self._buffer).split())
            self._buffer = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        if tag in self._SKIPPED:
            self._skip_depth += 1

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        if tag in self._SKIPPED and self._skip_depth > 0:
            self._skip_depth -= 1

    def handle_data(self, data: str) -> None:
        self._buffer.append(data)

    def handle_comment(self, data: str) -> None:
        self._flush()

    def handle_decl(self, decl: str) -> None:
        self._flush()

    def handle_pi(self, data: str) -> None:
        self._flush()

    def close(self) -> None:
        super().close()
        self._flush()


@lru_cache(maxsize=256)
def page_text(html_path: Path) -> str:
    """The page's visible text (the prompt's {WebText}): text nodes in document order, entities decoded,
    script/style contents and comments dropped, each node's whitespace collapsed, nodes joined by one space.

    Every tag boundary separates words ("a<b>c</b>" gives "a c"), which is how the official T-PLM baseline
    builds its page text from the same HTML. The per-page ``.txt`` of the release is only title and URL.
    """
    try:
        markup = Path(html_path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataError(f"{html_path}: HTML file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{html_path}: cannot read HTML ({exc.__class__.__name__}: {exc})") from exc
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return " ".join(collector.words)


def write_websrc_predictions(path: Path, predictions: Mapping[str, str]) -> None:
    """Write predictions as the official evaluation reads them: one JSON object, question id -> answer text."""
    for qid, answer in predictions.items():
        if not isinstance(qid, str) or not isinstance(answer, str):
            raise TypeError(f"WebSRC predictions map str ids to str answers, got {qid!r}: {answer!r}")
    ordered = {qid: predictions[qid] for qid in sorted(predictions)}
    write_text_atomic(Path(path), json.dumps(ordered, ensure_ascii=False, indent=2) + "\n")


def read_websrc_predictions(path: Path) -> dict[str, str]:
    """Read an official-format prediction file (a JSON object question id -> answer string)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: prediction file not found")
    raw = load_json(path)
    if not isinstance(raw, dict):
        raise DataError(
            f"{path}: expected a JSON object mapping question ids to answer strings, got {type(raw).__name__}"
        )
    for qid, answer in raw.items():
        if not isinstance(answer, str):
            raise DataError(f"{path}: answer for {qid!r} must be a string, got {type(answer).__name__}")
    return dict(raw)


def gold_answers(questions: list[WebSRCQuestion]) -> dict[str, str]:
    """Gold answers keyed by question id, the form `score_websrc` takes."""
    return {q.id: q.answer for q in questions}
