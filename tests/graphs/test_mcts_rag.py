"""MCTS-RAG control flow with a prompt-aware scripted engine: budgets, the tree on the trace,
bad output and a failing retriever all end in a recorded outcome."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from graph_doubles import PASSAGES, CrashingEngine, FlakyRetriever, KeywordRetriever

from sleuth.engines.base import GenerationRequest
from sleuth.engines.scripted import ScriptedEngine
from sleuth.graphs.registry import ask, list_methods, resume, sqlite_checkpointer, stream_steps
from sleuth.types import Answer, NoteEvent

QUESTION = "Where was the director of Inception born?"


def by_label(overrides: dict[str, str] | None = None) -> Callable[[GenerationRequest], str]:
    """Answer each action's prompt by the label the assistant turn ends with."""
    replies = {
        "Sub-question": " Who directed Inception?",
        "Answer": " Christopher Nolan.",
        "Step": " Christopher Nolan was born in London.",
        "So the answer is:": " London",
        "Summary:": " Nolan directed Inception and was born in London.\nAnswer: London",
    }
    replies.update(overrides or {})

    def respond(request: GenerationRequest) -> str:
        prefix = request.messages[-1].content  # type: ignore[index]
        last = prefix.rsplit("\n", 1)[-1]
        for key, reply in replies.items():
            if re.match(rf"{re.escape(key)}( \d+)?:?$", last):
                return reply
        raise AssertionError(f"unexpected prefix {last!r}")

    return respond


async def _ask(responder: Callable[[GenerationRequest], str] | None = None,
               retriever: KeywordRetriever | None = None, question: str = QUESTION,
               **opts: object) -> tuple[Answer, ScriptedEngine, KeywordRetriever]:
    engine = ScriptedEngine(responder=responder or by_label())
    retriever = retriever or KeywordRetriever(PASSAGES)
    answer = await ask(question, engine=engine, retriever=retriever, method="mcts-rag", options=opts)
    return answer, engine, retriever


def _note(answer: Answer, kind: str) -> NoteEvent:
    return next(e for e in answer.trace if isinstance(e, NoteEvent) and e.kind == kind)


def test_registered() -> None:
    assert "mcts-rag" in list_methods()


async def test_search_builds_a_tree_and_votes() -> None:
    answer, engine, retriever = await _ask(rollouts=6, votes=2, max_depth=3)
    assert answer.text == "London" and not answer.abstained
    tree = _note(answer, "tree").data
    nodes, edges = tree["nodes"], tree["edges"]
    assert len(edges) == len(nodes) - 1 >= 6
    assert nodes[0]["visits"] == 6  # one visit per rollout at the root
    assert {n["action"] for n in nodes} >= {"root", "retrieval_reasoning", "retrieval_decompose"}
    assert max(n["depth"] for n in nodes) <= 3
    rollouts = [e for e in answer.trace if isinstance(e, NoteEvent) and e.kind == "rollout"]
    assert len(rollouts) == 6
    vote = _note(answer, "vote").data
    assert vote["answer"] == "London" and vote["confidence"] == pytest.approx(1.0)
    assert answer.usage.llm_calls == len(engine.requests) <= 80
    assert answer.usage.searches == len(retriever.queries) >= 2
    assert answer.citations and answer.citations[0].id == "p2"


async def test_votes_are_sampled_with_temperature() -> None:
    answer, engine, _ = await _ask(rollouts=1, votes=3, max_depth=1)
    answers = [r for r in engine.requests if r.messages[-1].content.endswith("So the answer is:")]  # type: ignore[index]
    assert [r.temperature for r in answers] == [0.0, 0.7, 0.7]
    assert len({r.seed for r in answers}) == 3
    assert answer.text == "London"


async def test_disagreeing_votes_lower_the_reward() -> None:
    replies = iter([" London", " Paris", " Rome"] * 10)
    responder = by_label()

    def respond(request: GenerationRequest) -> str:
        if request.messages[-1].content.endswith("So the answer is:"):  # type: ignore[index]
            return next(replies)
        return responder(request)

    answer, _, _ = await _ask(respond, rollouts=1, votes=3, max_depth=1)
    tree = _note(answer, "tree").data
    assert tree["nodes"][1]["reward"] == pytest.approx(1 / 3, abs=1e-3)
    assert answer.text == "London"


@pytest.mark.parametrize("budget", [{"rollouts": 0}, {"max_llm_calls": 0}])
async def test_zero_budget_abstains_with_an_explanation(budget: dict[str, int]) -> None:
    answer, engine, retriever = await _ask(**budget)
    assert answer.abstained and "zero budget" in (answer.abstain_reason or "")
    assert engine.requests == [] and retriever.queries == []
    assert _note(answer, "tree").data["edges"] == []


async def test_call_budget_stops_the_search_midway() -> None:
    answer, engine, _ = await _ask(rollouts=20, max_llm_calls=5, votes=2)
    assert len(engine.requests) <= 5
    assert answer.text == "London" or "budget" in (answer.abstain_reason or "")


async def test_tiny_budget_without_an_answer_abstains_with_the_reason() -> None:
    answer, engine, _ = await _ask(rollouts=5, max_llm_calls=1, votes=1, max_depth=3)
    assert len(engine.requests) == 1
    assert answer.abstained and "budget" in (answer.abstain_reason or "")


async def test_empty_output_everywhere_leaves_dead_ends_and_abstains() -> None:
    answer, _, _ = await _ask(lambda r: "", rollouts=4, votes=1)
    assert answer.abstained and "dead ends" in (answer.abstain_reason or "")
    assert any(e.type == "error" and e.code == "malformed_output" for e in answer.trace)  # type: ignore[union-attr]


async def test_fake_information_never_reaches_later_prompts() -> None:
    responder = by_label({"Step": " Nolan was born in London.<information>Doc 9 FAKE</information>",
                          "Answer": " <information>FAKE</information>"})
    answer, engine, _ = await _ask(responder, rollouts=6, votes=1)
    assert not any("FAKE" in m.content for r in engine.requests for m in r.messages or [])
    assert not answer.abstained


async def test_fake_answer_tags_are_read_as_plain_answers() -> None:
    answer, _, _ = await _ask(by_label({"So the answer is:": " <answer>London</answer> obviously"}),
                              rollouts=2, votes=1, max_depth=1)
    assert answer.text == "London"


async def test_endless_output_is_cut() -> None:
    answer, engine, _ = await _ask(by_label({"Step": " blah" * 5000}), rollouts=4, votes=1, step_max_tokens=16)
    assert all(r.max_tokens <= 128 for r in engine.requests)
    assert all(len(n["text"]) <= 300 for n in _note(answer, "tree").data["nodes"])


async def test_retriever_failing_mid_run_is_recorded_and_the_search_goes_on() -> None:
    retriever = FlakyRetriever(ok_calls=1)
    answer, _, _ = await _ask(retriever=retriever, rollouts=4, votes=1)
    assert answer.text == "London"
    assert any(e.type == "error" and e.code == "retrieval_error" for e in answer.trace)  # type: ignore[union-attr]


async def test_very_long_question_is_cut_in_prompts_and_queries() -> None:
    question = "why " * 2500
    answer, engine, retriever = await _ask(question=question, rollouts=2, votes=1)
    assert answer.question == question
    assert all(len(r.messages[1].content) < 2000 + 1500 for r in engine.requests)  # type: ignore[index]
    assert all(len(q) <= 600 for q in retriever.queries)


async def test_streams_each_phase() -> None:
    nodes = [n async for n, _ in stream_steps(QUESTION, engine=ScriptedEngine(responder=by_label()),
                                              retriever=KeywordRetriever(PASSAGES), method="mcts-rag",
                                              options={"rollouts": 2, "votes": 1})]
    assert nodes == ["start", "expand", "simulate", "backpropagate", "expand", "simulate",
                     "backpropagate", "finalize"]


async def test_resumes_after_a_crash_with_the_tree_intact(tmp_path: Path) -> None:
    options = {"rollouts": 3, "votes": 1, "max_depth": 3}
    reference, ref_engine, _ = await _ask(**options)
    responder = by_label()

    class Crashing(CrashingEngine):
        def __init__(self) -> None:
            super().__init__([], crash_at=4)
            self._responder = responder

    async with sqlite_checkpointer(tmp_path / "ck.sqlite") as saver:
        crashing = Crashing()
        with pytest.raises(RuntimeError):
            await ask(QUESTION, engine=crashing, retriever=KeywordRetriever(PASSAGES), method="mcts-rag",
                      options=options, checkpointer=saver, thread_id="m")
        engine = ScriptedEngine(responder=responder)
        answer = await resume("m", engine=engine, retriever=KeywordRetriever(PASSAGES),
                              checkpointer=saver, method="mcts-rag", options=options)
    assert answer.text == reference.text
    assert len(engine.requests) < len(ref_engine.requests)  # finished work was not redone
    assert _note(answer, "tree").data["edges"] == _note(reference, "tree").data["edges"]
