"""Tiny distinct test images made with Pillow."""

from __future__ import annotations

from PIL import Image, ImageDraw

from kosmos_eval.core.types import ImageInput


def make_image(index: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    image = Image.new("RGB", size, ((index * 53) % 256, (index * 97) % 256, (index * 31) % 256))
    draw = ImageDraw.Draw(image)
    draw.ellipse((5 + index % 7, 4, 30, 20 + index % 11), fill=(255 - index * 20 % 256, 30, 200))
    return image


def image_input(index: int) -> ImageInput:
    return ImageInput.from_pil(f"test-image-{index}", make_image(index))
