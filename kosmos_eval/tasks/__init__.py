"""Task modules. Importing this package registers every built-in task, then lets the registry read the user
tasks of $KOSMOS_EVAL_TASKS whenever it is consulted (tasks/user_tasks.py): after the built-ins, so a user task
can never take a built-in name."""

from kosmos_eval.core.registry import TASKS
from kosmos_eval.tasks import (  # noqa: F401
    captioning,
    commonsense,
    described,
    imagenet,
    language,
    ocr_free,
    raven,
    user_tasks,
    vqa,
    websrc,
)

TASKS.refresh_with(user_tasks.sync_environment)
