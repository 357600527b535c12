"""run_many: concurrency, failure isolation, timeouts, a dead retriever, cancellation."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from sleuth.engines.base import GenerationRequest, GenerationResponse, LLMEngine
from sleuth.engines.scheduler import AgentContext, ScheduledEngine
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import ConfigError
from sleuth.graphs.registry import MethodSpec, register_method
from sleuth.graphs.runtime import AgentFailure, run_many
from sleuth.retrieval.base import Retriever
from sleuth.retrieval.batcher import BatchingRetriever
from sleuth.types import Answer, Passage, SearchEvent, SearchHit, StrictModel, TraceEvent


class LoopOptions(StrictModel):
    searches: int = 2


class LoopState(TypedDict, total=False):
    question: str
    done: int
    trace: Annotated[list[TraceEvent], operator.add]
    answer: Answer


def loop_graph(engine: LLMEngine, retriever: Retriever, options: LoopOptions) -> Any:
    """think -> search, ``options.searches`` times, then answer with the last thought.

    A question with ``boom`` in it raises after its first search."""

    async def think(state: LoopState) -> dict[str, Any]:
        if "boom" in state["question"] and state.get("done", 0) >= 1:
            raise ValueError("this agent is broken")
        response = await engine.generate(GenerationRequest(prompt=f"{state['question']}|{state.get('done', 0)}"))
        if state.get("done", 0) >= options.searches:
            return {"answer": Answer(question=state["question"], text=response.text)}
        return {}

    async def search(state: LoopState) -> dict[str, Any]:
        hits = (await retriever.search([state["question"]], 1))[0]
        event = SearchEvent(query=state["question"], ids=[h.passage.id for h in hits])
        return {"done": state.get("done", 0) + 1, "trace": [event]}

    graph = StateGraph(LoopState)
    graph.add_node("think", think)
    graph.add_node("search", search)
    graph.add_edge(START, "think")
    graph.add_conditional_edges("think", lambda s: END if "answer" in s else "search")
    graph.add_edge("search", "think")
    return graph.compile()


register_method(MethodSpec("test-loop", loop_graph, LoopOptions, "test: think/search loop"))


class SleepyRetriever:
    name = "sleepy"

    def __init__(self, delay_s: float = 0.0, down: bool = False) -> None:
        self.delay_s = delay_s
        self.down = down
        self.calls = 0

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.down:
            raise ConnectionError("connection refused")
        return [[SearchHit(passage=Passage(id=q, text=q), score=1.0)] for q in queries]

    async def aclose(self) -> None:
        return None


class SlowEngine:
    """Answers after ``delay_s``; hangs forever on prompts containing ``hang``."""

    name = "slow"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.requests: list[GenerationRequest] = []

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        self.requests.append(request)
        prompt = request.prompt or ""
        await asyncio.sleep(3600 if "hang" in prompt else self.delay_s)
        return GenerationResponse(text=f"answer to {prompt.split('|')[0]}", finish_reason="stop",
                                  prompt_tokens=len(prompt), completion_tokens=3)

    async def aclose(self) -> None:
        return None


async def test_all_questions_answered_in_order_with_agent_state_reaching_the_scheduler() -> None:
    engine = ScheduledEngine(SlowEngine(0.001), "priority", max_in_flight=2)
    seen: list[tuple[int, int]] = []

    def record(index: int, outcome: Any, agent: AgentContext) -> None:
        seen.append((index, agent.searches))

    questions = [f"question {i}" for i in range(6)]
    out = await run_many(questions, engine=engine, retriever=SleepyRetriever(), method="test-loop",
                         concurrency=4, on_result=record)
    assert [o.text for o in out if isinstance(o, Answer)] == [f"answer to {q}" for q in questions]
    assert sorted(seen) == [(i, 2) for i in range(6)]
    sessions = {r.session_id for r in engine.inner.requests}  # type: ignore[attr-defined]
    assert len(sessions) == 6, "each agent keeps one sticky session"
    assert engine.stats.requests == 18 and engine.in_flight == 0


async def test_a_token_budget_limits_the_calls_in_flight_by_prompt_length() -> None:
    class CountingEngine(SlowEngine):
        def __init__(self) -> None:
            super().__init__(0.01)
            self.active = self.peak = 0

        async def generate(self, request: GenerationRequest) -> GenerationResponse:
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                return await super().generate(request)
            finally:
                self.active -= 1

    async def peak(tokens: int | None) -> int:
        engine = CountingEngine()
        questions = [f"question {i} " + "x" * 400 for i in range(6)]  # ~100-token prompts
        out = await run_many(questions, engine=engine, retriever=SleepyRetriever(), method="test-loop",
                             concurrency=6, policy="fifo", max_in_flight=6, max_in_flight_tokens=tokens)
        assert all(isinstance(o, Answer) for o in out)
        return engine.peak

    assert await peak(None) == 6
    assert await peak(250) == 2  # two ~100-token prompts fit, a third does not


async def test_an_agent_that_raises_is_recorded_and_the_others_continue() -> None:
    questions = ["fine 1", "boom", "fine 2"]
    out = await run_many(questions, engine=ScriptedEngine(responder=lambda r: "ok"),
                         retriever=SleepyRetriever(), method="test-loop")
    assert isinstance(out[0], Answer) and isinstance(out[2], Answer)
    failure = out[1]
    assert isinstance(failure, AgentFailure)
    assert (failure.index, failure.code, failure.error) == (1, "agent_error", "ValueError")
    assert "broken" in failure.message and "this agent is broken" in failure.traceback
    assert [(e.type, e.query) for e in failure.trace] == [("search", "boom")], "the trace so far"


class RecordingRetriever(SleepyRetriever):
    def __init__(self) -> None:
        super().__init__(0.001)
        self.queries: list[str] = []

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        self.queries.extend(queries)
        return await super().search(queries, k)


async def test_retriever_for_gives_each_agent_its_own_retriever() -> None:
    made: dict[int, RecordingRetriever] = {}

    def retriever_for(index: int) -> RecordingRetriever:
        assert index not in made, "one retriever per question"
        made[index] = RecordingRetriever()
        return made[index]

    questions = [f"q{i}" for i in range(5)]
    seen: list[tuple[int, int]] = []
    out = await run_many(questions, engine=ScriptedEngine(responder=lambda r: "ok"),
                         retriever_for=retriever_for, method="test-loop", concurrency=3,
                         on_result=lambda i, o, a: seen.append((i, a.searches)))
    assert all(isinstance(o, Answer) for o in out)
    assert {i: r.queries for i, r in made.items()} == {i: [q, q] for i, q in enumerate(questions)}
    assert sorted(seen) == [(i, 2) for i in range(5)], "searches still reach the agent's context"


async def test_engine_timeouts_and_question_timeouts_fail_only_their_agent() -> None:
    engine = ScheduledEngine(SlowEngine(0.001), "fifo", max_in_flight=2, request_timeout_s=0.05)
    out = await run_many(["ok a", "hang here", "ok b"], engine=engine,
                         retriever=SleepyRetriever(), method="test-loop")
    assert isinstance(out[1], AgentFailure) and out[1].code == "engine_timeout"
    assert all(isinstance(o, Answer) for o in (out[0], out[2]))
    slow = await run_many(["q"], engine=SlowEngine(0.001), retriever=SleepyRetriever(0.2),
                          method="test-loop", timeout_s=0.05)
    assert isinstance(slow[0], AgentFailure) and slow[0].code == "timeout"


async def test_a_down_retriever_fails_agents_cleanly_and_batcher_stays_usable() -> None:
    down = SleepyRetriever(down=True)
    batcher = BatchingRetriever(down, max_wait_ms=1)
    out = await run_many([f"q{i}" for i in range(5)], engine=ScriptedEngine(responder=lambda r: "x"),
                         retriever=batcher, method="test-loop", concurrency=5)
    assert [o.code for o in out if isinstance(o, AgentFailure)] == ["retrieval_error"] * 5
    down.down = False
    again = await run_many(["q"], engine=ScriptedEngine(responder=lambda r: "x"),
                           retriever=batcher, method="test-loop")
    assert isinstance(again[0], Answer)


async def test_search_r1_keeps_answering_when_the_retriever_is_down() -> None:
    def responder(request: GenerationRequest) -> str:
        transcript = (request.messages or [])[-1].content
        if "<information>" in transcript:
            return "Nothing found, I will guess.</think>\n<answer>Paris</answer>"
        return "I should search.</think>\n<search>capital of France</search>"

    out = await run_many(["What is the capital of France?"], engine=ScriptedEngine(responder=responder),
                         retriever=SleepyRetriever(down=True), method="search-r1",
                         options={"max_turns": 2})
    answer = out[0]
    assert isinstance(answer, Answer) and answer.text == "Paris"
    assert any(e.type == "error" and e.code == "retrieval_error" for e in answer.trace)


async def test_cancelling_a_run_cancels_agents_and_keeps_finished_results() -> None:
    engine = ScheduledEngine(SlowEngine(0.02), "priority", max_in_flight=3)
    batcher = BatchingRetriever(SleepyRetriever(0.01), max_wait_ms=1)
    finished: dict[int, Any] = {}
    questions = [f"q{i}" for i in range(12)]
    before = asyncio.all_tasks()
    run = asyncio.create_task(run_many(
        questions, engine=engine, retriever=batcher, method="test-loop", concurrency=4,
        arrivals=[0.0] * 4 + [0.03] * 8, on_result=lambda i, o, a: finished.__setitem__(i, o),
    ))
    while len(finished) < 4:
        await asyncio.sleep(0.005)
    assert engine.in_flight + engine.waiting > 0, "cancel while agents are mid-flight"
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
    assert set(finished) >= {0, 1, 2, 3} and len(finished) < len(questions)
    assert all(isinstance(o, Answer) for o in finished.values())
    assert engine.in_flight == 0 and engine.waiting == 0
    assert batcher.stats.failed_batches == 0


async def test_arrivals_delay_agents_and_latency_counts_from_arrival() -> None:
    loop = asyncio.get_running_loop()
    started: list[float] = []
    t0 = loop.time()

    def responder(request: GenerationRequest) -> str:
        started.append(loop.time() - t0)
        return "ok"

    out = await run_many(["a", "b"], engine=ScriptedEngine(responder=responder),
                         retriever=SleepyRetriever(0.01), method="test-loop",
                         options={"searches": 1}, arrivals=[0.0, 0.1])
    total = loop.time() - t0
    assert min(started) < 0.1 <= max(started)  # a does not wait for b's arrival; b does
    assert all(isinstance(o, Answer) and o.usage.wall_s >= 0.01 for o in out)  # each searched
    # b's latency counts from its arrival at 0.1, not from the start of the run (no bound on
    # how fast a loaded machine runs it: only the 0.1 s of waiting must be left out)
    assert isinstance(out[1], Answer) and out[1].usage.wall_s <= total - 0.1 + 1e-3


async def test_bad_arguments_are_config_errors() -> None:
    kwargs: dict[str, Any] = {"engine": ScriptedEngine(), "retriever": SleepyRetriever(), "method": "test-loop"}
    with pytest.raises(ConfigError, match="list of questions"):
        await run_many("one question", **kwargs)
    with pytest.raises(ConfigError, match="arrival"):
        await run_many(["a", "b"], arrivals=[0.0], **kwargs)
    with pytest.raises(ConfigError, match="concurrency"):
        await run_many(["a"], concurrency=0, **kwargs)
    with pytest.raises(ConfigError, match="retriever_for"):
        await run_many(["a"], engine=ScriptedEngine(), method="test-loop")
    with pytest.raises(ConfigError, match="retriever_for"):
        await run_many(["a"], retriever_for=lambda i: SleepyRetriever(), **kwargs)
    with pytest.raises(ConfigError, match="Unknown method"):
        await run_many(["a"], engine=ScriptedEngine(), retriever=SleepyRetriever(), method="nope")
