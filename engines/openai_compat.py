"""An engine for any OpenAI-compatible HTTP server (``vllm serve``, llama.cpp's servers, ...).

Chat requests go to ``/chat/completions`` and raw prompts to ``/completions``.

Continuing an unfinished assistant turn (``continue_assistant=True``) needs the server's
help, because only the server knows the chat template. By default the engine sends the
messages with vLLM's ``continue_final_message=true`` and ``add_generation_prompt=false``;
vLLM and llama.cpp's ``llama-server`` continue the last assistant message, while servers
that ignore these fields answer with a fresh assistant turn instead. For ChatML models
(Qwen) on any server, ``prompt_format="chatml"`` renders chat prompts locally and sends
them to ``/completions``, which continues the turn exactly.

Failures: 429, 5xx, connection errors and timeouts are retried with exponential backoff
and jitter (honouring ``Retry-After``); after the last retry the engine raises
:class:`~sleuth.errors.EngineUnavailableError` or :class:`~sleuth.errors.EngineTimeoutError`
with the URL, the number of attempts and the last status. Any other 4xx raises
:class:`~sleuth.errors.EngineError` at once with the server's message.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from sleuth.engines.base import GenerationRequest, GenerationResponse, TokenLogprob
from sleuth.engines.chatml import render_chatml
from sleuth.errors import ConfigError, EngineError, EngineTimeoutError, EngineUnavailableError

PromptFormat = Literal["server", "chatml"]


@dataclass
class _Failure:
    """The last retryable failure, for the final error message."""

    reason: str
    status: int | None = None
    timed_out: bool = False
    retry_after_s: float | None = None


class OpenAICompatibleEngine:
    """Talks to an OpenAI-compatible server with timeouts, retries and typed errors."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080/v1",
        model: str = "default",
        *,
        api_key: str = "sleuth",
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 300.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        prompt_format: PromptFormat = "server",
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        """``extra_body`` adds server-specific fields to every request, e.g.
        ``{"repeat_penalty": 1.0}`` for llama.cpp's Python server, whose default of 1.1
        makes small models stop repeating lists early; vLLM's equivalent is
        ``repetition_penalty``."""
        self.base_url = normalize_base_url(base_url)
        self.model = model
        self.name = f"openai:{model}@{self.base_url}"
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.prompt_format = prompt_format
        self.extra_body = dict(extra_body or {})
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        if request.prompt is not None:
            return await self._complete(request.prompt, request)
        if self.prompt_format == "chatml":
            prompt = render_chatml(request.messages or [], continue_final=request.continue_assistant)
            return await self._complete(prompt, request)
        payload = self._common(request)
        payload["messages"] = [m.model_dump() for m in request.messages or []]
        if request.continue_assistant:
            payload["continue_final_message"] = True
            payload["add_generation_prompt"] = False
        if request.logprobs:
            payload["logprobs"] = True
            payload["top_logprobs"] = 1  # llama.cpp's server returns none without it
        data = await self._post("/chat/completions", payload)
        return _parse_chat(data, request)

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None and self._http_loop is asyncio.get_running_loop():
            await http.aclose()
        self._http_loop = None

    async def _complete(self, prompt: str, request: GenerationRequest) -> GenerationResponse:
        payload = self._common(request)
        payload["prompt"] = prompt
        if request.logprobs:
            payload["logprobs"] = 1
        data = await self._post("/completions", payload)
        return _parse_completion(data, request)

    def _common(self, request: GenerationRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            payload["stop"] = request.stop
        if request.seed is not None:
            payload["seed"] = request.seed
        if request.priority:
            payload["priority"] = request.priority  # vLLM rejects it unless priority-scheduled
        payload.update(self.extra_body)
        return payload

    def _client(self) -> httpx.AsyncClient:
        """One client per event loop: an httpx client cannot outlive the loop it was made on."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            self._http = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)
            self._http_loop = loop
        return self._http

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url + path
        failure = _Failure(reason="no attempt made")
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self._delay(attempt, failure.retry_after_s))
            try:
                response = await self._client().post(url, json=payload)
            except httpx.TimeoutException as exc:
                failure = _Failure(reason=f"{type(exc).__name__}: {exc}".rstrip(": "), timed_out=True)
                continue
            except httpx.TransportError as exc:
                failure = _Failure(reason=f"{type(exc).__name__}: {exc}".rstrip(": "))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                failure = _Failure(
                    reason=_server_message(response),
                    status=response.status_code,
                    retry_after_s=_retry_after(response),
                )
                continue
            if response.status_code >= 400:
                raise _rejected(url, response)
            return _json_body(url, response)
        raise self._exhausted(url, failure)

    def _delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Exponential backoff with equal jitter, at least the server's Retry-After."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_backoff_s))
        return delay

    def _exhausted(self, url: str, failure: _Failure) -> EngineError:
        attempts = self.max_retries + 1
        details: dict[str, Any] = {
            "url": url,
            "attempts": attempts,
            "last_status": failure.status,
            "last_error": failure.reason,
        }
        if failure.timed_out:
            return EngineTimeoutError(
                f"{url} did not answer in time after {attempts} attempts ({failure.reason}).",
                hint=f"raise engine.read_timeout_s (now {self._timeout.read}s), ask for fewer "
                "max_tokens, or check that the server is not overloaded",
                **details,
            )
        status = f"HTTP {failure.status}: " if failure.status else ""
        return EngineUnavailableError(
            f"{url} failed after {attempts} attempts (last: {status}{failure.reason}).",
            hint=f"check that an OpenAI-compatible server is running at {self.base_url} "
            "(e.g. `vllm serve MODEL` or `python -m llama_cpp.server --model FILE.gguf`), "
            "or raise engine.max_retries",
            **details,
        )


def normalize_base_url(base_url: str) -> str:
    """Strip trailing slashes; a bare ``http://host:port`` gets the usual ``/v1``."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"Invalid server URL {base_url!r}.",
            hint="use a URL such as http://127.0.0.1:8000/v1",
            base_url=base_url,
        )
    url = base_url.rstrip("/")
    return url + "/v1" if parts.path in ("", "/") else url


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:500]
    return str(body)[:500]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _rejected(url: str, response: httpx.Response) -> EngineError:
    message = _server_message(response)
    return EngineError(
        f"{url} rejected the request (HTTP {response.status_code}): {message}",
        hint="check the model name and the request parameters the server accepts",
        url=url,
        status=response.status_code,
        server_message=message,
    )


def _json_body(url: str, response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise EngineError(f"{url} returned a body that is not JSON.", url=url) from exc
    if not isinstance(data, dict) or not data.get("choices"):
        raise EngineError(f"{url} returned no choices: {str(data)[:300]}", url=url)
    return data


def _parse_chat(data: dict[str, Any], request: GenerationRequest) -> GenerationResponse:
    choice = data["choices"][0]
    message = choice.get("message") or {}
    logprobs = None
    if request.logprobs:
        entries = (choice.get("logprobs") or {}).get("content") or []
        logprobs = [TokenLogprob(token=e["token"], logprob=e["logprob"]) for e in entries]
    return _response(str(message.get("content") or ""), choice, data, logprobs)


def _parse_completion(data: dict[str, Any], request: GenerationRequest) -> GenerationResponse:
    choice = data["choices"][0]
    logprobs = None
    if request.logprobs:
        raw = choice.get("logprobs") or {}
        pairs = zip(raw.get("tokens") or [], raw.get("token_logprobs") or [])
        logprobs = [TokenLogprob(token=t, logprob=lp) for t, lp in pairs if lp is not None]
    return _response(str(choice.get("text") or ""), choice, data, logprobs)


def _response(
    text: str, choice: dict[str, Any], data: dict[str, Any], logprobs: list[TokenLogprob] | None
) -> GenerationResponse:
    usage = data.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    stop_reason = choice.get("stop_reason")  # vLLM: the matched stop string
    return GenerationResponse(
        text=text,
        finish_reason=_finish_reason(choice.get("finish_reason")),
        stop_sequence=stop_reason if isinstance(stop_reason, str) else None,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_prompt_tokens=int(details.get("cached_tokens") or 0),
        logprobs=logprobs,
    )


def _finish_reason(value: object) -> Literal["stop", "length", "error"]:
    if value == "length":
        return "length"
    if value in (None, "abort", "error"):
        return "error"
    return "stop"


__all__ = ["OpenAICompatibleEngine", "PromptFormat", "normalize_base_url"]
