"""no-retrieval and standard-rag: control flow, bad model output, failing retriever,
streaming and checkpoint resume."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from graph_doubles import PASSAGES, CrashingEngine, FlakyRetriever, KeywordRetriever

from sleuth.engines.scripted import ScriptedEngine
from sleuth.graphs.registry import ask, list_methods, resume, sqlite_checkpointer, stream_steps

QUESTION = "Where was the director of Inception born?"


async def _ask(method: str, outputs: list[str], retriever: KeywordRetriever | None = None,
               question: str = QUESTION, **opts: object):
    engine = ScriptedEngine(outputs)
    retriever = retriever or KeywordRetriever(PASSAGES)
    answer = await ask(question, engine=engine, retriever=retriever, method=method, options=opts)
    return answer, engine, retriever


def test_registered() -> None:
    assert {"no-retrieval", "standard-rag"} <= set(list_methods())


async def test_no_retrieval_answers_without_searching() -> None:
    answer, engine, retriever = await _ask("no-retrieval", [" London\n"])
    assert answer.text == "London" and not answer.abstained
    assert retriever.queries == [] and answer.usage.searches == 0
    assert answer.citations == []
    assert answer.method == "no-retrieval"
    assert [e.type for e in answer.trace] == ["think", "answer"]
    prompt = engine.requests[0].messages[1].content  # type: ignore[index]
    assert prompt.endswith(f"Question: {QUESTION}")
    assert engine.requests[0].messages[-1].content == "Answer:"  # type: ignore[index]


async def test_standard_rag_retrieves_once_and_cites() -> None:
    answer, engine, retriever = await _ask("standard-rag", [" London"], top_k=2)
    assert answer.text == "London"
    assert retriever.queries == [QUESTION] and answer.usage.searches == 1
    assert [c.id for c in answer.citations] == ["p2"]
    assert [e.type for e in answer.trace] == ["search", "information", "think", "answer"]
    prompt = engine.requests[0].messages[1].content  # type: ignore[index]
    assert "Doc 1 (Title: Christopher Nolan)" in prompt or "Doc 2 (Title: Christopher Nolan)" in prompt


@pytest.mark.parametrize("method", ["no-retrieval", "standard-rag"])
@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (" The answer is: London.", "London"),
        (" <answer>London</answer>", "London"),
        (' "London"', "London"),
        (" London<information>Doc 1 made up</information>", "London"),
    ],
)
async def test_answer_formats_are_read(method: str, output: str, expected: str) -> None:
    answer, _, _ = await _ask(method, [output])
    assert answer.text == expected


@pytest.mark.parametrize("method", ["no-retrieval", "standard-rag"])
async def test_empty_output_abstains_with_a_recorded_reason(method: str) -> None:
    answer, _, _ = await _ask(method, [""])
    assert answer.abstained and answer.text == "" and answer.citations == []
    assert answer.abstain_reason == "the model produced no answer"
    assert any(e.type == "error" and e.code == "empty_output" for e in answer.trace)  # type: ignore[union-attr]


@pytest.mark.parametrize("method", ["no-retrieval", "standard-rag"])
async def test_endless_output_is_cut_at_max_tokens(method: str) -> None:
    answer, engine, _ = await _ask(method, ["blah " * 5000], answer_max_tokens=8)
    assert engine.requests[0].max_tokens == 8
    assert len(answer.text) <= 200
    assert answer.usage.completion_tokens <= 8


@pytest.mark.parametrize("method", ["no-retrieval", "standard-rag"])
async def test_fake_tags_alone_are_no_answer(method: str) -> None:
    answer, _, _ = await _ask(method, ["<information>Doc 1 (Title: X) London</information>"])
    assert answer.abstained
    assert any(e.type == "error" and e.code == "malformed_output" for e in answer.trace)  # type: ignore[union-attr]


async def test_refusal_abstains() -> None:
    answer, _, _ = await _ask("standard-rag", [" unknown"])
    assert answer.abstained and "declined" in (answer.abstain_reason or "")


async def test_standard_rag_failing_retriever_is_recorded_and_answered_without_documents() -> None:
    answer, engine, _ = await _ask("standard-rag", [" London"], retriever=FlakyRetriever(ok_calls=0))
    assert answer.text == "London"
    assert any(e.type == "error" and e.code == "retrieval_error" for e in answer.trace)  # type: ignore[union-attr]
    assert "(no documents found)" in engine.requests[0].messages[1].content  # type: ignore[index]


@pytest.mark.parametrize("method", ["no-retrieval", "standard-rag"])
async def test_very_long_question_is_cut_in_prompts_not_in_the_answer(method: str) -> None:
    question = "why " * 2500
    answer, engine, retriever = await _ask(method, [" because"], question=question)
    assert answer.question == question
    assert len(engine.requests[0].messages[1].content) < 2000 + 2500  # type: ignore[index]
    assert all(len(q) <= 2000 for q in retriever.queries)


async def test_steps_stream_as_they_happen() -> None:
    nodes = [
        node
        async for node, _ in stream_steps(
            QUESTION, engine=ScriptedEngine([" London"]), retriever=KeywordRetriever(PASSAGES),
            method="standard-rag",
        )
    ]
    assert nodes == ["start", "retrieve", "answer_docs", "finish"]


async def test_interrupted_run_resumes_from_the_sqlite_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    retriever = KeywordRetriever(PASSAGES)
    async with sqlite_checkpointer(tmp_path / "ck.sqlite") as saver:
        with pytest.raises(RuntimeError, match="engine crashed"):
            await ask(QUESTION, engine=CrashingEngine([" London"], crash_at=1), retriever=retriever,
                      method="standard-rag", checkpointer=saver, thread_id="t1")
    assert retriever.queries == [QUESTION]
    async with sqlite_checkpointer(tmp_path / "ck.sqlite") as saver:
        engine = ScriptedEngine([" London"])
        answer = await resume("t1", engine=engine, retriever=retriever, checkpointer=saver,
                              method="standard-rag")
    assert answer.text == "London"
    assert retriever.queries == [QUESTION]  # the search before the crash was not redone
    assert answer.usage.searches == 1 and answer.usage.llm_calls == 1
    assert [c.id for c in answer.citations] == ["p2"]
    # every type in the state is on the serializer's allowlist
    assert not [r for r in caplog.records if "unregistered type" in r.getMessage()]


REASONED = " Inception was directed by Christopher Nolan, who was born in London.\nAnswer: London"


async def test_reasoned_reader_answers_from_the_answer_line_and_keeps_the_reasoning() -> None:
    answer, engine, _ = await _ask("standard-rag", [REASONED], top_k=2, reason_first=True)
    assert answer.text == "London" and not answer.abstained
    request = engine.requests[0]
    assert request.messages[-1].content == "Reasoning:"  # type: ignore[index]
    assert "\n" not in request.stop and "\n\n" in request.stop
    assert request.max_tokens == 32 + 128
    assert "Reasoning: Inception was directed by Christopher Nolan" in request.messages[1].content  # type: ignore[index]
    think = next(e for e in answer.trace if e.type == "think")
    assert "born in London" in think.text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (" Nolan was born in London.\nAnswer: London.\n", "London"),
        (" Nolan was born in London.\n**Answer:** London", "London"),
        (" Answer: Paris is wrong here.\nNolan was born in London.\nAnswer: London", "London"),
        (" Nolan was born in London.\n<information>Answer: Paris</information>", ""),
        (" Nolan was born in London, so the answer is London.", ""),
        ("", ""),
    ],
)
async def test_reasoned_reader_reads_only_a_real_answer_line(output: str, expected: str) -> None:
    answer, _, _ = await _ask("standard-rag", [output], reason_first=True)
    assert answer.text == expected
    if not expected:
        assert answer.abstained and answer.abstain_reason
        assert any(e.type == "error" and e.code in {"malformed_output", "empty_output"}
                   for e in answer.trace)  # type: ignore[union-attr]


async def test_reasoned_reader_leaves_the_direct_answer_alone() -> None:
    answer, engine, _ = await _ask("no-retrieval", [" London"], reason_first=True)
    assert answer.text == "London"
    assert engine.requests[0].messages[-1].content == "Answer:"  # type: ignore[index]
