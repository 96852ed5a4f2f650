"""Task modules. Importing this package registers every task."""

from kosmos_eval.tasks import captioning, commonsense, language, raven, vqa, websrc  # noqa: F401
