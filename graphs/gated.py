"""The retrieve-or-answer gate in front of any method's graph.

::

    START -> gate --answer---> finish -> END            (the confident draft is the answer)
               \\--retrieve--> method -> finish -> END   (the method's own graph, as a subgraph)

``standard-rag`` and ``ircot`` place the gate inside their own graphs. The other methods
(``search-r1``, ``evidence-loop``, ``mcts-rag``) take a ``gate`` option too, and their
builders pass their graph through :func:`with_gate`: the gate drafts a short answer from
the model's own knowledge and, only when the gate's signals say the draft cannot be
trusted, runs the method. The final :class:`~sleuth.types.Answer` carries the gate's calls
first in its trace and in its usage, so an eval counts what the gate cost and
:func:`~sleuth.agents.gate.retrievals_saved` counts what it saved.

The method runs as a LangGraph subgraph, so it streams and checkpoints with the outer graph;
a run that crashes inside it resumes inside it.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from sleuth.agents.gate import GateOptions, GateStep, make_gate
from sleuth.agents.reader import Reader, ReaderOptions, build_answer
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import LLMEngine
from sleuth.retrieval.base import Retriever
from sleuth.types import Answer, TraceEvent, Usage


class GatedState(TypedDict, total=False):
    question: str
    answer: Answer
    gate_events: list[TraceEvent]
    gate_usage: Usage
    gate_draft: str
    gate_retrieve: bool


def reader_options(options: Any) -> ReaderOptions:
    """The draft's reader settings, taken from a method's options where it has them."""
    fields = {name: getattr(options, name) for name in ReaderOptions.model_fields if hasattr(options, name)}
    return ReaderOptions(**fields)


class GateNodes:
    def __init__(self, engine: LLMEngine, retriever: Retriever, gate: GateOptions, reader: ReaderOptions) -> None:
        recorder = StepRecorder(engine, retriever)
        self.reader = Reader(recorder, reader)
        self.step = GateStep(recorder, make_gate(gate), gate)

    async def gate(self, state: GatedState) -> dict[str, Any]:
        usage = Usage()
        question = self.reader.question(state["question"])
        outcome = await self.step.run(self.reader.direct_request(question), usage, probe_query=question)
        return {
            "gate_events": outcome.events,
            "gate_usage": usage,
            "gate_draft": outcome.decision.signals.draft,
            "gate_retrieve": outcome.decision.retrieve,
        }

    def route(self, state: GatedState) -> str:
        return "method" if state.get("gate_retrieve", True) else "finish"

    async def finish(self, state: GatedState) -> dict[str, Any]:
        events = state.get("gate_events", [])
        usage = state.get("gate_usage", Usage())
        inner = state.get("answer")
        if inner is None:  # the gate answered
            answer = build_answer(state["question"], state.get("gate_draft", ""), trace=events, usage=usage,
                                  seen=[])
        else:
            answer = inner.model_copy(update={"trace": [*events, *inner.trace], "usage": usage.add(inner.usage)})
        return {"answer": answer}


def with_gate(graph: StateGraph[Any], engine: LLMEngine, retriever: Retriever, gate: GateOptions | None,
              options: Any) -> Any:
    """Compile ``graph``; with a ``gate``, behind that gate (see the module docstring)."""
    if gate is None:
        return graph.compile()
    nodes = GateNodes(engine, retriever, gate, reader_options(options))
    outer = StateGraph(GatedState)
    outer.add_node("gate", nodes.gate)
    outer.add_node("method", graph.compile())
    outer.add_node("finish", nodes.finish)
    outer.add_edge(START, "gate")
    outer.add_conditional_edges("gate", nodes.route, ["method", "finish"])
    outer.add_edge("method", "finish")
    outer.add_edge("finish", END)
    return outer.compile()


__all__ = ["GatedState", "reader_options", "with_gate"]
