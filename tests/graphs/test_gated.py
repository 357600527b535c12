"""The gate option of search-r1, evidence-loop and mcts-rag: a confident draft answers
without running the method; otherwise the method runs as a subgraph and the answer carries
the gate's calls and decision."""

from __future__ import annotations

from pathlib import Path

import pytest
from graph_doubles import PASSAGES, KeywordRetriever

from sleuth.agents.gate import retrievals_saved
from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.engines.scripted import ScriptedEngine
from sleuth.graphs.registry import ask, resume, sqlite_checkpointer, stream_steps

QUESTION = "Where was the director of Inception born?"
SEARCH_R1 = [
    "I need the director.</think>\n<search>Inception director</search>",
    "Nolan directed it.</think>\n<search>Christopher Nolan born</search>",
    "He was born in London.</think>\n<answer>London</answer>",
]


@pytest.mark.parametrize("method", ["search-r1", "evidence-loop", "mcts-rag"])
async def test_confident_draft_answers_without_running_the_method(method: str) -> None:
    engine = ScriptedEngine([" London"], logprob=-0.05)
    retriever = KeywordRetriever(PASSAGES)
    answer = await ask(QUESTION, engine=engine, retriever=retriever, method=method,
                       options={"gate": {"kind": "token-confidence"}})
    assert answer.text == "London" and not answer.abstained
    assert retriever.queries == [] and answer.usage.searches == 0 and answer.usage.llm_calls == 1
    assert retrievals_saved(answer.trace) == 1 and answer.method == method
    assert engine.requests[0].logprobs


async def test_unconfident_draft_runs_search_r1_and_counts_the_gate_in_its_cost() -> None:
    engine = ScriptedEngine([" Paris", *SEARCH_R1], logprob=-3.0)
    retriever = KeywordRetriever(PASSAGES)
    answer = await ask(QUESTION, engine=engine, retriever=retriever, method="search-r1",
                       options={"gate": {"kind": "token-confidence", "theta": 0.4}, "top_k": 2})
    assert answer.text == "London" and [c.id for c in answer.citations] == ["p2"]
    assert retriever.queries == ["Inception director", "Christopher Nolan born"]
    assert answer.usage.llm_calls == 4 and answer.usage.searches == 2
    types = [e.type for e in answer.trace]
    assert types[:2] == ["think", "note"] and types.count("search") == 2 and types[-1] == "answer"
    assert retrievals_saved(answer.trace) == 0
    assert answer.trace[1].data["retrieve"] is True  # type: ignore[union-attr]


async def test_without_a_gate_the_graph_is_unchanged() -> None:
    nodes = [n async for n, _ in stream_steps(QUESTION, engine=ScriptedEngine(SEARCH_R1),
                                              retriever=KeywordRetriever(PASSAGES), method="search-r1")]
    assert nodes[0] == "start" and "gate" not in nodes


async def test_streams_the_gate_then_the_method_subgraph() -> None:
    engine = ScriptedEngine([" Paris", *SEARCH_R1], logprob=-3.0)
    nodes = [n async for n, _ in stream_steps(QUESTION, engine=engine, retriever=KeywordRetriever(PASSAGES),
                                              method="search-r1", options={"gate": {}})]
    assert nodes == ["gate", "method", "finish"]


class CrashAt(ScriptedEngine):
    def __init__(self, outputs: list[str], crash_at: int) -> None:
        super().__init__(outputs, logprob=-3.0)
        self.crash_at = crash_at

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        if len(self.requests) + 1 >= self.crash_at:
            raise RuntimeError("engine crashed")
        return await super().generate(request)


async def test_crash_inside_the_method_resumes_inside_it(tmp_path: Path) -> None:
    retriever = KeywordRetriever(PASSAGES)
    options = {"gate": {}, "top_k": 2}
    async with sqlite_checkpointer(tmp_path / "ck.sqlite") as saver:
        with pytest.raises(RuntimeError, match="crashed"):
            # the gate's draft and the first two search-r1 turns finish; the third turn crashes
            await ask(QUESTION, engine=CrashAt([" Paris", *SEARCH_R1], crash_at=4), retriever=retriever,
                      method="search-r1", options=options, checkpointer=saver, thread_id="t")
        assert retriever.queries == ["Inception director", "Christopher Nolan born"]
        engine = ScriptedEngine(SEARCH_R1[2:], logprob=-3.0)
        answer = await resume("t", engine=engine, retriever=retriever, checkpointer=saver,
                              method="search-r1", options=options)
    assert answer.text == "London" and len(engine.requests) == 1
    assert retriever.queries == ["Inception director", "Christopher Nolan born"]
    assert [e.type for e in answer.trace][:2] == ["think", "note"]
    assert answer.usage.llm_calls == 4
