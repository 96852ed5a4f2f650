"""The few data types every part of the harness speaks.

* `ImageInput`   one image, opened lazily, with a stable `key` (used for caching, hashing and rendering).
* `Context`      an interleaved sequence of text and images: the one prompt form every backend accepts.
* `RankRequest`  context + continuations -> summed log-probability and token count per continuation.
* `GenerateRequest` context -> generated text.
* `Example`      one evaluation item as read from disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from kosmos_eval.errors import DataError


@dataclass(frozen=True)
class DataStatus:
    """Whether a task's data is where a run would look (for `kosmos-eval list` and early, clear failures)."""

    found: bool
    where: str  # a path, "bundled sample", or what is missing and how to get it


@dataclass(frozen=True, slots=True)  # slots: a 100k-example split holds 100k of these
class ImageInput:
    """An image that is opened only when a backend needs its pixels.

    `key` identifies the image's content source (a file path, or "file.npz#panel3"); two inputs with the
    same key are the same image, so backends may encode it once. `opener` returns a PIL image.
    """

    key: str
    opener: Callable[[], Image.Image] = field(compare=False, repr=False)
    origin: str | None = field(default=None, compare=False)  # full path, for error messages
    file: str | None = field(default=None, compare=False)  # the image file, when it is one: checked before a run

    def load(self) -> Image.Image:
        """Open the image as RGB, turning any decoding problem into a DataError naming the source."""
        where = self.origin or self.key
        try:
            image = self.opener()
            image.load()
        except DataError:
            raise
        except FileNotFoundError as exc:
            raise DataError(f"{where}: image file not found") from exc
        except Exception as exc:  # Pillow raises many types for corrupt files
            raise DataError(f"{where}: cannot read image ({exc.__class__.__name__}: {exc})") from exc
        return image.convert("RGB")

    @staticmethod
    def from_path(path: str | Path, key: str | None = None) -> ImageInput:
        """`key` should be the path relative to the data folder, so records and seeded draws are the same on
        every machine; the full path is kept for opening and for error messages."""
        full = str(path)  # one string for opening, messages and the presence check (100k examples keep it)
        return ImageInput(key=key or full, opener=lambda: Image.open(full), origin=full, file=full)

    @staticmethod
    def from_pil(key: str, image: Image.Image) -> ImageInput:
        return ImageInput(key=key, opener=lambda: image.copy())


Segment = str | ImageInput


@dataclass(frozen=True)
class Context:
    """Text and images in reading order. Adjacent text segments are kept apart on purpose: each text
    segment is tokenized on its own, exactly as the templates in prompts/ lay the prompt out."""

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        for segment in self.segments:
            if not isinstance(segment, (str, ImageInput)):
                raise TypeError(f"Context segments must be str or ImageInput, got {type(segment).__name__}")

    @property
    def images(self) -> list[ImageInput]:
        return [s for s in self.segments if isinstance(s, ImageInput)]

    @property
    def text(self) -> str:
        return "".join(s for s in self.segments if isinstance(s, str))

    def render(self, image_placeholder: Callable[[int, ImageInput], str] | None = None) -> str:
        """The prompt as text with a placeholder per image: what goes into sample records and snapshots."""
        placeholder = image_placeholder or (lambda i, _img: f"<image{i}>")
        parts: list[str] = []
        index = 0
        for segment in self.segments:
            if isinstance(segment, str):
                parts.append(segment)
            else:
                index += 1
                parts.append(placeholder(index, segment))
        return "".join(parts)

    def content_key(self) -> str:
        """A stable digest of text and image keys (the seed of the chance backend, cache keys)."""
        digest = hashlib.sha256()
        for segment in self.segments:
            tag = "T" if isinstance(segment, str) else "I"
            value = segment if isinstance(segment, str) else segment.key
            digest.update(f"{tag}{len(value)}:{value}".encode())
        return digest.hexdigest()

    def __add__(self, other: Context) -> Context:
        return Context(self.segments + other.segments)

    @staticmethod
    def of(*segments: Segment | Iterable[Segment]) -> Context:
        flat: list[Segment] = []
        for segment in segments:
            if isinstance(segment, (str, ImageInput)):
                flat.append(segment)
            else:
                flat.extend(segment)
        return Context(tuple(flat))


@dataclass(frozen=True)
class RankRequest:
    """Score each continuation after the shared context.

    `end_of_sequence`: each continuation is scored up to and including the end-of-sequence token after it
    (counted in `num_tokens`), so a candidate must end where it ends: without it, a name that starts another
    ("tiger" in "tiger shark") can never score below the longer one."""

    context: Context
    continuations: tuple[str, ...]
    end_of_sequence: bool = False


@dataclass(frozen=True)
class RankResult:
    """Summed log-probabilities (natural log) and token counts, one per continuation.

    Length normalisation is a scoring choice made by tasks, never by backends. `is_greedy[i]` says whether
    greedy decoding from the context would have produced continuation i token by token.
    """

    logprobs: tuple[float, ...]
    num_tokens: tuple[int, ...]
    is_greedy: tuple[bool, ...]


@dataclass(frozen=True)
class GenerateRequest:
    """Generate text after the context.

    `stop` strings cut the output at their first occurrence (the end-of-sequence token always stops).
    `candidates` is only a hint for backends that cannot read (the chance baseline picks one of them), unless
    `constrained` is set: then the output must be one of them, found by beam search (`num_beams` wide) inside
    the prefix tree of their tokens (each written as a continuation of the context, as ranking does), and
    returned stripped; with `end_of_sequence` every candidate also ends with the end-of-sequence token, as in
    RankRequest. `max_new_tokens` and `stop` do not apply to constrained requests.

    `length_penalty` (beam search only, transformers' meaning) decides how finished hypotheses of different
    lengths compare: a beam's summed log-probability is divided by its length ** length_penalty, so above 1.0
    favours longer answers and 0.0 compares raw sums. None leaves the backend's generation config's value (1.0
    under the protocol's decoding), so that only a value a run asks for (`--gen-kwargs`) overrides a
    checkpoint's.
    """

    context: Context
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ()
    num_beams: int = 1
    candidates: tuple[str, ...] = ()
    constrained: bool = False
    end_of_sequence: bool = False
    length_penalty: float | None = None

    def __post_init__(self) -> None:
        if self.constrained and not self.candidates:
            raise ValueError("a constrained GenerateRequest needs candidates")


Request = RankRequest | GenerateRequest


@dataclass(frozen=True, slots=True)
class Example:
    """One evaluation item. `fields` holds the task-specific data (question, answers, label, ...).

    `images` maps each image name a template uses to its images in order, always a tuple: a single image is a
    1-tuple (`image(name)` takes it out), Raven's panels are eight. One type, so every reader (templates, the
    presence and verify checks, RICES) handles every example the same way without asking which kind it got."""

    id: str
    images: dict[str, tuple[ImageInput, ...]] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.images.items():
            if type(value) is not tuple:  # a bare image or a list would read as another shape downstream
                raise TypeError(f"Example {self.id}: images[{name!r}] must be a tuple, got {type(value).__name__}")

    def image(self, name: str) -> ImageInput:
        """The one image under `name`; KeyError where there is none by that name, ValueError where it holds
        several (or none)."""
        images = self.images[name]
        if len(images) != 1:
            raise ValueError(f"Example {self.id}: images[{name!r}] holds {len(images)} images, not one")
        return images[0]
