"""The method registry: every reasoning graph is reachable by name.

A method is a :class:`MethodSpec`: a builder that compiles a LangGraph ``StateGraph`` from an
engine, a retriever and typed options. Every compiled graph takes ``{"question": str}`` as
input and leaves the final :class:`~sleuth.types.Answer` under the state key ``"answer"``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sleuth.engines.base import LLMEngine
from sleuth.errors import ConfigError
from sleuth.retrieval.base import Retriever
from sleuth.types import Answer, StrictModel

GraphBuilder = Callable[[LLMEngine, Retriever, Any], Any]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    builder: GraphBuilder
    """``builder(engine, retriever, options)`` returns a compiled graph."""
    options: type[StrictModel]
    """The pydantic options model of this method."""
    description: str


_METHODS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> None:
    _METHODS[spec.name] = spec


def _ensure_builtin() -> None:
    # Importing a graph module registers it; done lazily to keep `import sleuth` light.
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)


BUILTIN_MODULES: list[str] = [
    "sleuth.graphs.search_r1",
    "sleuth.graphs.baselines",
    "sleuth.graphs.ircot",
    "sleuth.graphs.mcts_rag",
    "sleuth.graphs.evidence_loop",
]


def list_methods() -> list[str]:
    _ensure_builtin()
    return sorted(_METHODS)


def get_method(name: str) -> MethodSpec:
    _ensure_builtin()
    try:
        return _METHODS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown method {name!r}.",
            hint=f"choose one of: {', '.join(sorted(_METHODS))}",
            method=name,
        ) from None


def make_options(name: str, values: dict[str, Any] | None = None) -> StrictModel:
    """Validate ``values`` against the method's options model."""
    spec = get_method(name)
    try:
        return spec.options.model_validate(values or {})
    except ValidationError as exc:
        raise ConfigError(f"Invalid options for method {name!r}: {exc}", method=name) from exc


async def ask(
    question: str,
    *,
    engine: LLMEngine,
    retriever: Retriever,
    method: str = "search-r1",
    options: StrictModel | dict[str, Any] | None = None,
    checkpointer: Any = None,
    thread_id: str | None = None,
) -> Answer:
    """Answer ``question`` with the named method and return the final :class:`Answer`."""
    graph = build_graph(method, engine=engine, retriever=retriever, options=options,
                        checkpointer=checkpointer)
    start = time.perf_counter()
    state = await graph.ainvoke({"question": question}, config=run_config(thread_id))
    answer: Answer = state["answer"]
    answer.usage.wall_s = time.perf_counter() - start
    answer.method = method
    return answer


# --- checkpointing and streaming ---------------------------------------------------------

CHECKPOINT_TYPES: list[type] = []
"""Pydantic models that may sit in a graph's state; the checkpoint serializer revives only these."""


def register_checkpoint_types(*types: type) -> None:
    """Allow ``types`` to be restored from a checkpoint (graph modules call this at import)."""
    for cls in types:
        if cls not in CHECKPOINT_TYPES:
            CHECKPOINT_TYPES.append(cls)


def checkpoint_serializer() -> Any:
    """LangGraph's msgpack serializer, restricted to Sleuth's state types."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from sleuth import types as core

    _ensure_builtin()
    register_checkpoint_types(
        core.Passage, core.SearchHit, core.Citation, core.Usage, core.Answer, core.ThinkEvent,
        core.SearchEvent, core.InformationEvent, core.AnswerEvent, core.ErrorEvent, core.NoteEvent,
    )
    return JsonPlusSerializer(allowed_msgpack_modules=list(CHECKPOINT_TYPES))


@asynccontextmanager
async def sqlite_checkpointer(path: str | Path) -> AsyncIterator[Any]:
    """An ``AsyncSqliteSaver`` on the SQLite file ``path``, for ``ask(checkpointer=...)``."""
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with aiosqlite.connect(str(path)) as conn:
        yield AsyncSqliteSaver(conn, serde=checkpoint_serializer())


def build_graph(
    method: str,
    *,
    engine: LLMEngine,
    retriever: Retriever,
    options: StrictModel | dict[str, Any] | None = None,
    checkpointer: Any = None,
) -> Any:
    """Compile the named method's graph, with ``checkpointer`` when given."""
    spec = get_method(method)
    opts = options if isinstance(options, StrictModel) else make_options(method, options)
    graph = spec.builder(engine, retriever, opts)
    if checkpointer is not None and hasattr(graph, "builder"):
        graph = graph.builder.compile(checkpointer=checkpointer)
    return graph


def run_config(thread_id: str | None = None) -> dict[str, Any]:
    """The LangGraph config of one run: its checkpoint thread and recursion limit."""
    return {"configurable": {"thread_id": thread_id or uuid.uuid4().hex}, "recursion_limit": 200}


async def stream_steps(
    question: str,
    *,
    engine: LLMEngine,
    retriever: Retriever,
    method: str = "search-r1",
    options: StrictModel | dict[str, Any] | None = None,
    checkpointer: Any = None,
    thread_id: str | None = None,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Run the method and yield ``(node, state update)`` after every node, as it happens."""
    graph = build_graph(method, engine=engine, retriever=retriever, options=options,
                        checkpointer=checkpointer)
    async for chunk in graph.astream({"question": question}, config=run_config(thread_id),
                                     stream_mode="updates"):
        for node, update in chunk.items():
            yield node, update or {}


async def resume(
    thread_id: str,
    *,
    engine: LLMEngine,
    retriever: Retriever,
    checkpointer: Any,
    method: str = "search-r1",
    options: StrictModel | dict[str, Any] | None = None,
) -> Answer:
    """Finish an interrupted run from its last checkpoint; completed steps are not redone."""
    graph = build_graph(method, engine=engine, retriever=retriever, options=options,
                        checkpointer=checkpointer)
    config = run_config(thread_id)
    snapshot = await graph.aget_state(config)
    if not snapshot.values:
        raise ConfigError(f"No checkpoint for thread {thread_id!r}.", thread_id=thread_id,
                          hint="pass the thread_id of a run made with the same checkpointer")
    state = await graph.ainvoke(None, config=config) if snapshot.next else snapshot.values
    answer: Answer = state["answer"]
    answer.method = method
    return answer
