"""Sleuth: agentic RAG and deep search.

The public API is re-exported here. Heavy parts (graphs, engines with optional
dependencies) are imported on first attribute access, so ``import sleuth`` stays fast
and works without any extra installed.
"""

from __future__ import annotations

import importlib
from typing import Any

from sleuth.config import EngineSettings, SleuthSettings
from sleuth.errors import (
    ConfigError,
    CorpusFormatError,
    EngineError,
    EngineTimeoutError,
    EngineUnavailableError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    MissingExtraError,
    ModelFileError,
    RetrievalError,
    SleuthError,
    UserError,
)
from sleuth.types import (
    Answer,
    Citation,
    Passage,
    SearchEvent,
    SearchHit,
    TraceEvent,
    Usage,
)

__version__ = "0.1.0"

# name -> module that defines it; resolved lazily by __getattr__.
_LAZY: dict[str, str] = {
    "LLMEngine": "sleuth.engines.base",
    "GenerationRequest": "sleuth.engines.base",
    "GenerationResponse": "sleuth.engines.base",
    "ChatMessage": "sleuth.engines.base",
    "ScriptedEngine": "sleuth.engines.scripted",
    "create_engine": "sleuth.engines.factory",
    "create_routed_engine": "sleuth.engines.factory",
    "RoleRouter": "sleuth.engines.router",
    "Retriever": "sleuth.retrieval.base",
    "load_corpus": "sleuth.retrieval.corpus",
    "build_index": "sleuth.retrieval.index",
    "load_index": "sleuth.retrieval.index",
    "BM25Retriever": "sleuth.retrieval.bm25",
    "DenseRetriever": "sleuth.retrieval.dense",
    "HybridRetriever": "sleuth.retrieval.hybrid",
    "RemoteRetriever": "sleuth.retrieval.remote",
    "BatchingRetriever": "sleuth.retrieval.batcher",
    "ScheduledEngine": "sleuth.engines.scheduler",
    "Sandbox": "sleuth.sandboxes.sandbox",
    "build_sandbox": "sleuth.sandboxes.build",
    "search_r1_graph": "sleuth.graphs.search_r1",
    "ask": "sleuth.graphs.registry",
    "list_methods": "sleuth.graphs.registry",
    "run_many": "sleuth.graphs.runtime",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sleuth' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Answer",
    "BM25Retriever",
    "BatchingRetriever",
    "ChatMessage",
    "Citation",
    "ConfigError",
    "CorpusFormatError",
    "DenseRetriever",
    "EngineError",
    "EngineSettings",
    "EngineTimeoutError",
    "EngineUnavailableError",
    "GenerationRequest",
    "GenerationResponse",
    "HybridRetriever",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "LLMEngine",
    "MissingExtraError",
    "ModelFileError",
    "Passage",
    "RemoteRetriever",
    "RetrievalError",
    "Retriever",
    "RoleRouter",
    "Sandbox",
    "ScheduledEngine",
    "ScriptedEngine",
    "SearchEvent",
    "SearchHit",
    "SleuthError",
    "SleuthSettings",
    "TraceEvent",
    "Usage",
    "UserError",
    "__version__",
    "ask",
    "build_index",
    "build_sandbox",
    "create_engine",
    "create_routed_engine",
    "list_methods",
    "load_corpus",
    "load_index",
    "run_many",
    "search_r1_graph",
]
