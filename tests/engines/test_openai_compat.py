"""OpenAI-compatible engine: retries, timeouts and errors against real servers on 127.0.0.1.

``ScriptedServer`` is a real ``http.server`` that answers each POST with the next scripted
reply, so every failure mode goes through real sockets and real timeouts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sleuth.engines.base import ChatMessage, GenerationRequest
from sleuth.engines.openai_compat import OpenAICompatibleEngine, normalize_base_url
from sleuth.errors import ConfigError, EngineError, EngineTimeoutError, EngineUnavailableError

OK_CHAT = {
    "choices": [
        {
            "message": {"role": "assistant", "content": "Paris"},
            "finish_reason": "stop",
            "stop_reason": "</answer>",
            "logprobs": {"content": [{"token": "Paris", "logprob": -0.25, "top_logprobs": []}]},
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 8}},
}
OK_COMPLETION = {
    "choices": [
        {"text": " jumps", "finish_reason": "length",
         "logprobs": {"tokens": [" jumps"], "token_logprobs": [-0.5]}}
    ],
    "usage": {"prompt_tokens": 4, "completion_tokens": 1},
}  # fmt: skip


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay_s: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


class ScriptedServer:
    """Replies to POSTs in order (the last reply repeats); records paths and JSON bodies."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[tuple[str, dict[str, Any]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                server.requests.append((self.path, json.loads(self.rfile.read(length))))
                reply = server.replies[min(len(server.requests), len(server.replies)) - 1]
                time.sleep(reply.delay_s)
                payload = json.dumps(reply.body if reply.body is not None else {}).encode()
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers:
                        self.send_header(key, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (read timeout)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ScriptedServer] = []

    def start(*replies: Reply) -> ScriptedServer:
        servers.append(ScriptedServer(list(replies)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _engine(url: str, **kwargs: Any) -> OpenAICompatibleEngine:
    options: dict[str, Any] = {"max_retries": 2, "backoff_s": 0.01, "read_timeout_s": 2.0, "connect_timeout_s": 1.0}
    options.update(kwargs)
    return OpenAICompatibleEngine(url, "test-model", **options)


CHAT = GenerationRequest(messages=[ChatMessage(role="user", content="Capital of France?")], logprobs=True)


async def test_retries_a_503_then_succeeds(serve: Any) -> None:
    server = serve(Reply(503, {"error": {"message": "loading model"}}), Reply(200, OK_CHAT))
    engine = _engine(server.url)
    response = await engine.generate(CHAT)
    await engine.aclose()
    assert len(server.requests) == 2
    assert response.text == "Paris"
    assert response.finish_reason == "stop"
    assert response.stop_sequence == "</answer>"
    assert (response.prompt_tokens, response.completion_tokens, response.cached_prompt_tokens) == (12, 1, 8)
    assert response.logprobs is not None and response.logprobs[0].logprob == -0.25


async def test_honours_retry_after_on_429(serve: Any) -> None:
    server = serve(Reply(429, {"error": "slow down"}, headers=(("Retry-After", "0.3"),)), Reply(200, OK_CHAT))
    engine = _engine(server.url)
    started = time.monotonic()
    assert (await engine.generate(CHAT)).text == "Paris"
    assert time.monotonic() - started >= 0.3
    assert len(server.requests) == 2


async def test_persistent_500_gives_a_clear_error_after_the_last_retry(serve: Any) -> None:
    server = serve(Reply(500, {"error": {"message": "CUDA out of memory"}}))
    engine = _engine(server.url, max_retries=3)
    with pytest.raises(EngineUnavailableError) as info:
        await engine.generate(CHAT)
    error = info.value
    assert len(server.requests) == 4
    assert error.details["attempts"] == 4
    assert error.details["last_status"] == 500
    assert error.details["url"] == f"{server.url}/chat/completions"
    assert "CUDA out of memory" in error.message and "HTTP 500" in error.message
    assert error.hint is not None and server.url in error.hint


async def test_slow_server_raises_a_timeout_error(serve: Any) -> None:
    server = serve(Reply(200, OK_CHAT, delay_s=1.0))
    engine = _engine(server.url, read_timeout_s=0.2, max_retries=1)
    with pytest.raises(EngineTimeoutError) as info:
        await engine.generate(CHAT)
    assert info.value.details["attempts"] == 2
    assert len(server.requests) == 2
    assert info.value.hint is not None and "read_timeout_s" in info.value.hint


async def test_refused_connection_raises_unavailable(free_port: int) -> None:
    url = f"http://127.0.0.1:{free_port}/v1"  # nothing listens there
    engine = _engine(url, max_retries=2)
    with pytest.raises(EngineUnavailableError) as info:
        await engine.generate(CHAT)
    assert info.value.details["attempts"] == 3
    assert info.value.details["last_status"] is None
    assert "ConnectError" in info.value.message


async def test_client_error_is_not_retried_and_carries_the_server_message(serve: Any) -> None:
    server = serve(Reply(400, {"error": {"message": "max_tokens must be at most 2048"}}))
    engine = _engine(server.url)
    with pytest.raises(EngineError) as info:
        await engine.generate(CHAT)
    assert not isinstance(info.value, (EngineUnavailableError, EngineTimeoutError))
    assert len(server.requests) == 1
    assert "max_tokens must be at most 2048" in info.value.message
    assert info.value.details["status"] == 400


async def test_body_without_choices_is_an_engine_error(serve: Any) -> None:
    server = serve(Reply(200, {"object": "list"}))
    with pytest.raises(EngineError, match="no choices"):
        await _engine(server.url).generate(CHAT)


async def test_request_payloads(serve: Any) -> None:
    server = serve(Reply(200, OK_COMPLETION))
    engine = _engine(server.url)
    raw = await engine.generate(
        GenerationRequest(prompt="The fox", stop=["\n"], seed=7, max_tokens=3, logprobs=True, priority=2)
    )
    assert raw.text == " jumps" and raw.finish_reason == "length"
    assert raw.logprobs is not None and raw.logprobs[0].token == " jumps"
    path, body = server.requests[-1]
    assert path == "/v1/completions"
    assert body == {
        "model": "test-model", "prompt": "The fox", "max_tokens": 3, "temperature": 0.0,
        "stop": ["\n"], "seed": 7, "priority": 2, "logprobs": 1,
    }  # fmt: skip

    engine.extra_body = {"repetition_penalty": 1.0}
    server.replies[:] = [Reply(200, OK_CHAT)]
    messages = [ChatMessage(role="user", content="Q"), ChatMessage(role="assistant", content="<think>")]
    await engine.generate(GenerationRequest(messages=messages, continue_assistant=True))
    path, body = server.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert "priority" not in body and "logprobs" not in body
    assert body["repetition_penalty"] == 1.0


async def test_chatml_prompt_format_continues_through_completions(serve: Any) -> None:
    server = serve(Reply(200, OK_COMPLETION))
    engine = _engine(server.url, prompt_format="chatml")
    messages = [ChatMessage(role="user", content="Q"), ChatMessage(role="assistant", content="<think>x")]
    await engine.generate(GenerationRequest(messages=messages, continue_assistant=True))
    path, body = server.requests[-1]
    assert path == "/v1/completions"
    assert body["prompt"] == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>x"


def test_base_url_forms() -> None:
    assert normalize_base_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert normalize_base_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1"
    assert normalize_base_url("https://h/api/v1") == "https://h/api/v1"
    with pytest.raises(ConfigError):
        normalize_base_url("127.0.0.1:8000")


@pytest.mark.model
async def test_real_llama_server_answers_chat_and_prompt(llama_server_url: str) -> None:
    engine = OpenAICompatibleEngine(llama_server_url, "qwen2.5-coder-0.5b", read_timeout_s=120)
    chat = await engine.generate(
        GenerationRequest(messages=[ChatMessage(role="user", content="Say the word yes.")], max_tokens=8)
    )
    raw = await engine.generate(GenerationRequest(prompt="1, 2, 3,", max_tokens=4, logprobs=True))
    await engine.aclose()
    assert chat.text.strip() and chat.prompt_tokens > 0
    assert raw.completion_tokens == 4 and raw.finish_reason == "length"
    assert raw.logprobs is not None and len(raw.logprobs) == 4
