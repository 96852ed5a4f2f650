"""Text from run folders written into markdown (leaderboard --markdown, compare's GitHub step summary).

Model names, task variants, folder names and notes come from summaries that may have been written elsewhere.
In a markdown table a `|` or a line break would move cells, and on GitHub `[text](url)` and `![](url)` become
links and images and `<...>` raw HTML. `markdown_text` makes such a value plain text: the characters that
start structure are escaped, HTML brackets become entities, line breaks become spaces. Emphasis marks (`*`,
`_`) are left alone: they can only change how a name looks, and escaping them would fill names such as
`llava_1.5` with backslashes in a terminal.
"""

from __future__ import annotations

_ESCAPES = str.maketrans(
    {"\\": "\\\\", "|": "\\|", "[": "\\[", "]": "\\]", "<": "&lt;", ">": "&gt;", "\r": " ", "\n": " "}
)


def markdown_text(value: object) -> str:
    """`value` as text that markdown shows as written, inside or outside a table cell."""
    return str(value).translate(_ESCAPES)
