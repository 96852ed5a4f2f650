"""Task modules. Importing this package registers every task."""

from kosmos_eval.tasks import captioning, raven, vqa, websrc  # noqa: F401
