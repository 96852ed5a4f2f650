"""Task modules. Importing this package registers every task."""

from kosmos_eval.tasks import raven, websrc  # noqa: F401
