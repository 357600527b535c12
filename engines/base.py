"""The LLM engine protocol: one typed request in, one typed response out.

Every backend (embedded llama.cpp, OpenAI-compatible HTTP, in-process vLLM, the scripted
test double, the simulated engine) implements :class:`LLMEngine` and passes the same
conformance suite in ``tests/engines/``.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import Field, model_validator

from sleuth.types import EngineRole, StrictModel


class ChatMessage(StrictModel):
    role: Literal["system", "user", "assistant"]
    content: str


class TokenLogprob(StrictModel):
    """One generated token with its log-probability (natural log)."""

    token: str
    logprob: float


class GenerationRequest(StrictModel):
    """What to generate. Exactly one of ``messages`` and ``prompt`` is set."""

    messages: list[ChatMessage] | None = None
    """Chat turns; the engine applies the model's chat template."""
    prompt: str | None = None
    """A raw prompt, sent as-is."""
    continue_assistant: bool = False
    """With ``messages``: the last message is an unfinished assistant turn to continue,
    not a finished one (used by multi-turn tool loops such as Search-R1)."""
    stop: list[str] = Field(default_factory=list)
    """Stop sequences; the matched stop string is not part of the returned text."""
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    seed: int | None = None
    logprobs: bool = False
    """Return the log-probability of each generated token."""
    priority: int = 0
    """Scheduling priority; lower runs first (vLLM's convention)."""
    session_id: str | None = None
    """Identifies one agent's conversation so engines can keep its prefix hot."""
    role: EngineRole | None = None
    """What the call is for (``"judge"``): a :class:`~sleuth.engines.router.RoleRouter`
    sends it to that role's engine. Engines themselves ignore it."""

    @model_validator(mode="after")
    def _one_input(self) -> GenerationRequest:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("set exactly one of 'messages' and 'prompt'")
        if self.continue_assistant and (not self.messages or self.messages[-1].role != "assistant"):
            raise ValueError("continue_assistant needs a final assistant message")
        return self


class GenerationResponse(StrictModel):
    text: str
    finish_reason: Literal["stop", "length", "error"]
    """``stop``: a stop sequence or end of turn; ``length``: max_tokens was reached."""
    stop_sequence: str | None = None
    """Which stop sequence ended the text, when the backend reports it."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    """Prompt tokens served from a prefix/KV cache instead of recomputed."""
    logprobs: list[TokenLogprob] | None = None


@runtime_checkable
class LLMEngine(Protocol):
    """An async text generator."""

    name: str

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        """Generate one completion."""
        ...

    async def aclose(self) -> None:
        """Release sockets, threads and model memory."""
        ...


__all__ = ["ChatMessage", "GenerationRequest", "GenerationResponse", "LLMEngine", "TokenLogprob"]
