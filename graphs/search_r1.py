"""The Search-R1 loop as a LangGraph ``StateGraph``.

::

    START -> generate --search--> retrieve --(turns left)--> generate
                 |  \\--invalid--> correct --> generate
                 |   \\--no turns left--> force_answer --> finish -> END
                 \\--answer--> finish -> END

The model continues one assistant turn (the transcript). Generation stops at ``</search>``
and ``</answer>``; retrieved passages are appended inside ``<information>`` with protocol
tags escaped, so a passage cannot break the protocol.
"""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import Field

from sleuth.agents.evidence import cite_passages, format_documents
from sleuth.agents.gate import GateOptions
from sleuth.agents.prompts import search_r1 as prompts
from sleuth.agents.protocol import parse_step
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import ChatMessage, GenerationRequest, LLMEngine
from sleuth.graphs.gated import with_gate
from sleuth.graphs.registry import MethodSpec, register_method
from sleuth.retrieval.base import Retriever
from sleuth.types import (
    Answer,
    AnswerEvent,
    ErrorEvent,
    InformationEvent,
    Passage,
    StrictModel,
    ThinkEvent,
    TraceEvent,
    Usage,
)


class SearchR1Options(StrictModel):
    top_k: int = Field(default=3, ge=1, le=50)
    """Passages appended per search."""
    max_turns: int = Field(default=4, ge=1, le=32)
    """Model turns before an answer is forced."""
    max_tokens: int = Field(default=256, ge=16)
    """Token budget of one turn."""
    answer_max_tokens: int = Field(default=48, ge=4)
    """Token budget of a forced answer."""
    temperature: float = Field(default=0.0, ge=0.0)
    seed: int | None = 0
    max_question_chars: int = Field(default=2000, ge=16)
    """Longer questions are cut, so a 10,000-character question cannot fill the context."""
    passage_chars: int = Field(default=600, ge=50)
    """Characters of each passage shown to the model."""
    gate: GateOptions | None = None
    """A retrieve-or-answer gate in front of the loop (``None``: always run the loop)."""


class SearchR1State(TypedDict, total=False):
    question: str
    transcript: str
    turn: int
    action: Literal["search", "answer", "invalid"]
    content: str
    seen: Annotated[list[Passage], operator.add]
    last_hits: list[Passage]
    trace: Annotated[list[TraceEvent], operator.add]
    usage: Usage
    forced: bool
    answer: Answer


STOPS = ["</search>", "</answer>"]


class SearchR1Nodes:
    """The graph's nodes, bound to one engine, retriever and option set."""

    def __init__(self, engine: LLMEngine, retriever: Retriever, options: SearchR1Options) -> None:
        self.recorder = StepRecorder(engine, retriever)
        self.opts = options

    def _request(self, state: SearchR1State, transcript: str, max_tokens: int, stop: list[str]) -> GenerationRequest:
        question = state["question"][: self.opts.max_question_chars]
        return GenerationRequest(
            messages=[
                ChatMessage(role="system", content=prompts.SYSTEM),
                ChatMessage(role="user", content=prompts.user_message(question)),
                ChatMessage(role="assistant", content=transcript),
            ],
            continue_assistant=True,
            stop=stop,
            max_tokens=max_tokens,
            temperature=self.opts.temperature,
            seed=self.opts.seed,
        )

    async def start(self, state: SearchR1State) -> dict[str, Any]:
        return {"transcript": prompts.ASSISTANT_START, "turn": 0, "usage": Usage(), "last_hits": []}

    async def generate(self, state: SearchR1State) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        request = self._request(state, state["transcript"], self.opts.max_tokens, STOPS)
        response, elapsed = await self.recorder.generate(request, usage)
        step = parse_step(response.text, response.finish_reason, response.stop_sequence)
        kept = step.kept_text
        if step.action == "search":
            kept = _close_open_tag(kept, "search")
        elif step.action == "answer":
            kept = _close_open_tag(kept, "answer")
        event = ThinkEvent(
            ts=time.time() - elapsed,
            duration_s=elapsed,
            text=step.think or response.text.strip(),
            prompt_tokens=response.prompt_tokens,
            completion_tokens=response.completion_tokens,
        )
        trace: list[TraceEvent] = [event]
        if step.action == "invalid":
            trace.append(ErrorEvent(message=f"invalid action: {step.reason}", code="invalid_action"))
        return {
            "transcript": state["transcript"] + kept,
            "turn": state["turn"] + 1,
            "action": step.action,
            "content": step.content,
            "usage": usage,
            "trace": trace,
        }

    async def retrieve(self, state: SearchR1State) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        start = time.perf_counter()
        hits, events = await self.recorder.search(state["content"], self.opts.top_k, usage)
        docs = format_documents(hits, self.opts.passage_chars) if hits else "No results found."
        info = InformationEvent(
            duration_s=time.perf_counter() - start, text=docs, ids=[h.passage.id for h in hits]
        )
        passages = [h.passage for h in hits]
        return {
            "transcript": f"{state['transcript']}\n\n<information>{docs}</information>\n\n<think>",
            "usage": usage,
            "trace": [*events, info],
            "seen": passages,
            "last_hits": passages or state.get("last_hits", []),
        }

    async def correct(self, state: SearchR1State) -> dict[str, Any]:
        return {"transcript": state["transcript"] + prompts.CORRECTION}

    async def force_answer(self, state: SearchR1State) -> dict[str, Any]:
        usage = state["usage"].model_copy()
        transcript = state["transcript"] + prompts.FORCE_ANSWER
        request = self._request(state, transcript, self.opts.answer_max_tokens, ["</answer>", "\n"])
        response, elapsed = await self.recorder.generate(request, usage)
        text = " ".join(parse_step("<answer>" + response.text, "stop", "</answer>").content.split())
        event = ThinkEvent(
            duration_s=elapsed,
            text="(forced answer)",
            prompt_tokens=response.prompt_tokens,
            completion_tokens=response.completion_tokens,
        )
        return {
            "transcript": transcript + response.text + "</answer>",
            "action": "answer" if text else "invalid",
            "content": text,
            "usage": usage,
            "trace": [event],
            "forced": True,
        }

    async def finish(self, state: SearchR1State) -> dict[str, Any]:
        forced = bool(state.get("forced"))
        text = state.get("content", "") if state.get("action") == "answer" else ""
        seen = state.get("seen", [])
        citations = cite_passages(text, seen, state.get("last_hits", [])) if text else []
        abstained = not text
        answer = Answer(
            question=state["question"],
            text=text,
            citations=citations,
            abstained=abstained,
            abstain_reason="the model produced no answer" if abstained else None,
            trace=[*state.get("trace", []), AnswerEvent(text=text, forced=forced)],
            usage=state["usage"],
        )
        return {"answer": answer}

    # --- routing -------------------------------------------------------------------------
    def after_generate(self, state: SearchR1State) -> str:
        action = state["action"]
        if action == "answer":
            return "finish"
        if action == "search":
            return "retrieve"
        return "correct" if state["turn"] < self.opts.max_turns else "force_answer"

    def after_retrieve(self, state: SearchR1State) -> str:
        return "generate" if state["turn"] < self.opts.max_turns else "force_answer"


def _close_open_tag(text: str, tag: str) -> str:
    """The engine strips the stop sequence; put the closing tag back in the transcript."""
    if text.rstrip().endswith(f"</{tag}>"):
        return text
    return text + f"</{tag}>"


def search_r1_graph(
    engine: LLMEngine, retriever: Retriever, options: SearchR1Options | None = None
) -> Any:
    """Compile the Search-R1 graph (see the module docstring for its shape)."""
    opts = options or SearchR1Options()
    nodes = SearchR1Nodes(engine, retriever, opts)
    graph = StateGraph(SearchR1State)
    graph.add_node("start", nodes.start)
    graph.add_node("generate", nodes.generate)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("correct", nodes.correct)
    graph.add_node("force_answer", nodes.force_answer)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "start")
    graph.add_edge("start", "generate")
    graph.add_conditional_edges("generate", nodes.after_generate)
    graph.add_conditional_edges("retrieve", nodes.after_retrieve)
    graph.add_edge("correct", "generate")
    graph.add_edge("force_answer", "finish")
    graph.add_edge("finish", END)
    return with_gate(graph, engine, retriever, opts.gate, opts)


register_method(
    MethodSpec(
        name="search-r1",
        builder=search_r1_graph,
        options=SearchR1Options,
        description="Search-R1 protocol: think, search, read <information>, answer.",
    )
)
