"""The method registry: every reasoning graph is reachable by name.

A method is a :class:`MethodSpec`: a builder that compiles a LangGraph ``StateGraph`` from an
engine, a retriever and typed options. Every compiled graph takes ``{"question": str}`` as
input and leaves the final :class:`~sleuth.types.Answer` under the state key ``"answer"``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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
    spec = get_method(method)
    opts = options if isinstance(options, StrictModel) else make_options(method, options)
    graph = spec.builder(engine, retriever, opts)
    if checkpointer is not None:
        graph = graph.builder.compile(checkpointer=checkpointer) if hasattr(graph, "builder") else graph
    config = {"configurable": {"thread_id": thread_id or uuid.uuid4().hex}, "recursion_limit": 200}
    start = time.perf_counter()
    state = await graph.ainvoke({"question": question}, config=config)
    answer: Answer = state["answer"]
    answer.usage.wall_s = time.perf_counter() - start
    answer.method = method
    return answer
