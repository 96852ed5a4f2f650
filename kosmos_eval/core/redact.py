"""Keeping secrets out of what the harness writes: files, logs and error lines.

The one secret the harness is given in text is a URL's user part (`https://user:key@host/v1`): the openai
backend refuses it (the key belongs in an environment variable, `api_key_env`), but the command line that
carried it is still recorded in a run folder's `.lock` and may reach an error line. Everything that records
free text a user typed (the command line, a model argument's value, an error from a server) passes through
`redact` first, so a key typed in the wrong place is never written anywhere.
"""

from __future__ import annotations

import re

# scheme://userinfo@ : the user part is everything up to the last '@' before the host's first '/', '?' or '#'
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s@]*(?:@[^/?#\s@]*)*)@")
# key=value pairs whose name says they hold a secret (api_key=..., hf_token=..., db_password=...). The secret
# word must end the name or be followed by '_' / '-', so counts and settings that merely contain it
# (max_tokens=, prompt_tokens=, tokenizer=) stay readable in error lines and recorded command lines.
_SECRET_PAIR = re.compile(
    r"(?P<name>\b[\w-]*?(?:api[_-]?keys?|token|passwords?|passwd|secrets?)(?:[_-][\w-]*)?)=(?P<value>[^\s,]+)", re.I
)

REDACTED = "***"


def redact(text: str) -> str:
    """`text` with every URL user part and every `…key=`/`token=`/`password=`/`secret=` value replaced by ***.
    (`api_key_env=NAME` names a variable, not a secret, and is kept; so are `max_tokens=`, `tokenizer=`.)"""
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    return _SECRET_PAIR.sub(lambda m: m[0] if m["name"].lower().endswith("_env") else f"{m['name']}={REDACTED}", text)


def has_userinfo(url: str) -> bool:
    """Whether `url` carries a user part (`scheme://user[:password]@host`)."""
    return _URL_USERINFO.match(url.strip()) is not None
