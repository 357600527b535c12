"""ScheduledEngine: policies, bounded in-flight calls, native priority, timeouts, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.engines.scheduler import (
    AgentContext,
    PriorityPolicy,
    QueuedRequest,
    ScheduledEngine,
    agent_context,
    current_agent,
    make_policy,
)
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import ConfigError, EngineTimeoutError


class GatedEngine:
    """Holds every call until ``release()``; records the order calls entered."""

    name = "gated"

    def __init__(self, *, native_priority: bool = False, cached: int = 0) -> None:
        self.native_priority = native_priority
        self.entered: list[GenerationRequest] = []
        self.active = 0
        self.peak = 0
        self.cached = cached
        self._gate = asyncio.Event()

    def release(self) -> None:
        self._gate.set()

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        self.entered.append(request)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self._gate.wait()
        finally:
            self.active -= 1
        return GenerationResponse(
            text=request.prompt or "", finish_reason="stop", prompt_tokens=10,
            cached_prompt_tokens=self.cached, completion_tokens=2,
        )

    async def aclose(self) -> None:
        return None


def req(tag: str) -> GenerationRequest:
    return GenerationRequest(prompt=tag)


async def call_as(engine: ScheduledEngine, agent: AgentContext, tag: str) -> GenerationResponse:
    with agent_context(agent):
        return await engine.generate(req(tag))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_fifo_runs_in_arrival_order_and_bounds_in_flight() -> None:
    inner = GatedEngine()
    engine = ScheduledEngine(inner, "fifo", max_in_flight=2)
    tasks = [asyncio.create_task(engine.generate(req(f"r{i}"))) for i in range(5)]
    await settle()
    assert [r.prompt for r in inner.entered] == ["r0", "r1"]
    assert engine.waiting == 3
    inner.release()
    await asyncio.gather(*tasks)
    assert [r.prompt for r in inner.entered] == ["r0", "r1", "r2", "r3", "r4"]
    assert inner.peak == 2
    assert engine.in_flight == 0 and engine.waiting == 0


async def test_priority_runs_agents_deep_into_their_search_first() -> None:
    inner = GatedEngine()
    engine = ScheduledEngine(inner, PriorityPolicy(levels=4), max_in_flight=1)
    loop = asyncio.get_running_loop()
    now = loop.time()
    blocker = asyncio.create_task(engine.generate(req("blocker")))
    await settle()
    agents = {
        "fresh": AgentContext("fresh", arrival_s=now, searches=0),
        "deep": AgentContext("deep", arrival_s=now, searches=3),
        "mid": AgentContext("mid", arrival_s=now, searches=1),
    }
    # Same prompt length for all, so only the search count differs.
    tasks = [asyncio.create_task(call_as(engine, a, name.ljust(8))) for name, a in agents.items()]
    await settle()
    inner.release()
    await asyncio.gather(blocker, *tasks)
    assert [r.prompt.strip() for r in inner.entered if r.prompt] == ["blocker", "deep", "mid", "fresh"]


class PerCallEngine(GatedEngine):
    """Holds each call until its own prompt is released."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: dict[str, asyncio.Event] = {}

    def finish(self, prompt: str) -> None:
        self.gates.setdefault(prompt, asyncio.Event()).set()

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        self.entered.append(request)
        await self.gates.setdefault(request.prompt or "", asyncio.Event()).wait()
        return GenerationResponse(text="ok", finish_reason="stop", prompt_tokens=1, completion_tokens=1)


async def test_token_budget_bounds_what_runs_and_the_next_in_line_is_not_overtaken() -> None:
    inner = PerCallEngine()
    engine = ScheduledEngine(inner, "fifo", max_in_flight=10, max_in_flight_tokens=100)
    prompts = ["a" * 200, "b" * 200, "c" * 40, "d" * 400, "e" * 40, "f" * 800]  # 50, 50, 10, 100, 10, 200 tokens
    tasks = {p[0]: asyncio.create_task(engine.generate(req(p))) for p in prompts}

    async def entered_after(*done: str) -> str:
        for tag in done:
            inner.finish(next(p for p in prompts if p[0] == tag))
            await tasks[tag]
        await settle()
        return "".join((r.prompt or "?")[0] for r in inner.entered)

    assert await entered_after() == "ab"  # c (10) would exceed 100 tokens
    assert engine.tokens_in_flight == 100
    assert await entered_after("a") == "abc"  # d (100) waits, and e does not overtake it
    assert await entered_after("b", "c") == "abcd"
    assert await entered_after("d") == "abcde"
    assert await entered_after("e") == "abcdef"  # larger than the budget: runs alone
    await entered_after("f")
    assert engine.in_flight == 0 and engine.tokens_in_flight == 0
    with pytest.raises(ConfigError, match="max_in_flight_tokens"):
        ScheduledEngine(inner, "fifo", max_in_flight_tokens=0)


def make_item(searches: int, age: float, ctx: int, waited: float, seq: int) -> QueuedRequest:
    now = 100.0
    loop = asyncio.new_event_loop()
    try:
        grant = loop.create_future()
    finally:
        loop.close()
    return QueuedRequest(
        request=req(str(seq)), arrival_s=now - age, searches=searches, context_tokens=ctx,
        enqueued_s=now - waited, seq=seq, grant=grant,
    )


def test_priority_levels_follow_any_feature_and_ties_go_to_longest_wait() -> None:
    policy = PriorityPolicy(levels=2)
    items = [
        make_item(searches=0, age=1.0, ctx=100, waited=5.0, seq=0),   # bottom level, waited most
        make_item(searches=0, age=1.0, ctx=100, waited=1.0, seq=1),   # bottom level
        make_item(searches=4, age=1.0, ctx=100, waited=0.5, seq=2),   # top: searches
        make_item(searches=0, age=9.0, ctx=100, waited=0.2, seq=3),   # top: old question
        make_item(searches=0, age=1.0, ctx=900, waited=0.9, seq=4),   # top: long context
    ]
    order = [w.seq for w in policy.order(items, now=100.0)]
    assert order == [4, 2, 3, 0, 1]
    assert policy.level(items[2], items[:2], now=100.0) == 0
    assert policy.level(items[0], items[2:], now=100.0) == 1


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fifo"):
        make_policy("lottery")


async def test_native_priority_engines_get_the_level_and_no_second_queue() -> None:
    inner = GatedEngine(native_priority=True)
    engine = ScheduledEngine(inner, PriorityPolicy(levels=3), max_in_flight=1)
    now = asyncio.get_running_loop().time()
    first = asyncio.create_task(call_as(engine, AgentContext("a", now, searches=0), "a"))
    await settle()
    second = asyncio.create_task(call_as(engine, AgentContext("b", now, searches=5), "b"))
    await settle()
    assert len(inner.entered) == 2, "calls must not wait in Sleuth's queue as well"
    assert engine.pressure() == 1.0
    inner.release()
    await asyncio.gather(first, second)
    assert inner.entered[1].priority == 0  # the deeper agent gets the best (lowest) value
    assert inner.entered[0].priority == 2


async def test_timeout_becomes_engine_timeout_error_and_frees_the_slot() -> None:
    class Hanging(GatedEngine):
        async def generate(self, request: GenerationRequest) -> GenerationResponse:
            if request.prompt == "hang":
                await asyncio.sleep(3600)
            return await super().generate(request)

    inner = Hanging()
    inner.release()
    engine = ScheduledEngine(inner, "fifo", max_in_flight=1, request_timeout_s=0.05)
    with pytest.raises(EngineTimeoutError) as info:
        await engine.generate(req("hang"))
    assert info.value.details["timeout_s"] == 0.05
    response = await engine.generate(req("fine"))
    assert response.text == "fine"
    assert engine.stats.timeouts == 1 and engine.in_flight == 0


async def test_cancelled_while_queued_leaves_no_trace() -> None:
    inner = GatedEngine()
    engine = ScheduledEngine(inner, "priority", max_in_flight=1)
    running = asyncio.create_task(engine.generate(req("running")))
    queued = asyncio.create_task(engine.generate(req("queued")))
    await settle()
    assert engine.waiting == 1
    queued.cancel()
    await settle()
    assert engine.waiting == 0
    inner.release()
    await running
    assert engine.in_flight == 0
    assert [r.prompt for r in inner.entered] == ["running"]


async def test_sticky_sessions_and_recomputed_token_accounting() -> None:
    inner = GatedEngine(cached=7)
    inner.release()
    engine = ScheduledEngine(inner, "fifo", max_in_flight=4)
    agent = AgentContext("agent-7", arrival_s=0.0)
    await call_as(engine, agent, "x" * 400)
    assert inner.entered[0].session_id == "agent-7"
    assert agent.context_tokens == 100 and agent.llm_calls == 1
    assert engine.stats.prompt_tokens == 10
    assert engine.stats.recomputed_prompt_tokens == 3
    plain = ScheduledEngine(ScriptedEngine(["ok"]), "fifo", sticky_sessions=False)
    with agent_context(agent):
        await plain.generate(req("q"))
    assert plain.inner.requests[0].session_id is None  # type: ignore[attr-defined]


async def test_agent_context_reaches_child_tasks() -> None:
    agent = AgentContext("outer", arrival_s=0.0)

    async def child() -> str | None:
        ctx = current_agent()
        return ctx.agent_id if ctx else None

    with agent_context(agent):
        assert await asyncio.create_task(child()) == "outer"
    assert current_agent() is None


async def test_pressure_includes_the_inner_engines_own_queue() -> None:
    inner = GatedEngine()
    inner.pressure = lambda: 0.75  # type: ignore[attr-defined]
    engine = ScheduledEngine(inner, "fifo", max_in_flight=4)
    assert engine.pressure() == 0.75
    tasks = [asyncio.create_task(engine.generate(req(str(i)))) for i in range(8)]
    await settle()
    assert engine.pressure() == 1.0  # four calls wait here: a full batch's worth
    inner.release()
    await asyncio.gather(*tasks)


async def test_closing_fails_queued_calls_with_a_clear_error() -> None:
    from sleuth.errors import EngineUnavailableError

    inner = GatedEngine()
    engine = ScheduledEngine(inner, "fifo", max_in_flight=1, close_inner=False)
    running = asyncio.create_task(engine.generate(req("running")))
    queued = asyncio.create_task(engine.generate(req("queued")))
    await settle()
    await engine.aclose()
    with pytest.raises(EngineUnavailableError, match="closed"):
        await queued
    inner.release()
    assert (await running).text == "running"
