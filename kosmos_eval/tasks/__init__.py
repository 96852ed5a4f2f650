"""Task modules. Importing this package registers every task."""

from kosmos_eval.tasks import (  # noqa: F401
    captioning,
    commonsense,
    described,
    imagenet,
    language,
    ocr_free,
    raven,
    vqa,
    websrc,
)
