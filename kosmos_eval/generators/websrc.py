"""The bundled WebSRC sample: three small synthetic websites in the WebSRC v1.0 release layout.

Each page is a tree of elements written here (a book page, a job listing, a camera product page), laid out
by a tiny block/row flow, drawn with the bitmap font, and serialised three ways from the same tree, as the
release does: cleaned HTML with a `tid` on every tag, per-tag boxes in screenshot pixels, and the
screenshot itself. Answers are taken from the element that holds them, so `element_id` and `answer_start`
point at real text and the page text the task extracts from the HTML always contains a span answer.

Sites: book/01 and jobs/01 are the dev split (10 questions, 4 of them yes/no), camera/01 is train.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageDraw, ImageFont

from kosmos_eval.generators.pictures import save_png, wrap
from kosmos_eval.generators.samples import sample_writer

CHAR, LINE, PAD, SCALE, PAGE_WIDTH = 6, 12, 3, 2, 240  # layout at 1x, screenshot at SCALE x
INKS = {"text": (34, 34, 34), "muted": (110, 110, 120), "link": (30, 80, 190), "price": (180, 30, 40)}
FONT = "22px / 24px monospace"  # what the bitmap font scaled by 2 amounts to, in the release's CSS form
# site folder -> the dataset.csv column order of that site (the release's files differ; readers go by header)
COLUMN_ORDERS = {
    ("book", "01"): ("question", "id", "element_id", "answer_start", "answer"),
    ("jobs", "01"): ("id", "question", "answer", "element_id", "answer_start"),
    ("camera", "01"): ("question", "answer", "element_id", "answer_start", "id"),
}
SPLITS = {"dev": ["bo01", "jo01"], "test": [], "train": ["ca01"]}
# span questions asked per page (each page also gets one yes/no question): 5 per dev site, 8 on the train site
SPANS_PER_PAGE = {("book", "01"): (2, 1), ("jobs", "01"): (2, 1), ("camera", "01"): (3, 3)}


@dataclass
class Node:
    """One tag: a leaf with text, or a container whose children stack (or sit side by side when `row`)."""

    tag: str
    text: str = ""
    cls: str = ""
    children: list[Node] = field(default_factory=list)
    row: bool = False
    ink: str = "text"
    fill: tuple[int, int, int] | None = None
    tid: int = -1
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # x, y, width, height at 1x
    lines: list[str] = field(default_factory=list)

    def walk(self) -> list[Node]:
        return [self] + [n for child in self.children for n in child.walk()]


@dataclass(frozen=True)
class Question:
    text: str
    node: Node | None  # the element holding the answer; None for a yes/no question
    answer: str


def leaf(tag: str, text: str, cls: str = "", ink: str = "text") -> Node:
    return Node(tag, text=text, cls=cls, ink=ink)


def table(rows: list[tuple[str, str]]) -> tuple[Node, dict[str, Node]]:
    """A two-column spec table; returns it and each label's value cell (the nodes answers point at)."""
    cells = {label: leaf("td", value, "value") for label, value in rows}
    trs = [Node("tr", row=True, children=[leaf("td", label, "label", "muted"), cells[label]]) for label, _ in rows]
    return Node("table", cls="details", children=[Node("tbody", children=trs)]), cells


def nav(site: str, links: list[str]) -> Node:
    items = [leaf("a", name, ink="link") for name in links]
    return Node(
        "div", cls="header", fill=(232, 238, 246), children=[leaf("h2", site), Node("div", row=True, children=items)]
    )


def yes_no(rng: random.Random, truth: bool, true_q: str, false_qs: list[str]) -> Question:
    return Question(true_q if truth else rng.choice(false_qs), None, "yes" if truth else "no")


# --- the three sites ------------------------------------------------------------------------------------------


class Page(NamedTuple):
    """What a page builder makes: the .txt lines, the body's children, and the questions it can answer."""

    title: str
    url: str
    body: list[Node]
    spans: list[Question]
    yes_no: Question


ADJECTIVES = ("Quiet", "Silver", "Hidden", "Northern", "Patient", "Little", "Paper", "Winter")
NOUNS = ("Harbour", "Orchard", "Lantern", "Meadow", "Clockmaker", "Garden", "Lighthouse", "Kettle")
FIRST = ("Anna", "Tomas", "Mira", "Owen", "Lena", "Felix", "Priya", "Jonah", "Ada", "Ravi")
LAST = ("Hale", "Okafor", "Lindqvist", "Moreau", "Brandt", "Castell", "Ferro", "Whitlock")
PUBLISHERS = ("Lantern Hill Press", "Bluebird House", "Cedar Lane Books", "Northlight Publishing")
FORMATS = ("Paperback", "Hardcover", "Audiobook")


def book_page(rng: random.Random, index: int, yes: bool) -> Page:
    title = f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    author, publisher, fmt = f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(PUBLISHERS), rng.choice(FORMATS)
    date = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1995, 2023)}"
    pages, price = str(rng.randint(120, 640)), f"${rng.randint(8, 29)}.{rng.choice(('49', '95', '99'))}"
    byline = leaf("div", f"by {author}", "byline")
    price_node = leaf("div", price, "price", "price")
    details, cell = table([("Publisher", publisher), ("Publication date", date), ("Pages", pages), ("Format", fmt)])
    mood, subject = rng.choice(("gentle", "funny", "moving")), rng.choice(NOUNS).lower()
    blurb = f"A {mood} story about a {subject} and the town around it."
    body = [
        nav("Pageturn Books", ["Home", "Books", "Deals", "Help"]),
        Node("div", cls="product", children=[leaf("h1", title), byline, price_node, details, leaf("p", blurb)]),
        leaf("div", "Free delivery on orders over $25", "footer", "muted"),
    ]
    spans = [
        Question(f"Who is the author of {title}?", byline, author),
        Question(f"Which company published {title}?", cell["Publisher"], publisher),
        Question(f"What is the publication date of {title}?", cell["Publication date"], date),
        Question(f"How many pages does {title} have?", cell["Pages"], pages),
        Question("How much does this book cost?", price_node, price),
    ]
    other = [f for f in FORMATS if f != fmt]
    question = yes_no(rng, yes, f"Is {title} a {fmt.lower()}?", [f"Is {title} a {f.lower()}?" for f in other])
    slug = title.lower().replace(" ", "-")
    return Page(
        f"{title} by {author} | Pageturn Books", f"https://www.pageturn.example/book/{slug}", body, spans, question
    )


JOBS = ("Bakery Assistant", "Warehouse Associate", "Junior Data Analyst", "Library Technician", "Bicycle Mechanic")
COMPANIES = ("Bramblewood Foods", "Tidewater Logistics", "Quillfeather Analytics", "Spokes and Sprockets")
TOWNS = ("Maple Falls", "Riverton", "Oakridge", "Port Ellis", "Greenvale")
JOB_TYPES = ("Full-time", "Part-time", "Contract")


def job_page(rng: random.Random, index: int, yes: bool) -> Page:
    title, company, town = rng.choice(JOBS), rng.choice(COMPANIES), rng.choice(TOWNS)
    salary, kind = f"${rng.randint(28, 75)},000 a year", rng.choice(JOB_TYPES)
    experience, remote = f"{rng.randint(2, 6)} years", rng.choice(("Yes", "No"))
    company_node = leaf("div", company, "company", "link")
    location = leaf("div", f"Location: {town}", "location")
    details, cell = table([("Salary", salary), ("Job type", kind), ("Experience", experience), ("Remote", remote)])
    duties = f"You will help our team with daily {rng.choice(('orders', 'repairs', 'reports', 'deliveries'))}."
    body = [
        nav("Jobhop", ["Find jobs", "Companies", "Post a job"]),
        Node("div", cls="listing", children=[leaf("h1", title), company_node, location, details, leaf("p", duties)]),
        leaf("a", "Apply now", "apply", "link"),
    ]
    spans = [
        Question("What is the salary for this job?", cell["Salary"], salary),
        Question(f"Which company is hiring a {title}?", company_node, company),
        Question("Where is this job located?", location, town),
        Question(f"How much experience does the {title} job require?", cell["Experience"], experience),
    ]
    if index == 1:
        other = [k for k in JOB_TYPES if k != kind]
        question = yes_no(rng, yes, f"Is this a {kind.lower()} job?", [f"Is this a {k.lower()} job?" for k in other])
    else:
        claims = {"Yes": "Can this job be done remotely?", "No": "Is this job on site only?"}
        true_claim, false_claim = claims[remote], claims["No" if remote == "Yes" else "Yes"]
        question = Question(true_claim if yes else false_claim, None, "yes" if yes else "no")
    return Page(f"{title} - {company} | Jobhop", f"https://jobs.jobhop.example/view/{index:04d}", body, spans, question)


BRANDS = ("Lumo", "Arkel", "Vistar", "Pixona")
CAMERAS = ("Compact Camera", "Mirrorless Camera", "Action Camera")
COLOURS = ("Black", "Silver", "Blue", "Red")


def camera_page(rng: random.Random, index: int, yes: bool) -> Page:
    brand = rng.choice(BRANDS)
    name = f"{brand} {rng.choice('ZXR')}{rng.randint(10, 90)} {rng.choice(CAMERAS)}"
    price, colour = f"${rng.randint(149, 899)}.00", rng.choice(COLOURS)
    resolution, weight = f"{rng.choice((12, 20, 24, 33))} MP", f"{rng.randint(120, 650)} g"
    price_node = leaf("div", price, "price", "price")
    brand_node = leaf("div", f"Brand: {brand}", "brand", "link")
    details, cell = table([("Resolution", resolution), ("Weight", weight), ("Colour", colour)])
    body = [
        nav("Shutterbox", ["Cameras", "Lenses", "Sale", "Cart"]),
        Node("div", cls="item", children=[leaf("h1", name), brand_node, price_node, details]),
        leaf("p", rng.choice(("In stock", "Only 3 left")), "stock", "muted"),
    ]
    spans = [
        Question(f"What is the price of the {name}?", price_node, price),
        Question(f"How heavy is the {name}?", cell["Weight"], weight),
        Question("What is the resolution of this camera?", cell["Resolution"], resolution),
        Question(f"Who makes the {name}?", brand_node, brand),
    ]
    other = [c for c in COLOURS if c != colour]
    question = yes_no(rng, yes, f"Is the {name} {colour.lower()}?", [f"Is the {name} {c.lower()}?" for c in other])
    return Page(f"{name} | Shutterbox", f"https://shop.shutterbox.example/p/{index:05d}", body, spans, question)


SITES: dict[tuple[str, str], Callable[[random.Random, int, bool], Page]] = {
    ("book", "01"): book_page,
    ("jobs", "01"): job_page,
    ("camera", "01"): camera_page,
}


# --- layout, drawing and the three serialisations ------------------------------------------------------------


def layout(node: Node, x: int, y: int, width: int) -> int:
    """Place `node` at (x, y) with `width` (1x pixels) and return its height; text wraps to the width."""
    if node.text:
        node.lines = wrap(node.text, max(1, (width - 2) // CHAR))
        height = LINE * len(node.lines) + 2
    elif node.row:
        column = width // len(node.children)
        height = max(layout(child, x + i * column, y, column) for i, child in enumerate(node.children))
    else:
        pad = PAD if node.fill or node.tag == "body" else 0
        cursor = y + pad
        for child in node.children:
            cursor += layout(child, x + pad, cursor, width - 2 * pad)
        height = cursor - y + pad
    node.box = (x, y, width, height)
    return height


def screenshot(body: Node) -> Image.Image:
    """Drawn at 1x with the bitmap font, then scaled up (nearest) like pictures.text_card: exact pixels."""
    font = ImageFont.load_default_imagefont()
    small = Image.new("RGBA", (PAGE_WIDTH, body.box[3]), (255, 255, 255, 255))
    draw = ImageDraw.Draw(small)
    for node in body.walk():
        x, y, w, h = node.box
        if node.fill:
            draw.rectangle((x, y, x + w - 1, y + h - 1), fill=node.fill)
        for i, line in enumerate(node.lines):
            draw.text((x + 1, y + 1 + i * LINE), line, fill=INKS[node.ink], font=font)
    return small.resize((small.width * SCALE, small.height * SCALE), Image.Resampling.NEAREST)


def html_of(node: Node) -> str:
    """The release's cleaned HTML: class kept, a tid on every tag, one space around every text and tag."""
    attrs = (f' class="{node.cls}"' if node.cls else "") + f' tid="{node.tid}"'
    inner = escape(node.text, quote=False) if node.text else " ".join(html_of(c) for c in node.children)
    return f"<{node.tag}{attrs}> {inner} </{node.tag}>"


def boxes_of(body: Node) -> dict[str, dict]:
    """tid -> {"rect": ...} in screenshot pixels (text elements add font and colour), html and body left out
    as in the release."""
    found: dict[str, dict] = {}
    for node in body.walk()[1:]:
        x, y, w, h = (value * SCALE for value in node.box)
        entry: dict = {"rect": {"height": h, "width": w, "x": x, "y": y}}
        if node.text:
            r, g, b = INKS[node.ink]
            entry.update(font=FONT, color=f"rgba({r}, {g}, {b}, 1)")
        found[str(node.tid)] = entry
    return found


def write_page(folder: Path, page_id: str, page: Page) -> None:
    """Write <page_id>.{html,json,png,txt}: one element tree, serialised three ways, plus title and URL."""
    body = Node("body", children=page.body)
    root = Node("html", children=[body])
    for tid, node in enumerate(root.walk()):
        node.tid = tid
    layout(body, 0, 0, PAGE_WIDTH)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{page_id}.html").write_text(html_of(root), encoding="utf-8")
    (folder / f"{page_id}.json").write_text(json.dumps(boxes_of(body)), encoding="utf-8")
    (folder / f"{page_id}.txt").write_text(f"{page.title}\n{page.url}\n", encoding="utf-8")
    save_png(screenshot(body), folder / f"{page_id}.png")


def csv_row(qid: str, question: Question) -> dict[str, str]:
    """A span answer names its element and its offset in that element's text; yes/no is -1 and 1 or 0."""
    if question.node is None:
        element, start = -1, int(question.answer == "yes")
    else:
        element, start = question.node.tid, question.node.text.index(question.answer)
    fields = (question.text, qid, str(element), str(start), question.answer)
    return dict(zip(("question", "id", "element_id", "answer_start", "answer"), fields, strict=True))


@sample_writer("websrc")
def write_websrc_sample(task: str, folder: Path) -> None:
    """Three sites of two pages each; the yes/no answer alternates page by page so both occur in each split."""
    rng = random.Random(f"sample-{task}")
    page_number = 0
    for (domain, site), build in SITES.items():
        rows: list[dict[str, str]] = []
        for page, span_count in enumerate(SPANS_PER_PAGE[(domain, site)], start=1):
            page_id = f"{site}{page:05d}"
            page_number += 1
            made = build(rng, page, page_number % 2 == 1)
            write_page(folder / domain / site / "processed_data", page_id, made)
            for question in [*rng.sample(made.spans, span_count), made.yes_no]:
                rows.append(csv_row(f"{domain[:2]}{page_id}{len(rows):05d}", question))
        handle = io.StringIO()
        writer = csv.DictWriter(handle, fieldnames=COLUMN_ORDERS[(domain, site)], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (folder / domain / site / "dataset.csv").write_text(handle.getvalue(), encoding="utf-8")
    (folder / "dataset_split_release.json").write_text(json.dumps(SPLITS), encoding="utf-8")
    (folder / "dataset_split.json").write_text(json.dumps({"dev": SPLITS["dev"], "test": []}), encoding="utf-8")
