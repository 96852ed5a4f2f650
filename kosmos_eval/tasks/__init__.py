"""Task modules. Each registers its tasks with `@register_task`; the registry (core/registry.py, TASKS) imports
them on its first lookup, and reads the user tasks of $KOSMOS_EVAL_TASKS before every lookup
(tasks/user_tasks.py), after the built-ins, so a user task can never take a built-in name. Importing this
package therefore does nothing by itself."""
