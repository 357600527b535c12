r"""EvidenceLoop as a LangGraph ``StateGraph``: notes, a ledger, verification, honest refusal.

::

    START -> start -> retrieve -> note -> draft -> verify --supported--> finish -> END
               \         ^      \                    \--searches left--> plan --new query--> retrieve
                \        |       \--a name search found no page on it--> plan (or finish)
                 \       \-------------------------------------------------/ \--nothing new--> finish
                  \--no search budget--> finish        \--budget spent--> finish (abstains, with the reason)

After each search the agent writes an evidence note (key facts, uncertain facts, or "no
useful evidence"); its claims go into an :class:`~sleuth.agents.ledger.EvidenceLedger`
with the passage ids behind them. A draft answer from the ledger is verified by an LLM
judge, by looking for the answer string in the cited passages, and (``coverage``) by
checking that every name the question uses occurs in a passage read and that the draft does
not merely repeat the question's one name (:mod:`sleuth.agents.coverage`; opt-in
``connect``: each name also occurs near the answer). Unsupported drafts send the agent to
plan the missing hop: a name no passage mentions is searched for as it is (a name not near
the answer, together with the answer), otherwise the model writes the query.
When the budget is spent it abstains and says why (or, with ``on_unsupported="best-draft"``,
gives the drafts' majority marked as unverified). Final answers cite the passages that hold
the answer.
"""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from sleuth.agents.answers import majority
from sleuth.agents.coverage import names_page
from sleuth.agents.evidence import add_passages, format_documents
from sleuth.agents.evidence_steps import (
    UNVERIFIED_NOTE,
    EvidenceAgent,
    EvidenceLoopOptions,
    Verification,
)
from sleuth.agents.ledger import Claim, EvidenceLedger
from sleuth.agents.reader import build_answer
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import LLMEngine
from sleuth.graphs.gated import with_gate
from sleuth.graphs.registry import MethodSpec, register_checkpoint_types, register_method
from sleuth.retrieval.base import Retriever
from sleuth.types import (
    Answer,
    Citation,
    InformationEvent,
    NoteEvent,
    Passage,
    SearchHit,
    TraceEvent,
    Usage,
)

register_checkpoint_types(EvidenceLedger, Claim, Verification)


class EvidenceState(TypedDict, total=False):
    question: str
    query: str
    queries: list[str]
    hits: list[SearchHit]
    read: list[Passage]
    """Every passage found so far, once each, in the order found (the draft reads them)."""
    context_ids: list[str]
    """The passages found by searching for the question or a planned query: their text can
    show that a name the question uses is covered (a search for a bare name counts by title)."""
    ledger: EvidenceLedger
    draft: str
    drafts: list[str]
    """Every draft verified so far, in order, "" for one that answers nothing
    (``on_unsupported="best-draft"`` votes over them)."""
    verification: Verification
    stop_reason: str
    trace: Annotated[list[TraceEvent], operator.add]
    usage: Usage
    answer: Answer


def _citations(ledger: EvidenceLedger, answer: str) -> list[Citation]:
    """Up to three cited passages that hold the answer, else the first three cited."""
    backing = ledger.supporting(answer) or ledger.cited()
    return [Citation(id=p.id, title=p.title) for p in backing[:3]]


def searching_a_name(state: EvidenceState) -> bool:
    """Whether the query is a name the question uses that no passage read mentioned, as the
    last verification found (the plan searches for those first)."""
    verdict = state.get("verification")
    return verdict is not None and state.get("query", "") in verdict.missing


class EvidenceLoopNodes:
    def __init__(self, engine: LLMEngine, retriever: Retriever, options: EvidenceLoopOptions) -> None:
        self.recorder = StepRecorder(engine, retriever)
        self.agent = EvidenceAgent(self.recorder, options)
        self.opts = options

    async def start(self, state: EvidenceState) -> dict[str, Any]:
        stop = "" if self.opts.max_searches else "no search budget (max_searches=0): nothing to verify against"
        return {"query": self.agent.question(state["question"]), "queries": [], "hits": [], "read": [],
                "ledger": EvidenceLedger(), "draft": "", "stop_reason": stop, "usage": Usage(),
                "context_ids": []}

    async def retrieve(self, state: EvidenceState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        start = time.perf_counter()
        hits, events = await self.recorder.search(state["query"], self.opts.top_k, usage)
        name_search = searching_a_name(state)
        if name_search:  # keep the pages about the name, not those that mention it
            hits = [h for h in hits if names_page(h.passage.title, state["query"])]
        info = InformationEvent(
            duration_s=time.perf_counter() - start,
            text=format_documents(hits, self.opts.passage_chars) if hits else "No results found.",
            ids=[h.passage.id for h in hits],
        )
        kept = state.get("read", [])  # every search's passages, linked pages included
        read = add_passages(kept, [h.passage for h in hits], len(kept) + len(hits))
        context = state.get("context_ids", [])
        if not name_search:
            context = [*context, *(h.passage.id for h in hits if h.passage.id not in context)]
        return {"hits": hits, "read": read, "queries": [*state.get("queries", []), state["query"]],
                "context_ids": context, "usage": usage, "trace": [*events, info]}

    async def note(self, state: EvidenceState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        hits = state.get("hits", [])
        note, events = await self.agent.note(state["question"], hits, len(state.get("queries", [])), usage)
        ledger = state["ledger"].model_copy(deep=True)
        ledger.add(note, [h.passage for h in hits])
        event = NoteEvent(
            kind="evidence_note",
            text=note.text if note.useful or note.claims else "No useful evidence.",
            data={"hop": note.hop, "useful": note.useful, "claims": [c.model_dump() for c in note.claims],
                  "dropped": note.dropped, "ledger_size": len(ledger.claims)},
        )
        return {"ledger": ledger, "usage": usage, "trace": [*events, event]}

    async def draft(self, state: EvidenceState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        answer, events = await self.agent.draft(state["question"], state["ledger"], state.get("read", []), usage)
        return {"draft": answer, "usage": usage, "trace": events}

    async def verify(self, state: EvidenceState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        verdict, events = await self.agent.verify(state["question"], state["ledger"], state.get("draft", ""),
                                                  state.get("read", []), usage, set(state.get("context_ids", [])))
        status = "supported" if verdict.supported else "unsupported"
        event = NoteEvent(kind="verification", text=f"{verdict.answer or '(no answer)'}: {status} ({verdict.reason})",
                          data=verdict.model_dump())
        draft = "" if verdict.no_answer else verdict.answer
        return {"verification": verdict, "drafts": [*state.get("drafts", []), draft], "usage": usage,
                "trace": [*events, event]}

    async def plan(self, state: EvidenceState) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        verdict = state["verification"]
        query, events = await self.agent.plan(state["question"], state["ledger"], state.get("queries", []), usage,
                                              verdict.next_queries())
        event = NoteEvent(kind="plan", text=query or "nothing new to search for",
                          data={"query": query, "because": verdict.reason,
                                "name_search": bool(query) and query in verdict.missing})
        update: dict[str, Any] = {"query": query, "usage": usage, "trace": [*events, event]}
        if not query:
            update["stop_reason"] = "no new search query was left to try"
        return update

    async def finish(self, state: EvidenceState) -> dict[str, Any]:
        verdict = state.get("verification")
        ledger = state.get("ledger") or EvidenceLedger()
        trace = state.get("trace", [])
        if verdict is not None and verdict.supported:
            answer = build_answer(state["question"], verdict.answer, trace=trace, usage=state["usage"],
                                  citations=_citations(ledger, verdict.answer))
        elif self.opts.on_unsupported == "best-draft" and (best := majority(state.get("drafts", []))[0]):
            why = NoteEvent(kind=UNVERIFIED_NOTE, text=f"answering {best!r} unverified: "
                            f"{self._refusal(state, verdict, ledger)}", data={"answer": best})
            answer = build_answer(state["question"], best, trace=[*trace, why], usage=state["usage"],
                                  citations=_citations(ledger, best), forced=True)
            return {"answer": answer, "trace": [why]}
        else:
            answer = build_answer(state["question"], "", trace=trace, usage=state["usage"],
                                  abstain_reason=self._refusal(state, verdict, ledger))
        return {"answer": answer}

    def _refusal(self, state: EvidenceState, verdict: Verification | None, ledger: EvidenceLedger) -> str:
        searches = len(state.get("queries", []))
        if state.get("stop_reason") and searches == 0:
            return state["stop_reason"]
        if not ledger.claims:
            return f"no useful evidence found in {searches} searches"
        why = f"draft {verdict.answer!r} not supported: {verdict.reason}" if verdict and verdict.answer else (
            "the evidence gathered does not answer the question")
        tail = state.get("stop_reason") or "search budget spent"
        return f"no supported answer after {searches} searches ({tail}); {why}"

    # --- routing --------------------------------------------------------------------------------
    def after_start(self, state: EvidenceState) -> str:
        return "finish" if state.get("stop_reason") else "retrieve"

    def after_retrieve(self, state: EvidenceState) -> str:
        """A search for a name that found no page about it changes nothing: plan again."""
        if searching_a_name(state) and not state.get("hits"):
            return "plan" if len(state.get("queries", [])) < self.opts.max_searches else "finish"
        return "note"

    def after_verify(self, state: EvidenceState) -> str:
        if state["verification"].supported:
            return "finish"
        return "plan" if len(state.get("queries", [])) < self.opts.max_searches else "finish"

    def after_plan(self, state: EvidenceState) -> str:
        return "retrieve" if state.get("query") else "finish"


def evidence_loop_graph(engine: LLMEngine, retriever: Retriever,
                        options: EvidenceLoopOptions | None = None) -> Any:
    """Compile the EvidenceLoop graph (see the module docstring for its shape)."""
    opts = options or EvidenceLoopOptions()
    nodes = EvidenceLoopNodes(engine, retriever, opts)
    graph = StateGraph(EvidenceState)
    for name in ("start", "retrieve", "note", "draft", "verify", "plan", "finish"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_edge(START, "start")
    graph.add_conditional_edges("start", nodes.after_start, ["retrieve", "finish"])
    graph.add_conditional_edges("retrieve", nodes.after_retrieve, ["note", "plan", "finish"])
    graph.add_edge("note", "draft")
    graph.add_edge("draft", "verify")
    graph.add_conditional_edges("verify", nodes.after_verify, ["plan", "finish"])
    graph.add_conditional_edges("plan", nodes.after_plan, ["retrieve", "finish"])
    graph.add_edge("finish", END)
    return with_gate(graph, engine, retriever, opts.gate, opts)


register_method(
    MethodSpec(
        name="evidence-loop",
        builder=evidence_loop_graph,
        options=EvidenceLoopOptions,
        description="EvidenceLoop: evidence notes after each search, a claim->passage ledger, "
        "verified answers with citations, and explained refusals.",
    )
)
