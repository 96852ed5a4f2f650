"""What each `--task-option` of a task takes and what it is when not given, for `kosmos-eval list`.

Read off a task built with no options: its option reader records, for every key it reads, the allowed words
(or N / X for a number) and the default, so the list shows exactly what a run would accept and use. Options a
task reads only later (a hub id, a names file) are plain text with no default; a help text that lists its
values as `a | b` supplies them where the reader has not seen the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kosmos_eval.core.options import allowed_values

if TYPE_CHECKING:
    from kosmos_eval.tasks.base import Task


@dataclass(frozen=True)
class OptionInfo:
    key: str
    values: tuple[str, ...]  # the allowed words, or one placeholder: N (whole number), X (number), TEXT
    default: str | None  # None: nothing is used unless the option is given
    help: str

    def short(self) -> str:
        """`decoding: constrained_beam | free | rank (default constrained_beam)`, `max_new_tokens: N (default 10)`."""
        default = f" (default {self.default})" if self.default is not None else ""
        return f"{self.key}: {' | '.join(self.values)}{default}"


def option_infos(task: Task) -> list[OptionInfo]:
    """Every option `task` (built without options) accepts, in the order its help lists them."""
    for block in task.decoding_blocks():  # the length options are read when decoding is: read them now
        task.decoding(block)
    reader = task.option_reader
    infos = []
    for key, text in task.all_options().items():
        values = reader.allowed.get(key) or tuple(allowed_values(text)) or ("TEXT",)
        infos.append(OptionInfo(key, values, reader.defaults.get(key), text))
    return infos
