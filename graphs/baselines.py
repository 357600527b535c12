"""Baselines as LangGraph ``StateGraph`` s: no retrieval, and retrieve-once RAG.

::

    no-retrieval:  START -> start -> answer_direct -> finish -> END
    standard-rag:  START -> start -> retrieve -> answer_docs -> finish -> END
    with a gate:   START -> start -> gate --retrieve--> retrieve -> answer_docs -> finish -> END
                                          \\--answer--> finish (the draft is the answer)

``adaptive-rag`` is ``standard-rag`` with the token-confidence gate on by default; any
gate of :mod:`sleuth.agents.gate` can be chosen with the ``gate`` option.

They are the yardsticks the reasoning graphs are measured against, so they stay plain:
one retrieval at most, one short answer.
"""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import Field

from sleuth.agents.evidence import format_documents, top_hits
from sleuth.agents.gate import GateOptions, GateStep, make_gate
from sleuth.agents.reader import Reader, ReaderOptions, build_answer
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import LLMEngine
from sleuth.graphs.registry import MethodSpec, register_method
from sleuth.retrieval.base import Retriever
from sleuth.types import Answer, InformationEvent, SearchHit, TraceEvent, Usage


class NoRetrievalOptions(ReaderOptions):  # type: ignore[misc, unused-ignore]  # mypy cannot map sleuth.agents
    """Options of ``no-retrieval``: only the reader's."""


class StandardRAGOptions(ReaderOptions):  # type: ignore[misc, unused-ignore]
    top_k: int = Field(default=5, ge=1, le=50)
    """Passages retrieved once and shown to the model."""
    gate: GateOptions | None = None
    """Retrieve only when this gate says so (``None``: always retrieve)."""


class AdaptiveRAGOptions(StandardRAGOptions):
    gate: GateOptions | None = Field(default_factory=GateOptions)
    """The retrieve-or-answer gate; token confidence (FLARE) by default."""


class BaselineState(TypedDict, total=False):
    question: str
    hits: list[SearchHit]
    content: str
    use_retrieval: bool
    trace: Annotated[list[TraceEvent], operator.add]
    usage: Usage
    answer: Answer


class BaselineNodes:
    """The baselines' nodes, bound to one engine, retriever and option set."""

    def __init__(self, engine: LLMEngine, retriever: Retriever | None, options: ReaderOptions) -> None:
        self.recorder = StepRecorder(engine, retriever)
        self.reader = Reader(self.recorder, options)
        self.opts = options
        gate_opts = getattr(options, "gate", None)
        self.gate = GateStep(self.recorder, make_gate(gate_opts), gate_opts) if gate_opts else None

    async def start(self, state: BaselineState) -> dict[str, Any]:
        return {"usage": Usage(), "hits": [], "content": ""}

    async def decide(self, state: BaselineState) -> dict[str, Any]:
        """Draft an answer without retrieval and let the gate judge it."""
        assert self.gate is not None
        usage = state["usage"].model_copy()
        question = self.reader.question(state["question"])
        outcome = await self.gate.run(self.reader.direct_request(question), usage, probe_query=question)
        decision = outcome.decision
        top_k = self.opts.top_k if isinstance(self.opts, StandardRAGOptions) else 0
        return {
            "use_retrieval": decision.retrieve,
            "content": "" if decision.retrieve else decision.signals.draft,
            "hits": top_hits(outcome.probe_hits, top_k) if decision.retrieve else [],
            "usage": usage,
            "trace": outcome.events,
        }

    def after_gate(self, state: BaselineState) -> str:
        return "retrieve" if state.get("use_retrieval", True) else "finish"

    async def retrieve(self, state: BaselineState) -> dict[str, Any]:
        assert isinstance(self.opts, StandardRAGOptions)
        usage = state["usage"].model_copy()
        start = time.perf_counter()
        hits: list[SearchHit] = state.get("hits", [])
        events: list[TraceEvent] = []
        if not hits:  # else the gate's probe search already fetched them
            query = self.reader.question(state["question"])
            hits, events = await self.recorder.search(query, self.opts.top_k, usage)
        info = InformationEvent(
            duration_s=time.perf_counter() - start,
            text=format_documents(hits, self.opts.passage_chars) if hits else "No results found.",
            ids=[h.passage.id for h in hits],
        )
        return {"hits": hits, "usage": usage, "trace": [*events, info]}

    async def answer_direct(self, state: BaselineState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        text, events = await self.reader.answer(self.reader.direct_request(state["question"]), usage)
        return {"content": text, "usage": usage, "trace": events}

    async def answer_docs(self, state: BaselineState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        request = self.reader.documents_request(state["question"], state.get("hits", []))
        text, events = await self.reader.answer(request, usage)
        return {"content": text, "usage": usage, "trace": events}

    async def finish(self, state: BaselineState) -> dict[str, Any]:
        hits = state.get("hits", [])
        passages = [h.passage for h in hits]
        answer = build_answer(
            state["question"],
            state.get("content", ""),
            trace=state.get("trace", []),
            usage=state["usage"],
            seen=passages,
            fallback=passages[:1],
        )
        return {"answer": answer}


def no_retrieval_graph(
    engine: LLMEngine, retriever: Retriever | None = None, options: NoRetrievalOptions | None = None
) -> Any:
    """Compile ``no-retrieval``: the model answers from its own knowledge."""
    nodes = BaselineNodes(engine, retriever, options or NoRetrievalOptions())
    graph = StateGraph(BaselineState)
    graph.add_node("start", nodes.start)
    graph.add_node("answer_direct", nodes.answer_direct)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "start")
    graph.add_edge("start", "answer_direct")
    graph.add_edge("answer_direct", "finish")
    graph.add_edge("finish", END)
    return graph.compile()


def standard_rag_graph(
    engine: LLMEngine, retriever: Retriever, options: StandardRAGOptions | None = None
) -> Any:
    """Compile ``standard-rag``: retrieve the top k once, then answer from them."""
    nodes = BaselineNodes(engine, retriever, options or StandardRAGOptions())
    graph = StateGraph(BaselineState)
    graph.add_node("start", nodes.start)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("answer_docs", nodes.answer_docs)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "start")
    if nodes.gate is not None:
        graph.add_node("gate", nodes.decide)
        graph.add_edge("start", "gate")
        graph.add_conditional_edges("gate", nodes.after_gate, ["retrieve", "finish"])
    else:
        graph.add_edge("start", "retrieve")
    graph.add_edge("retrieve", "answer_docs")
    graph.add_edge("answer_docs", "finish")
    graph.add_edge("finish", END)
    return graph.compile()


register_method(
    MethodSpec(
        name="no-retrieval",
        builder=no_retrieval_graph,
        options=NoRetrievalOptions,
        description="Baseline: the model answers from its own knowledge, no retrieval.",
    )
)
register_method(
    MethodSpec(
        name="standard-rag",
        builder=standard_rag_graph,
        options=StandardRAGOptions,
        description="Baseline: retrieve the top k passages once, then answer from them.",
    )
)
register_method(
    MethodSpec(
        name="adaptive-rag",
        builder=standard_rag_graph,
        options=AdaptiveRAGOptions,
        description="standard-rag behind a retrieve-or-answer gate (FLARE token confidence by "
        "default; also draft agreement, score margin or a trained classifier).",
    )
)
