"""Errors a user can act on.

Anything raised as a `UserError` is printed by the CLI as one line (no traceback unless `--debug`) and
turns into a non-zero exit. The message must say what is wrong, where (file, field), and what to do.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment, reported as one actionable line."""

    exit_code = 2


class DataError(UserError):
    """Missing, corrupt or malformed data files."""


class ModelUnavailableError(UserError):
    """Model weights that cannot be loaded here (offline and not cached, wrong path, ...)."""


class BackendOutOfMemory(RuntimeError):
    """Raised by a backend when a batch does not fit; the runner splits the batch and retries."""
