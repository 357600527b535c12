"""A test double that replays given outputs, for unit tests of graph control flow."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from sleuth.engines.base import GenerationRequest, GenerationResponse, TokenLogprob

Responder = Callable[[GenerationRequest], str]


class ScriptedEngine:
    """Replays ``outputs`` in order (or calls ``responder`` per request).

    It honours stop sequences and ``max_tokens`` (counting whitespace-separated words as
    tokens) the way a real engine would, so graphs see realistic truncation. Every request
    is kept in :attr:`requests` for assertions.
    """

    name = "scripted"

    def __init__(
        self,
        outputs: Iterable[str] = (),
        *,
        responder: Responder | None = None,
        repeat_last: bool = False,
        logprob: float = -0.05,
    ) -> None:
        self._outputs = list(outputs)
        self._responder = responder
        self._repeat_last = repeat_last
        self._logprob = logprob
        self.requests: list[GenerationRequest] = []

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        self.requests.append(request)
        raw = self._next(request)
        text, stop_seq = _cut_at_stop(raw, request.stop)
        words = text.split(" ")
        finish: Literal["stop", "length"] = "stop"
        if len(words) > request.max_tokens:
            text = " ".join(words[: request.max_tokens])
            finish, stop_seq = "length", None
        prompt_len = len(_prompt_text(request).split())
        n_completion = len(text.split())
        logprobs = None
        if request.logprobs:
            logprobs = [TokenLogprob(token=w, logprob=self._logprob) for w in text.split()]
        return GenerationResponse(
            text=text,
            finish_reason=finish,
            stop_sequence=stop_seq,
            prompt_tokens=prompt_len,
            completion_tokens=n_completion,
            logprobs=logprobs,
        )

    def _next(self, request: GenerationRequest) -> str:
        if self._responder is not None:
            return str(self._responder(request))
        if self._outputs:
            if len(self._outputs) == 1 and self._repeat_last:
                return self._outputs[0]
            return self._outputs.pop(0)
        raise RuntimeError("ScriptedEngine ran out of scripted outputs")

    async def aclose(self) -> None:
        return None


def _cut_at_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    best: tuple[int, str] | None = None
    for stop in stops:
        pos = text.find(stop)
        if pos >= 0 and (best is None or pos < best[0]):
            best = (pos, stop)
    if best is None:
        return text, None
    return text[: best[0]], best[1]


def _prompt_text(request: GenerationRequest) -> str:
    if request.prompt is not None:
        return str(request.prompt)
    return "\n".join(m.content for m in request.messages or [])
