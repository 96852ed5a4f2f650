"""Local OpenAI-compatible servers for the `--model openai` tests (all on 127.0.0.1, no network).

* `ModelServer`: the vLLM dialect (chat completions with `prompt_logprobs` and `continue_final_message`,
  completions with `echo` + `logprobs`) served by our own HFBackend, so results through HTTP can be compared
  with HFBackend called directly. It applies no chat template: a message's content parts are read back into a
  Context in order (data URLs decoded to images), which is the layout HFBackend gives the same Context.
* `FaultProxy`: forwards to another server, injecting scripted faults (500s, 429 with Retry-After, delays past
  the client's timeout, dropped connections, 4xx) and recording every request it saw.
* `CannedServer`: no model, one fixed answer; can move its API (a same-origin redirect) or reject requests
  with a message that echoes the caller's key, for the credential tests.
* `RedirectServer`: answers every request with a redirect to another origin.
* `transformers_serve`: a real third-party server (`transformers serve`) on a tiny model, where installed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from kosmos_eval.core.types import Context, GenerateRequest, ImageInput

# A chat template that writes the content parts in order with no markup, so `transformers serve` lays a prompt
# out exactly as HFBackend lays out the same Context (BOS, text, and LLaVA's image text, <image> and a newline,
# at each image).
RAW_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message.content is string %}{{ message.content }}"
    "{% else %}{% for part in message.content %}{% if part.type == 'text' %}{{ part.text }}{% else %}<image>\n"
    "{% endif %}{% endfor %}{% endif %}{% endfor %}"
)


class _Server:
    """A threading HTTP server on a free localhost port, run in a daemon thread; a context manager."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []  # {"method", "path", "body", "headers"} in arrival order
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._dispatch(self, "GET")

            def do_POST(self) -> None:
                owner._dispatch(self, "POST")

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"{self.root}/v1"

    def __enter__(self) -> _Server:
        # a short poll interval: shutdown() waits up to one interval, and the default (0.5 s) adds up over the suite
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        entry = {"method": method, "path": handler.path, "body": json.loads(raw) if raw else None, "raw": raw,
                 "headers": dict(handler.headers)}  # fmt: skip
        with self.lock:
            self.requests.append(entry)
        self.handle(handler, entry)

    def handle(self, handler: BaseHTTPRequestHandler, entry: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def send_json(handler: BaseHTTPRequestHandler, status: int, data: Any, headers: dict[str, str] | None = None):
        payload = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)

    @staticmethod
    def send_redirect(handler: BaseHTTPRequestHandler, status: int, location: str) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def bodies(self, path_end: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests if r["path"].endswith(path_end)]


def decode_data_url(url: str) -> ImageInput:
    """The image of a base64 data URL, keyed by its content (HFBackend caches images by key)."""
    header, _, data = url.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        raise ValueError(f"not a base64 image data URL: {url[:40]}")
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    return ImageInput.from_pil("sha256:" + hashlib.sha256(data.encode()).hexdigest()[:16], image)


def content_segments(content: str | list[dict[str, Any]]) -> list[str | ImageInput]:
    if isinstance(content, str):
        return [content]
    return [part["text"] if part["type"] == "text" else decode_data_url(part["image_url"]["url"]) for part in content]


class ModelServer(_Server):
    """vLLM's API subset served by an HFBackend. `prompt_logprobs=False` makes it a server that ignores the
    field (as OpenAI-compatible servers without the extension do), so ranking cannot work through it."""

    def __init__(self, backend: Any, model: str = "tiny-llava", prompt_logprobs: bool = True) -> None:
        super().__init__()
        self.backend, self.model, self.prompt_logprobs = backend, model, prompt_logprobs
        self.model_lock = threading.Lock()

    def handle(self, handler: BaseHTTPRequestHandler, entry: dict[str, Any]) -> None:
        path, body = entry["path"].removeprefix("/v1"), entry["body"]
        if path == "/models":
            card = {"id": self.model, "object": "model", "created": int(time.time()), "owned_by": "tests"}
            return self.send_json(handler, 200, {"object": "list", "data": [card]})
        if body.get("model") != self.model:
            error = {"message": f"The model `{body.get('model')}` does not exist.", "type": "NotFoundError"}
            return self.send_json(handler, 404, {"error": error, "code": 404})
        with self.model_lock:
            if path == "/chat/completions":
                return self.send_json(handler, 200, self.chat(body))
            if path == "/completions":
                return self.send_json(handler, 200, self.completion(body))
        self.send_json(handler, 404, {"error": {"message": f"no route {path}"}})

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        continuation = None
        if body.get("continue_final_message") and messages[-1]["role"] == "assistant":
            continuation, messages = messages[-1]["content"], messages[:-1]
        context = Context.of(*(content_segments(m["content"]) for m in messages))
        response: dict[str, Any] = {"id": "chatcmpl-test", "object": "chat.completion", "model": self.model}
        if body.get("prompt_logprobs") is not None and self.prompt_logprobs:
            ids, logprobs, ranks = self.prompt_scores(context, continuation)
            decode = self.backend.tokenizer.decode
            response["prompt_logprobs"] = [None] + [
                {str(t): {"logprob": lp, "rank": rank, "decoded_token": decode([t])}}
                for t, lp, rank in zip(ids[1:], logprobs, ranks, strict=True)
            ]
            text = ""
        else:
            beams = body.get("n", 1) if body.get("use_beam_search") else 1
            stop = body.get("stop") or ()
            penalty = body.get("length_penalty")  # vLLM's beam search takes one
            request = GenerateRequest(
                context, body.get("max_tokens", 16), tuple(stop), num_beams=beams, length_penalty=penalty
            )
            text = self.backend.generate([request])[0]
        response["choices"] = [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
        return response

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        context = Context((body["prompt"],))
        if body.get("echo") and self.prompt_logprobs:
            ids, logprobs, ranks = self.prompt_scores(context, None)
            tokens = self.backend.tokenizer.convert_ids_to_tokens(ids)
            best = [self.backend.tokenizer.convert_ids_to_tokens(t) for t in self.best_tokens]
            tops = [None] + [
                {tok: lp} if rank == 1 else {tok: lp, best_tok: lp + 1.0}
                for tok, lp, rank, best_tok in zip(tokens[1:], logprobs, ranks, best, strict=True)
            ]  # the value given to a better token is made up: only its being higher matters to the client
            logprobs_block = {"tokens": tokens, "token_logprobs": [None, *logprobs], "top_logprobs": tops}
            choice = {"index": 0, "text": body["prompt"], "logprobs": logprobs_block, "finish_reason": "length"}
            return {"choices": [choice], "usage": {"prompt_tokens": len(ids), "completion_tokens": 0}}
        stop = tuple(body.get("stop") or ())
        text = self.backend.generate([GenerateRequest(context, body.get("max_tokens", 16), stop)])[0]
        return {"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}

    def prompt_scores(self, context: Context, continuation: str | None) -> tuple[list[int], list[float], list[int]]:
        """Ids of the prompt as HFBackend lays it out (continuation tokens as ranking splits them), and for
        every token after the first its log-probability and rank (1 = the model's argmax)."""
        adapter = self.backend.adapter
        encoded = adapter.encode(context)
        if continuation is not None:
            encoded = encoded.extended(adapter.continuation_ids(context, continuation))
        positions = torch.arange(len(encoded.ids) - 1)
        with torch.inference_mode():
            logits = adapter.logits_at([encoded], torch.zeros_like(positions), positions).double()
        logprobs = torch.log_softmax(logits, dim=-1)
        targets = torch.tensor(encoded.ids[1:])
        chosen = logprobs.gather(1, targets[:, None])[:, 0]
        ranks = (logprobs > chosen[:, None]).sum(dim=1) + 1
        self.best_tokens = logprobs.argmax(dim=-1).tolist()
        return list(encoded.ids), chosen.tolist(), ranks.tolist()


class FaultProxy(_Server):
    """Forwards every request to `upstream` (a server root) except those that draw a fault from `faults`, in
    arrival order: "500" / "502" / "503" / any status, "429:S" (Retry-After: S seconds), "503-date:S"
    (Retry-After as an HTTP date S seconds ahead), "delay:S" (no answer for S seconds, then a dropped
    connection) and "drop" (connection closed without an answer). `always` applies to every request once the
    script is used up. Only requests whose path ends with one of `paths` draw faults (default: all)."""

    def __init__(
        self, upstream: str, faults: list[str] | None = None, always: str | None = None, paths: tuple[str, ...] = ("",)
    ) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.faults, self.always, self.paths = list(faults or []), always, paths
        self.injected: list[str] = []
        self.forwarded = 0

    def handle(self, handler: BaseHTTPRequestHandler, entry: dict[str, Any]) -> None:
        with self.lock:
            fault = None
            if entry["path"].endswith(self.paths):
                fault = self.faults.pop(0) if self.faults else self.always
            if fault:
                self.injected.append(fault)
            else:
                self.forwarded += 1
        if fault:
            return self.inject(handler, fault)
        request = urllib.request.Request(
            self.upstream + entry["path"], data=entry["raw"] or None, method=entry["method"],
            headers={k: v for k, v in entry["headers"].items() if k.lower() in ("content-type", "authorization")},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def inject(self, handler: BaseHTTPRequestHandler, fault: str) -> None:
        kind, _, value = fault.partition(":")
        if kind == "drop":
            handler.close_connection = True
            return
        if kind == "delay":
            time.sleep(float(value))
            handler.close_connection = True
            return
        headers = {}
        if kind == "429":
            headers["Retry-After"] = value
        elif kind == "503-date":
            kind, headers["Retry-After"] = "503", formatdate(time.time() + float(value), usegmt=True)
        message = {"400": "Invalid request: bad field", "401": "Invalid API key", "404": "The model does not exist."}
        error = {"message": message.get(kind, f"injected {kind}\nsecond line"), "code": int(kind)}
        self.send_json(handler, int(kind), {"error": error}, headers)


class CannedServer(_Server):
    """An OpenAI-compatible server without a model: /models lists `model`, every chat or completions request
    is answered `answer`. `moved=(prefix, status)`: requests under `prefix` are redirected with `status` to the
    same path under /v1 of this server (a same-origin redirect). `echo_key=(status, times)`: the first `times`
    generation requests are refused with `status` and a message quoting the Authorization header received,
    as some gateways do ("Incorrect API key provided: ...")."""

    def __init__(
        self,
        model: str = "canned",
        answer: str = "red",
        moved: tuple[str, int] | None = None,
        echo_key: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.model, self.answer, self.moved = model, answer, moved
        self.echo_status, self.echo_times = echo_key or (0, 0)

    def handle(self, handler: BaseHTTPRequestHandler, entry: dict[str, Any]) -> None:
        path = entry["path"]
        if self.moved and path.startswith(self.moved[0] + "/"):
            return self.send_redirect(handler, self.moved[1], f"{self.root}/v1{path.removeprefix(self.moved[0])}")
        path = path.removeprefix("/v1")
        if path == "/models":
            card = {"id": self.model, "object": "model", "owned_by": "tests"}
            return self.send_json(handler, 200, {"object": "list", "data": [card]})
        with self.lock:
            echo, self.echo_times = self.echo_times > 0, self.echo_times - 1
        if echo:
            message = f"Incorrect API key provided: {entry['headers'].get('Authorization', '').removeprefix('Bearer ')}"
            return self.send_json(handler, self.echo_status, {"error": {"message": message}})
        if path == "/chat/completions":
            message = {"role": "assistant", "content": self.answer}
            return self.send_json(handler, 200, {"choices": [{"index": 0, "message": message}]})
        if path == "/completions":
            return self.send_json(handler, 200, {"choices": [{"index": 0, "text": self.answer}]})
        self.send_json(handler, 404, {"error": {"message": f"no route {path}"}})


class RedirectServer(_Server):
    """Answers every request with `status` and `Location: target + path`: a server (or a proxy in front of
    one) that sends its clients to another origin."""

    def __init__(self, target: str, status: int = 307) -> None:
        super().__init__()
        self.target, self.status = target.rstrip("/"), status

    def handle(self, handler: BaseHTTPRequestHandler, entry: dict[str, Any]) -> None:
        self.send_redirect(handler, self.status, self.target + entry["path"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_available() -> bool:
    try:
        from transformers.utils.import_utils import is_serve_available
    except ImportError:
        return False
    return bool(is_serve_available())


@contextlib.contextmanager
def transformers_serve(model_dir: Path, work: Path, startup_s: float = 90) -> Iterator[tuple[str, str]]:
    """`transformers serve` on a copy of `model_dir` given RAW_CHAT_TEMPLATE; yields (base_url, model name)."""
    model = work / "served-model"
    shutil.copytree(model_dir, model)
    (model / "chat_template.jinja").write_text(RAW_CHAT_TEMPLATE)
    port = free_port()
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--device", "cpu", "--dtype", "float32", "--log-level", "error"]
    log = (work / "serve.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + startup_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = (work / "serve.log").read_text()[-2000:]
                    raise RuntimeError(f"transformers serve did not start: {tail}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1", str(model)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
