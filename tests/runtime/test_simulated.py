"""The simulated continuous-batching engine, its virtual clock, and the simulated workload."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from sleuth.engines.base import GenerationRequest
from sleuth.engines.scheduler import AgentContext, ScheduledEngine, agent_context
from sleuth.engines.simulated import PROFILES, SimulatedEngine, SimulatedEngineConfig
from sleuth.engines.simulated_agents import (
    SimQuestion,
    SimulatedRetriever,
    SimulatedSearchR1Model,
    WorkloadConfig,
    make_workload,
)
from sleuth.engines.virtual_clock import VirtualClockLoop, block_for, run_virtual
from sleuth.errors import EngineError
from sleuth.graphs.runtime import run_many
from sleuth.retrieval.batcher import BatchingRetriever
from sleuth.types import Answer


def fixed(text: str) -> Any:
    return lambda request: text


def config(**changes: Any) -> SimulatedEngineConfig:
    return PROFILES["llama2-7b-a100"].model_copy(update=changes)


def test_virtual_clock_skips_idle_time_and_models_blocking_calls() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        await asyncio.sleep(3600)
        slept = loop.time()
        block_for(2.5)
        return slept, loop.time()

    start = time.perf_counter()
    slept, after = run_virtual(main())
    assert time.perf_counter() - start < 1.0
    assert slept == pytest.approx(3600) and after == pytest.approx(3602.5)


def test_profile_reproduces_the_published_latencies_it_was_fitted_to() -> None:
    # NVIDIA NeMo, Llama-2-7B, A100-80GB, TP=1, 128 input / 20 output tokens:
    # 234.0 ms at batch 1 and 329.5 ms at batch 8.
    async def batch(n: int) -> float:
        engine = SimulatedEngine(fixed("y" * 80), config(prefix_cache=False))
        loop = asyncio.get_running_loop()
        start = loop.time()
        prompts = [GenerationRequest(prompt=f"{i}".ljust(512, "x")) for i in range(n)]
        responses = await asyncio.gather(*(engine.generate(p) for p in prompts))
        assert all(r.prompt_tokens == 128 and r.completion_tokens == 20 for r in responses)
        return (loop.time() - start) * 1000

    assert run_virtual(batch(1)) == pytest.approx(234.0, rel=0.03)
    assert run_virtual(batch(8)) == pytest.approx(329.5, rel=0.03)


def test_prefix_cache_serves_the_previous_turn_and_can_be_turned_off() -> None:
    async def two_turns(prefix_cache: bool) -> int:
        engine = SimulatedEngine(fixed("answer " * 10), config(prefix_cache=prefix_cache))
        first = "context " * 200
        await engine.generate(GenerationRequest(prompt=first))
        second = await engine.generate(GenerationRequest(prompt=first + "answer " * 10 + "more " * 50))
        return second.cached_prompt_tokens

    cached = run_virtual(two_turns(True))
    assert 400 <= cached <= 400 + 18  # the first prompt (+ output), block-aligned
    assert run_virtual(two_turns(False)) == 0


def test_small_kv_cache_preempts_and_still_finishes_everything() -> None:
    async def main() -> SimulatedEngine:
        engine = SimulatedEngine(fixed("z" * 400), config(kv_capacity_tokens=1024, prefix_cache=False))
        prompts = [GenerationRequest(prompt=f"{i} " + "p" * 1200, max_tokens=200) for i in range(6)]
        responses = await asyncio.gather(*(engine.generate(p) for p in prompts))
        assert all(r.text == "z" * 400 for r in responses)
        return engine

    engine = run_virtual(main())
    assert engine.stats.preemptions > 0
    assert engine._free == engine._total_blocks  # every block came back


def test_native_priority_orders_the_engine_queue() -> None:
    async def main() -> list[int]:
        engine = SimulatedEngine(fixed("o" * 40), config(max_num_seqs=1, native_priority=True))
        done: list[int] = []

        async def one(priority: int) -> None:
            await engine.generate(GenerationRequest(prompt=f"{priority}" * 40, priority=priority))
            done.append(priority)

        first = asyncio.create_task(one(5))
        await asyncio.sleep(0)
        rest = [asyncio.create_task(one(p)) for p in (3, 9, 1)]
        await asyncio.gather(first, *rest)
        return done

    assert run_virtual(main()) == [5, 1, 3, 9]


def test_oversized_request_is_an_engine_error_and_cancellation_frees_blocks() -> None:
    async def main() -> SimulatedEngine:
        engine = SimulatedEngine(fixed("w" * 4000), config(kv_capacity_tokens=512))
        with pytest.raises(EngineError, match="KV cache"):
            await engine.generate(GenerationRequest(prompt="q" * 4000))
        task = asyncio.create_task(engine.generate(GenerationRequest(prompt="s" * 400, max_tokens=2000)))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        ok = await engine.generate(GenerationRequest(prompt="s" * 40, max_tokens=4))
        assert ok.finish_reason == "length"
        return engine

    engine = run_virtual(main())
    assert engine._free + len(engine._cache) == engine._total_blocks


def test_work_floor_is_exact_for_a_lone_request_and_a_lower_bound_otherwise() -> None:
    async def lone() -> SimulatedEngine:
        engine = SimulatedEngine(fixed("a" * 200), config())
        response = await engine.generate(GenerationRequest(prompt="p" * 2000, max_tokens=100))
        assert (response.prompt_tokens, response.completion_tokens) == (500, 50)
        return engine

    engine = run_virtual(lone())
    # alone, one prefill step then 49 decode steps: exactly the floor's accounting
    assert engine.stats.steps == 50
    assert engine.floor_s() == pytest.approx(engine.stats.busy_s, rel=1e-9)

    finished: dict[tuple[bool, int], list[float]] = {}

    async def turns(prefix_cache: bool, kv_tokens: int) -> SimulatedEngine:
        engine = SimulatedEngine(fixed("step " * 20), config(prefix_cache=prefix_cache, kv_capacity_tokens=kv_tokens))
        loop = asyncio.get_running_loop()
        ends: list[float] = []

        async def agent(i: int) -> None:
            with agent_context(AgentContext(agent_id=f"agent {i}", arrival_s=0.0)):
                prompt = "shared few-shot " * 100 + f"question {i} " * (5 + 20 * (i % 3))
                for _ in range(3 + i % 2):
                    await engine.generate(GenerationRequest(prompt=prompt))
                    prompt += "step " * 20 + f"passage for agent {i} " * 30
            ends.append(loop.time())

        await asyncio.gather(*(agent(i) for i in range(12)))
        finished[(prefix_cache, kv_tokens)] = sorted(ends)
        return engine

    engines: dict[tuple[bool, int], SimulatedEngine] = {}
    for prefix_cache, kv_tokens in [(True, 112_000), (False, 112_000), (True, 2_048)]:
        engine = engines[(prefix_cache, kv_tokens)] = run_virtual(turns(prefix_cache, kv_tokens))
        assert 0 < engine.floor_s() <= engine.stats.busy_s
        # the k-th agent to finish (all arrived at 0) cannot finish before the completion floor
        ends = finished[(prefix_cache, kv_tokens)]
        floors = [engine.completion_floor_s(k) for k in range(1, 13)]
        assert floors == sorted(floors) and floors[0] > 0
        assert all(floor <= end for floor, end in zip(floors, ends, strict=True))
        assert floors[-1] <= engine.floor_s()  # finishing everyone is the whole workload
    no_reuse, reuse = engines[(False, 112_000)], engines[(True, 112_000)]
    assert no_reuse.floor_s() == pytest.approx(reuse.floor_s())  # the floor is a property of the requests
    # without a prefix cache the engine recomputes the shared prompt and every earlier turn
    assert no_reuse.stats.busy_s > 1.5 * no_reuse.floor_s()
    assert reuse.stats.busy_s < no_reuse.stats.busy_s
    assert engines[(True, 2_048)].stats.preemptions > 0


def sim_question(hops: int, correct: bool = True) -> SimQuestion:
    return SimQuestion("q7", "Who wrote the novel that the film was based on?", "Jane Austen", hops, correct)


def test_simulated_search_r1_agent_searches_each_hop_and_answers() -> None:
    questions = [sim_question(hops=3)]

    async def main() -> Answer:
        engine = SimulatedEngine(SimulatedSearchR1Model(questions))
        out = await run_many([q.question for q in questions], engine=engine,
                             retriever=SimulatedRetriever(), method="search-r1", options={"max_turns": 6})
        assert isinstance(out[0], Answer)
        return out[0]

    answer = run_virtual(main())
    assert answer.text == "Jane Austen"
    assert answer.usage.searches >= 3 and answer.usage.llm_calls == answer.usage.searches + 1
    assert answer.usage.wall_s > 0.1  # virtual seconds of simulated GPU time


def test_lower_effort_is_faster_but_misses_more_and_costs_turns() -> None:
    fast, thorough = SimulatedRetriever(), SimulatedRetriever()
    fast.set_effort(0.0)
    assert fast.latency_s(8, fast.ef_search(3)) < thorough.latency_s(8, thorough.ef_search(3))
    assert fast.recall(fast.ef_search(3)) < 0.8
    assert thorough.recall(thorough.ef_search(3)) > 0.99
    questions = make_workload(60, WorkloadConfig(seed=3))

    async def searches(effort: float) -> int:
        retriever = SimulatedRetriever()
        retriever.set_effort(effort)
        engine = SimulatedEngine(SimulatedSearchR1Model(questions))
        out = await run_many([q.question for q in questions], engine=engine, retriever=retriever,
                             method="search-r1", options={"max_turns": 8}, concurrency=60)
        return sum(o.usage.searches for o in out if isinstance(o, Answer))

    assert run_virtual(searches(0.0)) > run_virtual(searches(1.0)) * 1.1


def test_blocking_retriever_holds_the_loop_and_batching_one_does_not() -> None:
    async def ticks_during_search(blocking: bool) -> int:
        retriever = SimulatedRetriever(blocking=blocking)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.0015)
        searcher = retriever if blocking else BatchingRetriever(retriever, max_wait_ms=0)
        await searcher.search(["x"], 3)
        task.cancel()
        return ticks

    assert run_virtual(ticks_during_search(True)) <= 2
    assert run_virtual(ticks_during_search(False)) >= 5


def test_same_answers_under_any_scheduling_policy() -> None:
    questions = make_workload(40, WorkloadConfig(seed=1))

    async def answers(policy: str, prefix: bool) -> list[str]:
        engine = ScheduledEngine(SimulatedEngine(SimulatedSearchR1Model(questions), config(prefix_cache=prefix)),
                                 policy, max_in_flight=16)
        out = await run_many([q.question for q in questions], engine=engine, retriever=SimulatedRetriever(),
                             method="search-r1", options={"max_turns": 6}, concurrency=40)
        return [o.text if isinstance(o, Answer) else "FAILED" for o in out]

    fifo = run_virtual(answers("fifo", False))
    assert "FAILED" not in fifo
    assert run_virtual(answers("priority", True)) == fifo


def test_executor_work_takes_no_virtual_time_and_runs_are_reproducible() -> None:
    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        before = loop.time()
        value = await asyncio.to_thread(sum, range(1000))
        return loop.time() - before, value

    assert run_virtual(main()) == (0.0, 499500)
    questions = make_workload(30, WorkloadConfig(seed=2))

    async def latencies() -> list[float]:
        engine = ScheduledEngine(SimulatedEngine(SimulatedSearchR1Model(questions)), "priority", max_in_flight=8)
        out = await run_many([q.question for q in questions], engine=engine,
                             retriever=BatchingRetriever(SimulatedRetriever()), method="search-r1")
        return [o.usage.wall_s for o in out if isinstance(o, Answer)]

    first = run_virtual(latencies())
    assert len(first) == 30 and run_virtual(latencies()) == first
