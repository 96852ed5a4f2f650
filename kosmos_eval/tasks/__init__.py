"""Task modules. Importing this package registers every task."""

from kosmos_eval.tasks import raven  # noqa: F401
