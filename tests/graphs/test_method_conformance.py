"""One conformance suite over every registered method: it streams its steps, ends with an
Answer, and an interrupted run resumes from its SQLite checkpoint to the same result."""

from __future__ import annotations

from pathlib import Path

import pytest
from graph_doubles import PASSAGES, CrashingEngine, KeywordRetriever

from sleuth.engines.base import GenerationRequest
from sleuth.engines.scripted import ScriptedEngine
from sleuth.graphs.registry import (
    BUILTIN_MODULES,
    ask,
    get_method,
    list_methods,
    resume,
    sqlite_checkpointer,
    stream_steps,
)
from sleuth.types import Answer

QUESTION = "Where was the director of Inception born?"
REPLY = " Nolan was born in London. So the answer is: London</think>\n<answer>London</answer>"
SMALL = {"mcts-rag": {"rollouts": 2, "votes": 1, "max_depth": 2}, "evidence-loop": {"max_searches": 2}}


# Sleuth's own methods only: other test modules register test doubles in the same registry,
# and collection order must not decide what this suite covers.
BUILTIN = [m for m in list_methods() if get_method(m).builder.__module__ in BUILTIN_MODULES]


def test_every_builtin_method_is_covered() -> None:
    assert {"search-r1", "standard-rag", "no-retrieval", "mcts-rag", "evidence-loop"} <= set(BUILTIN)


def respond(request: GenerationRequest) -> str:
    return REPLY


@pytest.mark.parametrize("method", BUILTIN)
async def test_streams_to_an_answer(method: str) -> None:
    updates = [u async for u in stream_steps(QUESTION, engine=ScriptedEngine(responder=respond),
                                             retriever=KeywordRetriever(PASSAGES), method=method,
                                             options=SMALL.get(method))]
    assert len(updates) >= 2
    _, last = updates[-1]
    assert isinstance(last.get("answer"), Answer)
    assert all("answer" not in u for _, u in updates[:-1])


@pytest.mark.parametrize("method", BUILTIN)
async def test_resumes_after_a_crash_to_the_same_answer(method: str, tmp_path: Path) -> None:
    options = SMALL.get(method)
    reference = await ask(QUESTION, engine=ScriptedEngine(responder=respond),
                          retriever=KeywordRetriever(PASSAGES), method=method, options=options)
    calls = reference.usage.llm_calls
    assert calls >= 1
    crashing = CrashingEngine([], crash_at=calls)  # dies on the last call of the run
    crashing._responder = respond
    async with sqlite_checkpointer(tmp_path / "ck.sqlite") as saver:
        with pytest.raises(RuntimeError, match="engine crashed"):
            await ask(QUESTION, engine=crashing, retriever=KeywordRetriever(PASSAGES), method=method,
                      options=options, checkpointer=saver, thread_id=method)
        engine = ScriptedEngine(responder=respond)
        answer = await resume(method, engine=engine, retriever=KeywordRetriever(PASSAGES),
                              checkpointer=saver, method=method, options=options)
    assert (answer.text, answer.abstained) == (reference.text, reference.abstained)
    assert answer.usage.llm_calls == calls
    assert 1 <= len(engine.requests) <= calls
