"""LLM engines: embedded llama.cpp, OpenAI-compatible HTTP, vLLM, and a scripted double.

Every backend implements :class:`LLMEngine`. Importing this package never imports an
optional dependency: ``llama_cpp`` and ``vllm`` load inside the engine constructors.
"""

from __future__ import annotations

from sleuth.engines.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResponse,
    LLMEngine,
    TokenLogprob,
)
from sleuth.engines.factory import create_engine, create_routed_engine
from sleuth.engines.llama_cpp import LlamaCppEngine
from sleuth.engines.model_files import MODELS, ModelSpec, resolve_model_path
from sleuth.engines.openai_compat import OpenAICompatibleEngine
from sleuth.engines.router import RoleRouter
from sleuth.engines.scripted import ScriptedEngine
from sleuth.engines.vllm import VLLMEngine

__all__ = [
    "MODELS",
    "ChatMessage",
    "GenerationRequest",
    "GenerationResponse",
    "LLMEngine",
    "LlamaCppEngine",
    "ModelSpec",
    "OpenAICompatibleEngine",
    "RoleRouter",
    "ScriptedEngine",
    "TokenLogprob",
    "VLLMEngine",
    "create_engine",
    "create_routed_engine",
    "resolve_model_path",
]
