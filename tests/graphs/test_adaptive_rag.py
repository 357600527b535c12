"""adaptive-rag and the gate option of standard-rag: retrieval happens only when the gate
says so, and the trace records every decision."""

from __future__ import annotations

from pathlib import Path

import pytest
from graph_doubles import PASSAGES, CrashingEngine, KeywordRetriever

from sleuth.agents.gate import retrievals_saved
from sleuth.engines.base import GenerationRequest
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import ConfigError
from sleuth.graphs.registry import ask, resume, sqlite_checkpointer, stream_steps

QUESTION = "Where was the director of Inception born?"


async def _ask(engine: ScriptedEngine, method: str = "adaptive-rag", **opts: object):
    retriever = KeywordRetriever(PASSAGES)
    answer = await ask(QUESTION, engine=engine, retriever=retriever, method=method, options=opts)
    return answer, retriever


async def test_confident_draft_is_the_answer_and_saves_the_search() -> None:
    engine = ScriptedEngine([" London"], logprob=-0.05)
    answer, retriever = await _ask(engine)
    assert answer.text == "London" and not answer.abstained
    assert retriever.queries == [] and answer.usage.searches == 0 and answer.usage.llm_calls == 1
    assert retrievals_saved(answer.trace) == 1
    assert engine.requests[0].logprobs
    gate = next(e for e in answer.trace if e.type == "note")
    assert gate.kind == "gate" and gate.data["retrieve"] is False  # type: ignore[union-attr]


async def test_unconfident_draft_triggers_retrieval_and_a_grounded_answer() -> None:
    engine = ScriptedEngine([" Paris", " London"], logprob=-3.0)
    answer, retriever = await _ask(engine, top_k=2)
    assert answer.text == "London"
    assert retriever.queries == [QUESTION] and answer.usage.llm_calls == 2
    assert retrievals_saved(answer.trace) == 0
    assert [c.id for c in answer.citations] == ["p2"]
    assert "Documents:" in engine.requests[1].messages[1].content  # type: ignore[index]


async def test_engine_without_logprobs_always_retrieves() -> None:
    class NoLogprobs(ScriptedEngine):
        async def generate(self, request: GenerationRequest):  # type: ignore[no-untyped-def]
            response = await super().generate(request)
            return response.model_copy(update={"logprobs": None})

    answer, retriever = await _ask(NoLogprobs([" Paris", " London"]))
    assert retriever.queries == [QUESTION] and answer.text == "London"
    note = next(e for e in answer.trace if e.type == "note")
    assert "no token probabilities" in note.text  # type: ignore[union-attr]


async def test_margin_gate_reuses_the_probe_search() -> None:
    engine = ScriptedEngine([" Paris", " London"])
    answer, retriever = await _ask(engine, method="standard-rag", gate={"kind": "margin", "min_margin": 0.1},
                                   top_k=2)
    # KeywordRetriever scores 1, 1/2, 1/3: margin 0.5 -> retrieve, and only one search is made
    assert retriever.queries == [QUESTION] and answer.usage.searches == 1
    assert answer.text == "London"
    info = next(e for e in answer.trace if e.type == "information")
    assert len(info.ids) == 2  # type: ignore[union-attr]


async def test_agreement_gate_with_disagreeing_samples_retrieves() -> None:
    outputs = iter([" Paris", " Rome", " Bern", " London"])
    engine = ScriptedEngine(responder=lambda r: next(outputs))
    answer, retriever = await _ask(engine, gate={"kind": "agreement", "samples": 3})
    assert answer.text == "London" and retriever.queries == [QUESTION]
    assert answer.usage.llm_calls == 4


async def test_standard_rag_has_no_gate_by_default() -> None:
    engine = ScriptedEngine([" London"])
    answer, retriever = await _ask(engine, method="standard-rag")
    assert retriever.queries == [QUESTION] and not any(e.type == "note" for e in answer.trace)


async def test_unknown_gate_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Unknown gate"):
        await _ask(ScriptedEngine([]), gate={"kind": "psychic"})


@pytest.mark.parametrize("output", ["", "<answer></answer>", "<information>x</information>"])
async def test_bad_draft_retrieves_instead_of_answering(output: str) -> None:
    engine = ScriptedEngine([output, " London"], logprob=-0.01)
    answer, retriever = await _ask(engine)
    assert retriever.queries == [QUESTION] and answer.text == "London"


async def test_streams_gate_then_answer() -> None:
    nodes = [n async for n, _ in stream_steps(QUESTION, engine=ScriptedEngine([" London"]),
                                              retriever=KeywordRetriever(PASSAGES), method="adaptive-rag")]
    assert nodes == ["start", "gate", "finish"]


async def test_resumes_after_a_crash_past_the_gate(tmp_path: Path) -> None:
    retriever = KeywordRetriever(PASSAGES)
    async with sqlite_checkpointer(tmp_path / "ck.sqlite") as saver:
        with pytest.raises(RuntimeError):
            await ask(QUESTION, engine=CrashingEngine([" Paris"], crash_at=2), retriever=retriever,
                      method="adaptive-rag", options={"gate": {"theta": 0.99}}, checkpointer=saver,
                      thread_id="a")
        engine = ScriptedEngine([" London"])
        answer = await resume("a", engine=engine, retriever=retriever, checkpointer=saver,
                              method="adaptive-rag", options={"gate": {"theta": 0.99}})
    assert answer.text == "London" and len(engine.requests) == 1
    assert retriever.queries == [QUESTION]


async def test_failing_retriever_after_the_gate_is_recorded_and_answered_without_documents() -> None:
    from graph_doubles import FlakyRetriever

    engine = ScriptedEngine([" Paris", " London"], logprob=-3.0)
    answer = await ask(QUESTION, engine=engine, retriever=FlakyRetriever(ok_calls=0), method="adaptive-rag")
    assert answer.text == "London"
    assert any(e.type == "error" and e.code == "retrieval_error" for e in answer.trace)  # type: ignore[union-attr]


async def test_very_long_question_is_cut_in_the_draft_and_the_query() -> None:
    question = "why " * 2500
    engine = ScriptedEngine([" because", " because"], logprob=-3.0)
    retriever = KeywordRetriever(PASSAGES)
    answer = await ask(question, engine=engine, retriever=retriever, method="adaptive-rag")
    assert answer.question == question and answer.text == "because"
    assert all(len(r.messages[1].content) < 2000 + 2500 for r in engine.requests)  # type: ignore[index]
    assert all(len(q) <= 2000 for q in retriever.queries)
