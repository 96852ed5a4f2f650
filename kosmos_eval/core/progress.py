"""Progress lines: what a long phase is doing, shown by default, told apart from warnings.

A newcomer should see a line for anything that takes more than a couple of seconds (the model loading and
from where, a retry and why, a resume and how much is done, run i of N). Logged at `NOTICE`, between INFO
(hidden unless --debug) and WARNING (something is wrong): the CLI shows NOTICE records as bare lines, so a
progress line never reads as a warning.
"""

from __future__ import annotations

import logging
from typing import Any

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")


def notice(log: logging.Logger, message: str, *args: Any) -> None:
    """Log a progress line (shown by default, without a level name)."""
    log.log(NOTICE, message, *args)


class ConsoleFormatter(logging.Formatter):
    """NOTICE records as the message alone; every other level with its level name, as before."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno == NOTICE:
            return record.getMessage()
        return super().format(record)
