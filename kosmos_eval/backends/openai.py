"""`--model openai`: any server that speaks the OpenAI HTTP API (vLLM, `transformers serve`, hosted APIs).

Generation goes through `/chat/completions` (or `/completions` with `endpoint=completions`): one user message
whose content parts are the context's text and images in reading order, images as base64 PNG data URLs
(lossless, so the server sees the pixels `ImageInput.load()` gives), greedy (temperature 0). Stop strings are
also applied here, so the output never depends on whether the server honoured them.

Ranking needs the log-probability of prompt tokens, which the OpenAI API itself does not offer; vLLM does:
* chat (default): the continuation is written as a prefilled assistant turn (`continue_final_message`,
  `add_generation_prompt: false`) and `prompt_logprobs: 0` returns, per prompt token, its log-probability and
  rank. A second request without the assistant turn (`add_generation_prompt: true`) gives the context's token
  count n; the continuation is every prompt token after the first n. The two prompts must agree on their first
  n - 1 tokens (checked): the chat template must render a prefilled turn as the generation prompt plus the text.
* completions (text-only): `echo: true, logprobs: 1, max_tokens: 0` returns the prompt's tokens with
  log-probabilities; the continuation is again every token after the context-alone prompt's count. As in
  lm-evaluation-harness (`_encode_pair`), whitespace at the end of the context belongs to the continuation:
  the context-alone prompt is sent without it, the prompt with the continuation unchanged, so a context
  ending "... " scores the space's token with the continuation, as lm-eval does.
As in lm-evaluation-harness, a token that merges the end of the context with the start of the continuation
is counted with the context. `is_greedy` is "every continuation token has rank 1".

Whether the server offers prompt log-probabilities is probed once, before any evaluation request, by
`check_request_kinds` (the runner's up-front check) or by the first `rank` call.

Every request is retried on 429, 5xx gateway errors, dropped connections and timeouts with exponential
backoff and full jitter (or the server's Retry-After); other 4xx errors fail at once with the server's message.
"""

from __future__ import annotations

import base64
import io
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kosmos_eval.backends.openai_client import (
    HTTPClientError,
    NoPromptLogprobs,
    PromptTokens,
    RetryPolicy,
    ServerClient,
    chat_prompt_tokens,
    check_base_url,
    completion_prompt_tokens,
)
from kosmos_eval.core.backend import Backend, BackendInfo
from kosmos_eval.core.options import OptionReader
from kosmos_eval.core.registry import register_backend
from kosmos_eval.core.text import cut_at_stop
from kosmos_eval.core.types import Context, GenerateRequest, ImageInput, RankRequest, RankResult, Request
from kosmos_eval.errors import UserError

MODEL_ARGS = {
    "base_url": "server root including /v1 (default http://localhost:8000/v1)",
    "model": "model name as the server lists it under /models (default: the only model it serves)",
    "api_key_env": "environment variable holding the API key, sent as a Bearer token (default: no key)",
    "endpoint": "chat | completions (text-only prompts, no chat template; default chat)",
    "max_concurrency": "requests in flight at once (default 8)",
    "timeout": "seconds to wait for one response before retrying it (default 120)",
    "max_retries": "retries per request on 408 / 429 / 5xx / dropped connections / timeouts (default 6)",
    "max_wait": "longest backoff between retries in seconds (default 30; Retry-After is honoured up to 600)",
    "server_stop": "true | false: also send stop strings to the server (default true; they are always cut here)",
    "beam_search": "refuse | greedy | server: what num_beams > 1 does (default refuse; see docs/scaling.md)",
    "constrained_by_ranking": "true: answer constrained searches narrower than their candidate list by the "
    "ranking argmax (default false: refuse)",
}
DEFAULT_BASE_URL = "http://localhost:8000/v1"
MAX_STOP_STRINGS = 4  # the OpenAI API's limit; the rest are cut here, with the same result
IMAGE_CACHE_SIZE = 256
PROBE_TEXT = "kosmos-eval capability probe"
SERVER_MODEL_FIELDS = ("id", "object", "owned_by", "root", "parent", "max_model_len")  # not `created`: it varies


def image_data_url(image: ImageInput) -> str:
    """The image as a lossless PNG data URL."""
    buffer = io.BytesIO()
    image.load().save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(
        self,
        seed: int = 1234,
        device: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **model_args: str,
    ) -> None:
        """`seed` and `device` are the runner's; the server decides both. `sleep` is injectable for tests."""
        OPENAI.validate(model_args)
        api_key = None
        if "api_key_env" in model_args:
            api_key = os.environ.get(model_args["api_key_env"])
            if not api_key:
                raise UserError(
                    f"--model-args api_key_env={model_args['api_key_env']}: that environment variable is not set; "
                    "export it with the server's API key"
                )
        self.base_url = check_base_url(model_args.get("base_url", DEFAULT_BASE_URL))
        args = OptionReader(model_args, "--model-args")
        self.endpoint = args.choice("endpoint", ("chat", "completions"))
        self.max_concurrency = args.integer("max_concurrency", 8)
        policy = RetryPolicy(
            max_retries=args.integer("max_retries", 6, minimum=0),
            max_wait=args.number("max_wait", 30.0, 0),
            sleep=sleep,
        )
        self.client = ServerClient(self.base_url, api_key, args.number("timeout", 120.0, 0.001), policy)
        self.server_stop = args.flag_value("server_stop", True)
        self.beam_search = args.choice("beam_search", ("refuse", "greedy", "server"))
        self.constrained_by_ranking = args.flag_value("constrained_by_ranking", False)
        self._model = model_args.get("model")
        self._server_model: dict[str, Any] | None = None
        self._listed = False
        self._ranking_verdict: str | None = None  # "" = ranking works, else why not
        self._lock = threading.Lock()
        self._images: OrderedDict[str, str] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="openai")

    # -- identity ------------------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The configured model, else the only one the server lists (looked up once)."""
        self._list_models()
        if self._model is None:
            raise UserError(f"{self.base_url}/models lists no single model: give --model-args model=NAME")
        return self._model

    def _list_models(self) -> None:
        with self._lock:
            if self._listed:
                return
            try:
                listed = self.client.get("/models").get("data") or []
            except HTTPClientError as exc:
                if exc.status not in (404, 405):
                    raise
                listed = []  # some servers have no /models; a configured model name is enough
            ids = [entry.get("id") for entry in listed if isinstance(entry, dict)]
            if self._model is None and len(ids) == 1:
                self._model = ids[0]
            elif self._model is None and ids:
                raise UserError(
                    f"{self.base_url} serves several models ({', '.join(ids)}): give --model-args model=NAME"
                )
            entry = next((e for e in listed if isinstance(e, dict) and e.get("id") == self._model), None)
            self._server_model = {k: entry[k] for k in SERVER_MODEL_FIELDS if k in entry} if entry else None
            self._listed = True

    def fingerprint(self) -> dict[str, Any]:
        model = self.model
        return {"backend": "openai", "model": model, "base_url": self.base_url, "endpoint": self.endpoint,
                "server_model": self._server_model}  # fmt: skip

    def default_batch_size(self) -> int:
        return 4 * self.max_concurrency  # enough requests per batch to keep every connection busy

    # -- up-front checks -------------------------------------------------------------------------------------
    def check_request_kinds(self, kinds: Collection[str]) -> None:
        """Fail with one line, before any evaluation request, when the run needs what the server lacks.
        `kinds` names request kinds: "rank", "generate"."""
        if "rank" in kinds:
            self._check_ranking()

    def check_requests(self, requests: Sequence[Request]) -> None:
        """`check_request_kinds` for concrete requests, plus what this backend cannot do with them (images on
        the completions endpoint, beam search without beam_search=greedy|server)."""
        kinds = set()
        for request in requests:
            if self.endpoint == "completions" and request.context.images:
                raise UserError(
                    "--model-args endpoint=completions takes text only, but this task's prompts have images: "
                    "use endpoint=chat"
                )
            if isinstance(request, RankRequest) or (isinstance(request, GenerateRequest) and request.constrained):
                kinds.add("rank")
                if request.end_of_sequence:
                    raise UserError(
                        "this task scores each candidate up to its end-of-sequence token, which a server's prompt "
                        "log-probabilities cannot include: for ImageNet use --task-option name_end=none"
                    )
            if isinstance(request, GenerateRequest):
                self._check_beams(request)
                kinds.add("generate")
        self.check_request_kinds(kinds)

    def _check_beams(self, request: GenerateRequest) -> None:
        server_beams = not request.constrained and request.num_beams > 1 and self.beam_search == "server"
        if request.length_penalty not in (None, 1.0) and not server_beams:
            # only the server's beam search takes a length penalty: anywhere else it would change nothing
            raise UserError(
                f"length_penalty={request.length_penalty} applies only to the server's beam search here: give "
                "num_beams=N (N > 1) with --model-args beam_search=server, or leave length_penalty out"
            )
        if request.constrained:
            if request.num_beams < len(request.candidates) and not self.constrained_by_ranking:
                raise UserError(
                    f"this task asks for a constrained beam search of width {request.num_beams} over "
                    f"{len(request.candidates)} candidates, which an API server cannot run; "
                    "--model-args constrained_by_ranking=true takes the ranking argmax instead (it can differ)"
                )
        elif request.num_beams > 1 and self.beam_search == "refuse":
            raise UserError(
                f"this task decodes with beam search (num_beams={request.num_beams}), which the OpenAI API does not "
                "offer: --model-args beam_search=server (vLLM's own beam search) or beam_search=greedy (greedy "
                "decoding; results then differ from the paper's protocol)"
            )

    def _check_ranking(self) -> None:
        """Probe once: a tiny ranking request must come back with prompt log-probabilities. The verdict is kept,
        so a server without them is asked only once however often ranking is attempted."""
        with self._lock:
            verdict = self._ranking_verdict
        if verdict is None:
            try:
                self._prompt_tokens(Context((PROBE_TEXT,)), " ok")
                verdict = ""
            except NoPromptLogprobs:
                verdict = "no prompt log-probabilities in the answer"
            except HTTPClientError as exc:
                if exc.status not in (400, 422):
                    raise
                verdict = f"the probe was refused with {exc.status}"
            with self._lock:
                self._ranking_verdict = verdict
        if verdict:
            how = "chat prompt_logprobs" if self.endpoint == "chat" else "completions echo + logprobs"
            raise UserError(
                f"the server at {self.base_url} does not return prompt log-probabilities ({how}, as vLLM does; "
                f"{verdict}), which ranking tasks need: serve the model with vLLM, or use --model hf"
            )

    # -- request bodies ----------------------------------------------------------------------------------------
    def _image_url(self, image: ImageInput) -> str:
        """Data URLs are cached by image key: every continuation of a ranking resends the same image."""
        with self._lock:
            if image.key in self._images:
                self._images.move_to_end(image.key)
                return self._images[image.key]
        url = image_data_url(image)
        with self._lock:
            self._images[image.key] = url
            while len(self._images) > IMAGE_CACHE_SIZE:
                self._images.popitem(last=False)
        return url

    def chat_content(self, context: Context) -> list[dict[str, Any]]:
        """Content parts in reading order; adjacent text segments joined (a server may put newlines between
        text parts), empty text left out."""
        parts: list[dict[str, Any]] = []
        for segment in context.segments:
            if isinstance(segment, ImageInput):
                parts.append({"type": "image_url", "image_url": {"url": self._image_url(segment)}})
            elif segment and parts and parts[-1]["type"] == "text":
                parts[-1]["text"] += segment
            elif segment:
                parts.append({"type": "text", "text": segment})
        return parts

    def _completion_prompt(self, context: Context) -> str:
        if context.images:
            raise UserError("--model-args endpoint=completions takes text only; use endpoint=chat for images")
        return context.text

    def _prompt_tokens(self, context: Context, continuation: str | None) -> PromptTokens:
        """Prompt tokens with log-probabilities of the context alone (None) or followed by the continuation."""
        body: dict[str, Any] = {"model": self.model, "temperature": 0}
        if self.endpoint == "completions":
            prompt = self._completion_prompt(context)
            # the context's trailing whitespace is counted with the continuation (lm-eval's `_encode_pair`)
            prompt = prompt.rstrip() if continuation is None else prompt + continuation
            body |= {"prompt": prompt, "max_tokens": 0, "echo": True, "logprobs": 1}
            return completion_prompt_tokens(self.client.post("/completions", body))
        messages: list[dict[str, Any]] = [{"role": "user", "content": self.chat_content(context)}]
        if continuation is None:
            body |= {"add_generation_prompt": True}
        else:
            messages.append({"role": "assistant", "content": continuation})
            body |= {"add_generation_prompt": False, "continue_final_message": True}
        body |= {"messages": messages, "max_tokens": 1, "prompt_logprobs": 0}
        return chat_prompt_tokens(self.client.post("/chat/completions", body))

    # -- ranking -----------------------------------------------------------------------------------------------
    def rank(self, requests: list[RankRequest]) -> list[RankResult]:
        self._check_ranking()
        jobs = [(r, None) for r in range(len(requests))]
        jobs += [(r, c) for r, request in enumerate(requests) for c in range(len(request.continuations))]

        def fetch(job: tuple[int, int | None]) -> PromptTokens:
            request_index, continuation_index = job
            request = requests[request_index]
            continuation = None if continuation_index is None else request.continuations[continuation_index]
            try:
                return self._prompt_tokens(request.context, continuation)
            except NoPromptLogprobs:
                raise UserError(
                    f"{self.base_url} answered a ranking request without prompt log-probabilities"
                ) from None

        fetched = dict(zip(jobs, self._pool.map(fetch, jobs), strict=True))
        results = []
        for r, request in enumerate(requests):
            base = fetched[(r, None)]
            scores = [
                self._continuation_score(base, fetched[(r, c)], text) for c, text in enumerate(request.continuations)
            ]
            results.append(
                RankResult(
                    logprobs=tuple(s[0] for s in scores),
                    num_tokens=tuple(s[1] for s in scores),
                    is_greedy=tuple(s[2] for s in scores),
                )
            )
        return results

    def _continuation_score(self, base: PromptTokens, full: PromptTokens, text: str) -> tuple[float, int, bool]:
        """Summed log-probability, token count and greediness of the tokens `full` has after `base`'s count."""
        count = len(base.keys)
        if full.keys[1 : count - 1] != base.keys[1 : count - 1] or len(full.keys) <= count:
            raise UserError(
                f"{self.base_url}: the prompt with continuation {text!r} does not extend the context's prompt "
                "token by token; the chat template must render a prefilled assistant turn as its generation prompt "
                "plus the text (continue_final_message), or use endpoint=completions for text-only tasks"
            )
        values = full.logprobs[count:]
        return float(sum(v for v in values if v is not None)), len(values), all(full.greedy[count:])

    # -- generation --------------------------------------------------------------------------------------------
    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        for request in requests:
            self._check_beams(request)
        outputs: list[str] = [""] * len(requests)
        constrained = [i for i, request in enumerate(requests) if request.constrained]
        if constrained:
            ranked = self.rank([RankRequest(requests[i].context, requests[i].candidates) for i in constrained])
            for i, result in zip(constrained, ranked, strict=True):
                best = max(range(len(result.logprobs)), key=lambda c: (result.logprobs[c], -c))  # first of ties
                outputs[i] = requests[i].candidates[best].strip()
        free = [i for i, request in enumerate(requests) if not request.constrained]
        for i, text in zip(free, self._pool.map(lambda i: self._generate_one(requests[i]), free), strict=True):
            outputs[i] = text
        return outputs

    def _generate_one(self, request: GenerateRequest) -> str:
        body: dict[str, Any] = {"model": self.model, "temperature": 0, "max_tokens": request.max_new_tokens}
        if self.server_stop and request.stop:
            body["stop"] = list(request.stop[:MAX_STOP_STRINGS])
        if request.num_beams > 1 and self.beam_search == "server":
            body |= {"use_beam_search": True, "n": request.num_beams}
            if request.length_penalty is not None:
                body["length_penalty"] = request.length_penalty
        if self.endpoint == "completions":
            body["prompt"] = self._completion_prompt(request.context)
            response = self.client.post("/completions", body)
        else:
            body["messages"] = [{"role": "user", "content": self.chat_content(request.context)}]
            response = self.client.post("/chat/completions", body)
        try:
            choice = response["choices"][0]
            text = choice["text"] if self.endpoint == "completions" else choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            answer = self.client.clean(str(response)[:200])
            raise UserError(f"{self.base_url} answered without a generated text: {answer}") from None
        return cut_at_stop(text or "", request.stop).strip()


def check_model_args(model_args: Mapping[str, str]) -> None:
    """The checks that need no server, run by `BackendInfo.validate` (`RunPlan.load` calls it before any run
    folder or lock exists), so a key written into base_url is refused before anything could record it."""
    check_base_url(model_args.get("base_url", DEFAULT_BASE_URL))


OPENAI = register_backend(
    BackendInfo(
        name="openai",
        implementation=OpenAIBackend,
        description="any OpenAI-compatible server (vLLM ranks through prompt log-probabilities)",
        model_args=MODEL_ARGS,
        speed_only_args=frozenset({"max_concurrency", "timeout", "max_retries", "max_wait", "api_key_env"}),
        flag_args=frozenset({"server_stop", "constrained_by_ranking"}),
        model_arg="model",
        check_args=check_model_args,
    )
)
