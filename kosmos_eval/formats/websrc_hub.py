"""WebSRC questions from the hub copy declared in kosmos_eval/data/sources/websrc.yaml (rootsautomation/websrc):
one row per question with `domain, page_id, question, answer` and the page's screenshot as a base64 string.

What the flat copy lacks, and what is done instead:

* No page HTML: only the image-only setting can be served (the task refuses the other, tasks/websrc.py).
* No question id. The release's id is the page (domain letters, site, page) plus five digits that count the
  questions of a whole site's CSV, which a copy of regrouped rows cannot be trusted to reproduce. The id here
  is the page plus a digest of the question text (`bo0100001-1a2b3c4d`), which stays the same however the
  copy orders or shards its rows, so resuming, `--example-ids` and a re-uploaded copy keep naming the same
  question. A question asked twice about one page gets `-2`, `-3` in row order.
* No element id, so yes/no questions (element_id -1 in the release) are recognised by their answer, exactly
  "yes" or "no" as the release writes it; this only decides the question-type breakdown, never a score.

Questions are listed by id, so page by page in the release's page order whatever the copy's row order; every
row of a page shares one screenshot input, decoded from the page's first row only when a backend needs it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from kosmos_eval.core.types import ImageInput
from kosmos_eval.data.hub_source import HubTable
from kosmos_eval.errors import DataError

_PAGE_DIGITS = 7  # site (2) + page (5): the release's processed_data/<page>.png stem, id[2:9]
_YES_NO = ("yes", "no")


@dataclass(frozen=True)
class WebSRCHubQuestion:
    id: str
    question: str
    answer: str
    is_yes_no: bool
    page_id: str  # domain letters + the release's page id, e.g. "bo0100001" (the release id's first 9 characters)
    domain: str
    site: str
    screenshot: ImageInput


def page_key(domain: str, page_id: str) -> tuple[str, str, str]:
    """(page, site, screenshot key). A 7-digit page id is the release's file stem: the page becomes the
    release id's first nine characters and the key the release reader's `<domain>/<site>/processed_data/
    <page>.png`, so both readers name one screenshot alike. Any other form is kept as the copy spells it."""
    stem = page_id.strip()
    if len(stem) == _PAGE_DIGITS and stem.isdigit():
        return domain[:2] + stem, stem[:2], f"{domain}/{stem[:2]}/processed_data/{stem}.png"
    if len(stem) == _PAGE_DIGITS + 2 and stem[:2] == domain[:2] and stem[2:].isdigit():
        return stem, stem[2:4], f"{domain}/{stem[2:4]}/processed_data/{stem[2:]}.png"
    return f"{domain[:2]}-{stem}", "", f"{domain}/{stem}.png"


def question_id(page: str, question: str) -> str:
    """The page and the first 8 hex digits of the question's SHA-1 (see the module docstring)."""
    return f"{page}-{hashlib.sha1(question.encode('utf-8')).hexdigest()[:8]}"


def decode_screenshot(value: Any) -> Image.Image:
    """A base64 PNG (optionally a `data:` URI, as some copies store it) as an image."""
    if not isinstance(value, str) or not value:
        raise DataError(f"the screenshot is {type(value).__name__}, not a base64 string")
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return Image.open(io.BytesIO(base64.b64decode(text)))
    except binascii.Error as exc:
        raise DataError(f"the screenshot is not valid base64 ({exc})") from exc


def websrc_hub_questions(table: HubTable) -> list[WebSRCHubQuestion]:
    """Every row of the split as a question, in id order (see the module docstring)."""
    domains = table.values("domain")
    pages = table.values("page_id")
    questions = table.values("question")
    answers = table.values("answer")
    keys: list[tuple[str, str, str]] = []
    for index, (domain, page) in enumerate(zip(domains, pages, strict=True)):
        if not domain or not page:
            raise DataError(f"{table.describe()} row {index}: empty domain or page_id")
        keys.append(page_key(domain, page))
    column = table.copy.columns["screenshot"][0]
    images = table.dataset.select_columns([column])
    screenshots: dict[str, ImageInput] = {}
    seen: dict[str, int] = {}
    found: list[WebSRCHubQuestion] = []
    for index in sorted(range(len(keys)), key=lambda i: keys[i][0]):
        page, site, key = keys[index]
        if page not in screenshots:
            screenshots[page] = ImageInput(
                key=key,
                opener=lambda first=index: decode_screenshot(images[first][column]),
                origin=f"{table.describe()} row {index}",
            )
        question, answer = questions[index], answers[index]
        if question is None or answer is None:
            raise DataError(f"{table.describe()} row {index}: empty question or answer")
        qid = question_id(page, question)
        seen[qid] = seen.get(qid, 0) + 1
        found.append(
            WebSRCHubQuestion(
                id=qid if seen[qid] == 1 else f"{qid}-{seen[qid]}",
                question=question,
                answer=answer,
                is_yes_no=answer in _YES_NO,
                page_id=page,
                domain=domains[index],
                site=site,
                screenshot=screenshots[page],
            )
        )
    return sorted(found, key=lambda question: question.id)
