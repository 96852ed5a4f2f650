"""Test ImageInputs made from the generators' tiny pictures (kosmos_eval/generators/pictures.py `make_image`)."""

from __future__ import annotations

from kosmos_eval.core.types import ImageInput
from kosmos_eval.generators.pictures import make_image


def image_input(index: int) -> ImageInput:
    return ImageInput.from_pil(f"test-image-{index}", make_image(index))
