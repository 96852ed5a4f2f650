"""Prompt templates as data: prompts/<task>.yaml -> Context.

A layout is a list of parts, each one of
  {text: "... {field} ..."}   text, formatted from the example's fields
  {image: name}               one image of the example
  {images: name}              a list of images of the example, fed one by one
The file's hash goes into the run identity, so editing a template starts a new run instead of silently
mixing prompts inside one results folder.

A user's task (kosmos_eval/tasks/user_tasks.py) carries its template inside its own YAML file, outside the
package: it builds the `PromptTemplate` itself and names that file in `source`, so every error about the
template points at the file the user wrote, not at a prompts/ file that does not exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kosmos_eval.core.types import Context, ImageInput, Segment
from kosmos_eval.errors import UserError

# what a template's decoding block may set; beam search's other rules are transformers' defaults (docs/models.md)
DECODING_FIELDS = {"num_beams": int, "max_new_tokens": int, "stop": list}
PART_KINDS = ("text", "image", "images")


@dataclass(frozen=True)
class PromptTemplate:
    task: str
    data: dict[str, Any]
    sha256: str
    source: str | None = None  # the file holding the template when it is not prompts/<task>.yaml

    @property
    def where(self) -> str:
        """The template's file, as error messages name it."""
        return self.source or f"prompts/{self.task}.yaml"

    def validate(self, keys: Collection[str]) -> None:
        """The template holds exactly what its task reads (`keys`, besides `task` and `source`): an unknown key
        is a typo or a setting nothing reads, so it is an error, and so is a missing one. Layouts must be lists
        of text / image / images parts; a `*decoding` block may only set num_beams, max_new_tokens (positive
        integers) and stop (strings)."""
        where = self.where
        present = set(self.data) - {"task", "source"}
        unknown, missing = sorted(present - set(keys)), sorted(set(keys) - present)
        if unknown:
            raise UserError(f"{where}: unknown key {unknown[0]!r} (the {self.task} task reads: {', '.join(keys)})")
        if missing:
            raise UserError(f"{where}: key {missing[0]!r} is missing (the {self.task} task reads: {', '.join(keys)})")
        for key, value in self.data.items():
            if key.endswith("decoding"):
                self._check_decoding(where, key, value)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for number, part in enumerate(value, start=1):
                    if not (isinstance(part, dict) and len(part) == 1 and next(iter(part)) in PART_KINDS):
                        raise UserError(f"{where}: {key} part {number} must be one of {', '.join(PART_KINDS)}")

    @staticmethod
    def _check_decoding(where: str, key: str, block: Any) -> None:
        if not isinstance(block, dict):
            raise UserError(f"{where}: {key} must be a mapping of decoding settings")
        for name, value in block.items():
            kind = DECODING_FIELDS.get(name)
            if kind is None:
                raise UserError(f"{where}: {key}.{name} is not a decoding setting ({', '.join(DECODING_FIELDS)})")
            if not isinstance(value, kind) or isinstance(value, bool):
                raise UserError(f"{where}: {key}.{name} has the wrong type ({type(value).__name__})")
            if name in ("num_beams", "max_new_tokens") and value < 1:
                raise UserError(f"{where}: {key}.{name} must be at least 1")
            if name == "stop" and not all(isinstance(s, str) for s in value):
                raise UserError(f"{where}: {key}.stop must be a list of strings")

    def layout(self, name: str) -> list[dict[str, str]]:
        if name not in self.data:
            raise UserError(f"{self.where} has no layout {name!r}")
        return self.data[name]

    def render(
        self,
        layout: str,
        fields: Mapping[str, Any],
        images: Mapping[str, tuple[ImageInput, ...]],
    ) -> Context:
        """The layout's parts in order: text formatted from `fields`, images by name from `images` (an
        Example's: a tuple per name; `image:` takes a name holding exactly one)."""
        segments: list[Segment] = []
        for part in self.layout(layout):
            if "text" in part:
                try:
                    segments.append(part["text"].format_map(fields))
                except KeyError as exc:
                    raise UserError(
                        f"{self.where}: layout {layout!r} uses field {exc.args[0]!r}, "
                        f"which the example does not have (fields: {', '.join(sorted(fields))})"
                    ) from None
            elif "image" in part:
                named = images[part["image"]]
                if len(named) != 1:
                    raise UserError(f"{self.where}: {part['image']!r} is a list; use 'images:'")
                segments.append(named[0])
            elif "images" in part:
                segments.extend(images[part["images"]])
            else:
                raise UserError(f"{self.where}: part {part!r} is not text, image or images")
        return Context(tuple(segments))


@cache
def load_prompt(task: str) -> PromptTemplate:
    """Read prompts/<task>.yaml from the installed package (kosmos_eval.prompts)."""
    try:
        raw = resources.files("kosmos_eval.prompts").joinpath(f"{task}.yaml").read_bytes()
    except FileNotFoundError:
        raise UserError(f"No prompt template prompts/{task}.yaml is installed") from None
    data = yaml.safe_load(raw)
    if not isinstance(data, dict):
        raise UserError(f"prompts/{task}.yaml must be a mapping")
    return PromptTemplate(task=task, data=data, sha256=hashlib.sha256(raw).hexdigest())
