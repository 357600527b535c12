r"""IRCoT as a LangGraph ``StateGraph``: one chain-of-thought sentence, one retrieval, repeat.

::

    START -> start -> retrieve -> reason --answer--> finish -> END
                         ^          |  \--no sentence, a repeat, or max_steps--> force_answer -> finish
                         |          |   \--gate: no retrieval needed--> reason
                         \----------/ (the sentence is the next query)

The first retrieval uses the question; each later one uses the sentence just written
(Trivedi et al., 2023). With a ``gate`` the graph retrieves after a sentence only when the
gate says so (FLARE-style active retrieval).
"""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph

from sleuth.agents.evidence import add_passages, format_documents, top_hits
from sleuth.agents.gate import GateStep, make_gate
from sleuth.agents.ircot import IRCoTOptions, IRCoTReasoner, read_step, step_problem
from sleuth.agents.reader import build_answer, think_event
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import LLMEngine
from sleuth.graphs.registry import MethodSpec, register_method
from sleuth.retrieval.base import Retriever
from sleuth.types import Answer, InformationEvent, Passage, SearchHit, TraceEvent, Usage

Route = Literal["retrieve", "reason", "force_answer", "finish"]


class IRCoTState(TypedDict, total=False):
    question: str
    passages: list[Passage]
    last_hits: list[Passage]
    probe_hits: list[SearchHit]
    cot: list[str]
    step: int
    query: str
    route: Route
    content: str
    forced: bool
    trace: Annotated[list[TraceEvent], operator.add]
    usage: Usage
    answer: Answer


class IRCoTNodes:
    def __init__(self, engine: LLMEngine, retriever: Retriever, options: IRCoTOptions) -> None:
        self.recorder = StepRecorder(engine, retriever)
        self.reasoner = IRCoTReasoner(self.recorder, options)
        self.opts = options
        self.gate = GateStep(self.recorder, make_gate(options.gate), options.gate) if options.gate else None

    async def start(self, state: IRCoTState) -> dict[str, Any]:
        return {"usage": Usage(), "passages": [], "last_hits": [], "probe_hits": [], "cot": [],
                "step": 0, "query": state["question"][: self.opts.max_question_chars]}

    async def retrieve(self, state: IRCoTState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        start = time.perf_counter()
        hits: list[SearchHit] = state.get("probe_hits", [])
        events: list[TraceEvent] = []
        if not hits:
            hits, events = await self.recorder.search(state["query"], self.opts.top_k, usage)
        hits = top_hits(hits, self.opts.top_k)
        info = InformationEvent(
            duration_s=time.perf_counter() - start,
            text=format_documents(hits, self.opts.passage_chars) if hits else "No results found.",
            ids=[h.passage.id for h in hits],
        )
        new = [h.passage for h in hits]
        return {
            "passages": add_passages(state.get("passages", []), new, self.opts.max_passages),
            "last_hits": new or state.get("last_hits", []),
            "probe_hits": [],
            "usage": usage,
            "trace": [*events, info],
        }

    async def reason(self, state: IRCoTState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        cot = state.get("cot", [])
        request = self.reasoner.request(state["question"], state.get("passages", []), cot)
        events: list[TraceEvent] = []
        wants_retrieval, probe_hits = True, []
        if self.gate is not None:
            outcome = await self.gate.run(request, usage, extract=lambda text: read_step(text)[0])
            sentence, answer = read_step(outcome.decision.signals.draft)
            wants_retrieval, probe_hits = outcome.decision.retrieve, outcome.probe_hits
            events.extend(outcome.events)
        else:
            response, elapsed = await self.recorder.generate(request, usage)
            sentence, answer = read_step(response.text)
            events.append(think_event(response, elapsed, text=sentence or response.text.strip()))
        step = state.get("step", 0) + 1
        problem = step_problem(sentence, cot)
        if problem is not None:
            events.append(problem)
        route = self._route(answer, problem is not None, step, wants_retrieval)
        return {
            "cot": cot if problem is not None else [*cot, sentence],
            "step": step,
            "query": sentence[: self.opts.max_question_chars] or state.get("query", ""),
            "content": answer or "",
            "route": route,
            "probe_hits": probe_hits,
            "usage": usage,
            "trace": events,
        }

    def _route(self, answer: str | None, failed: bool, step: int, wants_retrieval: bool) -> Route:
        if answer:
            return "finish"
        if failed or step >= self.opts.max_steps:
            return "force_answer"
        return "retrieve" if wants_retrieval else "reason"

    async def force_answer(self, state: IRCoTState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        text, events = await self.reasoner.force_answer(
            state["question"], state.get("passages", []), state.get("cot", []), usage)
        return {"content": text, "forced": True, "usage": usage, "trace": events}

    async def finish(self, state: IRCoTState) -> dict[str, Any]:
        answer = build_answer(
            state["question"],
            state.get("content", ""),
            trace=state.get("trace", []),
            usage=state["usage"],
            seen=state.get("passages", []),
            fallback=state.get("last_hits", [])[:1],
            forced=bool(state.get("forced")),
        )
        return {"answer": answer}

    def after_reason(self, state: IRCoTState) -> Route:
        return state["route"]


def ircot_graph(engine: LLMEngine, retriever: Retriever, options: IRCoTOptions | None = None) -> Any:
    """Compile the IRCoT graph (see the module docstring for its shape)."""
    nodes = IRCoTNodes(engine, retriever, options or IRCoTOptions())
    graph = StateGraph(IRCoTState)
    graph.add_node("start", nodes.start)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("reason", nodes.reason)
    graph.add_node("force_answer", nodes.force_answer)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "start")
    graph.add_edge("start", "retrieve")
    graph.add_edge("retrieve", "reason")
    graph.add_conditional_edges("reason", nodes.after_reason,
                                ["retrieve", "reason", "force_answer", "finish"])
    graph.add_edge("force_answer", "finish")
    graph.add_edge("finish", END)
    return graph.compile()


register_method(
    MethodSpec(
        name="ircot",
        builder=ircot_graph,
        options=IRCoTOptions,
        description="IRCoT: interleave one chain-of-thought sentence with one retrieval, until "
        "the answer.",
    )
)
