"""LLM engines: embedded llama.cpp, OpenAI-compatible HTTP, vLLM, and a scripted double."""

from __future__ import annotations

from sleuth.engines.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResponse,
    LLMEngine,
    TokenLogprob,
)
from sleuth.engines.scripted import ScriptedEngine

__all__ = [
    "ChatMessage",
    "GenerationRequest",
    "GenerationResponse",
    "LLMEngine",
    "ScriptedEngine",
    "TokenLogprob",
]
