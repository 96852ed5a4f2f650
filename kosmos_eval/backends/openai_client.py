"""The HTTP side of `--model openai`: JSON requests with retries, and the servers' prompt log-prob layouts.

Standard library only (urllib), so the backend adds no dependency. Retries follow one policy for every request:
408, 429, 500, 502, 503, 504, dropped connections, truncated responses and timeouts are retried with exponential
backoff and full jitter, or after the server's Retry-After; any other 4xx fails at once with the server's message
and a hint, because sending the same request again cannot succeed.

The API key never leaves the server it was meant for: a redirect is followed only to the same origin (scheme,
host and port), with the method and body kept for 307 / 308; one to another origin is refused with one line
instead, because urllib's own handler would resend the Authorization header to whatever host the server names.
Every error line passes through `clean`, which redacts URL user parts and removes the key itself, so a server
that echoes the key in its error message does not get it written to a terminal or a log.
"""

from __future__ import annotations

import json
import logging
import math
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import IO, Any
from urllib.parse import urlsplit

from kosmos_eval.core.progress import notice
from kosmos_eval.core.redact import REDACTED, has_userinfo, redact
from kosmos_eval.errors import UserError

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 600.0

log = logging.getLogger(__name__)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for: a number, or an HTTP date (RFC 9110); None when absent or bad."""
    if not value:
        return None
    try:
        seconds = float(value)
        return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return min(max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0), MAX_RETRY_AFTER)


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter: wait uniform(0, min(max_wait, base * 2**k)) before retry k + 1.
    `sleep` is injectable so tests record waits instead of taking them."""

    max_retries: int = 6
    base: float = 0.5
    max_wait: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, retry: int) -> float:
        return self.rng.uniform(0.0, min(self.max_wait, self.base * 2**retry))


DEFAULT_PORTS = {"http": 80, "https": 443}


def check_base_url(url: str) -> str:
    """`url` without its trailing slash, or one UserError line. A user part (`https://user:KEY@host/v1`) is
    refused without echoing it: urllib would not send it anyway, and the URL is recorded in the run's identity,
    its lock file and error lines. Any '@' is refused, since a key holding '/' hides the user part from a parser."""
    if "@" in url or has_userinfo(url):
        raise UserError(
            "--model-args base_url: a user part (user:password@) is not accepted, so that no key is ever "
            "written into a run folder or a log; put the key in an environment variable and pass api_key_env=NAME"
        )
    if not url.startswith(("http://", "https://")):
        raise UserError(f"--model-args base_url={url!r}: expected http://HOST:PORT/v1 or https://...")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        raise UserError(f"--model-args base_url={url!r}: the port is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise UserError(f"--model-args base_url={url!r}: no host (expected http://HOST:PORT/v1)")
    return url.rstrip("/")


def origin(url: str) -> str:
    """scheme://host:port, the port always written (http://h and http://h:80 are one origin)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within the origin the request went to. urllib's own handler resends every
    header, Authorization included, to any host a server names (a 307 from a compromised or misconfigured
    proxy would hand it the key); refusing is safer than dropping the header, because a server that moved is
    better fixed in base_url than silently asked without the key. 307 / 308 keep the method and body, as
    RFC 9110 says; a POST answered 301 / 302 / 303 would become a GET without its body, so it is refused too."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Mapping[str, str], newurl: str
    ) -> urllib.request.Request | None:
        source, target = origin(req.full_url), origin(newurl)
        method = req.get_method()
        refusal = None
        if source != target:
            refusal = (
                f"openai backend: the server at {source} redirected {method} ({code}) to another origin, {target}; "
                "refused, so that the API key is never sent there: set --model-args base_url to the server itself"
            )
        elif method not in ("GET", "HEAD") and code not in (307, 308):
            refusal = (
                f"openai backend: the server at {source} answered {method} with {code}, a redirect that drops the "
                f"request body; set --model-args base_url to where it redirects ({redact(urlsplit(newurl).path)})"
            )
        if refusal:
            fp.close()
            raise UserError(refusal)
        keep = {k: v for k, v in req.headers.items() if code in (307, 308) or k.lower() != "content-type"}
        return urllib.request.Request(
            newurl,
            data=req.data if code in (307, 308) else None,
            headers=keep,
            method=method if code in (307, 308) else ("HEAD" if method == "HEAD" else "GET"),
            origin_req_host=req.origin_req_host,
            unverifiable=True,
        )


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class HTTPClientError(UserError):
    """A 4xx answer other than 408 and 429: retrying cannot help. `status` lets the capability probe tell "this server
    rejects the parameter" from "wrong key"."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _server_message(body: bytes) -> str:
    """The first line of the server's error message ({"error": {"message"}}, {"detail"}, or plain text)."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            error = data.get("error", data.get("detail", data.get("message", text)))
            text = str(error.get("message", error) if isinstance(error, dict) else error)
    except ValueError:
        pass
    lines = text.strip().splitlines()
    return (lines[0] if lines else "(empty body)")[:300]


class ServerClient:
    """JSON over HTTP (standard library only) with the retry policy; thread-safe, counts attempts and retries."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float, policy: RetryPolicy) -> None:
        self.base_url, self.timeout, self.policy = check_base_url(base_url), timeout, policy
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self._api_key = api_key or None
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self._opener = urllib.request.build_opener(SameOriginRedirects())
        self._lock = threading.Lock()
        self.attempts = 0
        self.retries: list[str] = []  # the reason of every retry, in order
        self.waits: list[float] = []  # every wait taken before a retry (seconds)

    def clean(self, text: str) -> str:
        """`text` fit for an error line or a log: URL user parts and secret-looking pairs redacted, the API key
        itself removed (a server may echo it in an error message)."""
        text = redact(text)
        return text.replace(self._api_key, REDACTED) if self._api_key else text

    def get(self, path: str) -> dict[str, Any]:
        return self.call("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", path, body)

    def call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        for retry in range(self.policy.max_retries + 1):
            try:
                return self._once(method, url, body)
            except _Retryable as exc:
                if retry == self.policy.max_retries:
                    raise UserError(
                        self.clean(
                            f"openai backend: {method} {url} failed {retry + 1} times (last: {exc.reason}); is the "
                            "server up and not overloaded? Finished examples are kept: run again, or raise max_retries"
                        )
                    ) from None
                wait = exc.retry_after if exc.retry_after is not None else self.policy.backoff(retry)
                with self._lock:
                    self.retries.append(exc.reason)
                    self.waits.append(wait)
                notice(
                    log,
                    "openai backend: %s %s: %s; retry %d of %d in %.1f s",
                    method,
                    self.clean(url),
                    exc.reason,
                    retry + 1,
                    self.policy.max_retries,
                    wait,
                )
                self.policy.sleep(wait)
        raise AssertionError("unreachable")

    def _once(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        with self._lock:
            self.attempts += 1
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=self.headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            message = self.clean(_server_message(exc.read()))
            if exc.code in RETRY_STATUSES:
                raise _Retryable(f"{exc.code} {message}", retry_after_seconds(exc.headers.get("Retry-After"))) from None
            raise HTTPClientError(
                self.clean(f"openai backend: {method} {url} -> {exc.code}: {message}. {_hint(exc.code)}"), exc.code
            ) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise _Retryable(f"no answer within {self.timeout:g} s") from None
            raise _Retryable(self.clean(f"cannot connect to {self.base_url} ({reason})")) from None
        except TimeoutError:
            raise _Retryable(f"no answer within {self.timeout:g} s") from None
        except (ConnectionError, HTTPException, OSError) as exc:  # dropped connections, truncated responses
            raise _Retryable(f"connection dropped ({exc.__class__.__name__})") from None
        try:
            return json.loads(payload)
        except ValueError:
            raise _Retryable("the server answered with something that is not JSON") from None


def _hint(status: int) -> str:
    if status in (401, 403):
        return "Check the API key (--model-args api_key_env=VAR names the variable that holds it)"
    if status == 404:
        return "Check base_url (usually ends in /v1) and model (GET <base_url>/models lists the served names)"
    return "Check model, base_url and that the server accepts these parameters"


class NoPromptLogprobs(Exception):
    """The answer carries no (readable) prompt log-probabilities: the server lacks the extension."""


@dataclass
class PromptTokens:
    """Per prompt token: an id or token text (for the prefix check), log-probability and whether rank 1.
    The first token has no log-probability (nothing predicts it)."""

    keys: list[str]
    logprobs: list[float | None]
    greedy: list[bool]


def chat_prompt_tokens(response: dict[str, Any]) -> PromptTokens:
    """vLLM's chat `prompt_logprobs`: [None, {"<token id>": {"logprob", "rank", "decoded_token"}, ...}, ...]
    where the prompt's own token comes first in each entry."""
    entries = response.get("prompt_logprobs")
    if not isinstance(entries, list) or not entries:
        raise NoPromptLogprobs()
    keys, logprobs, greedy = [], [], []
    try:
        for entry in entries:
            if not entry:
                keys.append("")
                logprobs.append(None)
                greedy.append(True)
                continue
            token, info = next(iter(entry.items()))
            keys.append(str(token))
            logprobs.append(float(info["logprob"]))
            rank = info.get("rank")
            best = max(float(v["logprob"]) for v in entry.values())
            greedy.append(rank == 1 if rank is not None else float(info["logprob"]) >= best)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise NoPromptLogprobs() from None
    return PromptTokens(keys, logprobs, greedy)


def completion_prompt_tokens(response: dict[str, Any]) -> PromptTokens:
    """Legacy completions with echo: choices[0].logprobs {tokens, token_logprobs, top_logprobs}; only the first
    usage.prompt_tokens entries are the prompt (a server may append a generated token)."""
    try:
        choice = response["choices"][0]["logprobs"]
        tokens, values, tops = choice["tokens"], choice["token_logprobs"], choice.get("top_logprobs") or []
    except (KeyError, IndexError, TypeError):
        raise NoPromptLogprobs() from None
    if not tokens:
        raise NoPromptLogprobs()
    count = min((response.get("usage") or {}).get("prompt_tokens") or len(tokens), len(tokens), len(values))
    greedy = []
    for i in range(count):
        top = tops[i] if i < len(tops) else None
        greedy.append(values[i] is None or not top or values[i] >= max(top.values()))
    return PromptTokens(list(tokens[:count]), [None if v is None else float(v) for v in values[:count]], greedy)
