"""Typed reading of the `key=value` strings users pass as `--task-option` and `--model-args`.

One reader for both, so every true/false option takes the same spellings, a number is checked the same way
everywhere, and a bad value always fails with one line naming the flag, the key, the value given and what
was expected (`--model-args packing='maybe': expected true or false`). Before it, tasks and the two
backends had five parsers between them that disagreed on "yes" and on what a bad number said.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NoReturn

from kosmos_eval.errors import UserError

TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


class OptionReader:
    """Reads typed values out of the options given with one flag (`flag` names it in errors). Every reader
    takes the value's default, which is used when the key is absent; `defaults` collects the defaults and
    `canonical` each given value in one spelling (`yes` -> `true`, `08` -> `8`), so a caller can tell which
    given values equal their default (a task's run identity leaves those out)."""

    def __init__(self, values: Mapping[str, str], flag: str) -> None:
        self.values = values
        self.flag = flag
        self.defaults: dict[str, str] = {}
        self.canonical: dict[str, str] = {}
        # what each key read so far takes: its allowed words, or a placeholder (N, X) for a number
        self.allowed: dict[str, tuple[str, ...]] = {}

    def _fail(self, key: str, value: str, expected: str) -> NoReturn:
        raise UserError(f"{self.flag} {key}={value!r}: expected {expected}")

    def text(self, key: str, default: str | None = None) -> str | None:
        """The value as given (paths, hub ids), or `default`."""
        if default is not None:
            self.defaults[key] = default
        return self.values.get(key, default)

    def flag_value(self, key: str, default: bool) -> bool:
        """true/false, also spelt 1/0 and yes/no, in any case."""
        self.defaults[key] = str(default).lower()
        self.allowed[key] = ("true", "false")
        value = self.values.get(key)
        if value is None:
            return default
        if value.lower() not in TRUE_WORDS + FALSE_WORDS:
            self._fail(key, value, "true or false")
        parsed = value.lower() in TRUE_WORDS
        self.canonical[key] = str(parsed).lower()
        return parsed

    def choice(self, key: str, allowed: Sequence[str], default: str | None = None) -> str:
        """One of `allowed` (case-sensitive: the words are identifiers); the default is `default`, else the
        first allowed value."""
        chosen = allowed[0] if default is None else default
        self.defaults[key] = chosen
        self.allowed[key] = tuple(allowed)
        value = self.values.get(key, chosen)
        if value not in allowed:
            self._fail(key, value, f"one of {', '.join(allowed)}")
        return value

    def integer(self, key: str, default: int, minimum: int = 1) -> int:
        """A whole number of at least `minimum` (no sign, no decimal point), or `default` when absent."""
        self.defaults[key] = str(default)
        found = self.optional_integer(key, minimum)
        return default if found is None else found

    def optional_integer(self, key: str, minimum: int = 1) -> int | None:
        """As `integer`, for a setting that has no default (None when absent)."""
        self.allowed[key] = ("N",)
        value = self.values.get(key)
        if value is None:
            return None
        if not value.isascii() or not value.isdigit() or int(value) < minimum:
            self._fail(key, value, "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}")
        self.canonical[key] = str(int(value))
        return int(value)

    def number(self, key: str, default: float, minimum: float) -> float:
        """A finite number of at least `minimum`, or `default` when absent."""
        self.defaults[key] = f"{default:g}"
        self.allowed[key] = ("X",)
        value = self.values.get(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < minimum:
            self._fail(key, value, f"a number of at least {minimum:g}")
        self.canonical[key] = f"{number:g}"
        return number


def allowed_values(help_text: str) -> list[str]:
    """The values a key's help lists as `a | b | c` (each may carry its own note: `protocol (default...) |
    checkpoint (...)`), or [] where the help lists none."""
    if " | " not in help_text:
        return []
    parts = help_text.split(" | ")
    return [part.split()[0].rstrip(":;,") for part in parts if part.split()]
