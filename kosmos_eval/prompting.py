"""Prompt templates as data: prompts/<task>.yaml -> Context.

A layout is a list of parts, each one of
  {text: "... {field} ..."}   text, formatted from the example's fields
  {image: name}               one image of the example
  {images: name}              a list of images of the example, fed one by one
The file's hash goes into the run identity, so editing a template starts a new run instead of silently
mixing prompts inside one results folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kosmos_eval.core.types import Context, ImageInput, Segment
from kosmos_eval.errors import UserError


@dataclass(frozen=True)
class PromptTemplate:
    task: str
    data: dict[str, Any]
    sha256: str

    def layout(self, name: str) -> list[dict[str, str]]:
        if name not in self.data:
            raise UserError(f"prompts/{self.task}.yaml has no layout {name!r}")
        return self.data[name]

    def render(
        self,
        layout: str,
        fields: Mapping[str, Any],
        images: Mapping[str, ImageInput | Sequence[ImageInput]],
    ) -> Context:
        segments: list[Segment] = []
        for part in self.layout(layout):
            if "text" in part:
                try:
                    segments.append(part["text"].format_map(fields))
                except KeyError as exc:
                    raise UserError(
                        f"prompts/{self.task}.yaml: layout {layout!r} uses field {exc.args[0]!r}, "
                        f"which the example does not have (fields: {', '.join(sorted(fields))})"
                    ) from None
            elif "image" in part:
                image = images[part["image"]]
                if not isinstance(image, ImageInput):
                    raise UserError(f"prompts/{self.task}.yaml: {part['image']!r} is a list; use 'images:'")
                segments.append(image)
            elif "images" in part:
                segments.extend(images[part["images"]])  # type: ignore[arg-type]
            else:
                raise UserError(f"prompts/{self.task}.yaml: part {part!r} is not text, image or images")
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
