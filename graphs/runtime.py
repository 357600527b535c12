"""Run many agent graphs at once against shared engines and retrievers.

:func:`run_many` answers a list of questions concurrently, each through the method
registry. Every agent runs in its own task with an
:class:`~sleuth.engines.scheduler.AgentContext` set, so a
:class:`~sleuth.engines.scheduler.ScheduledEngine` sees each call's agent state (searches
done, question age, context length) without the graph passing it along. The engine is
shared; the retriever is shared too, or made per question by ``retriever_for`` (an eval's
sandbox view, with its own action log and masking, say).

Failures stay with their agent: an agent that raises, times out or hits a dead backend is
recorded as an :class:`AgentFailure` in its slot, with the trace it had so far, and the
others continue. Cancelling ``run_many`` cancels every agent in flight and waits for them,
so no task outlives it; results finished before the cancellation have already gone to
``on_result``.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field

from sleuth.engines.base import LLMEngine
from sleuth.engines.scheduler import (
    AgentContext,
    ScheduledEngine,
    SchedulingPolicy,
    agent_context,
    current_agent,
)
from sleuth.errors import ConfigError, SleuthError
from sleuth.graphs.registry import build_graph, make_options, run_config
from sleuth.retrieval.base import Retriever
from sleuth.types import Answer, SearchHit, StrictModel, TraceEvent


class AgentFailure(StrictModel):
    """The record of an agent that did not produce an answer."""

    index: int
    question: str
    code: str
    """``timeout``, a :class:`SleuthError` code, or ``agent_error`` for anything else."""
    error: str
    """The exception's class name."""
    message: str
    elapsed_s: float
    """Seconds from the question's arrival to the failure."""
    traceback: str = ""
    """The last frames of the exception's traceback (empty for a timeout)."""
    trace: list[TraceEvent] = Field(default_factory=list)
    """The agent's trace up to the failure."""


Outcome = Answer | AgentFailure
ResultCallback = Callable[[int, Outcome, AgentContext], None]
RetrieverFactory = Callable[[int], Retriever]


class AgentTrackingRetriever:
    """Counts each agent's searches and search wait into its :class:`AgentContext`."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.name = inner.name

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        agent = current_agent()
        if agent is None:
            hits: list[list[SearchHit]] = await self.inner.search(queries, k)
            return hits
        agent.searches += len(queries)
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            hits = await self.inner.search(queries, k)
        finally:
            agent.retrieval_wait_s += loop.time() - start
        return hits

    async def aclose(self) -> None:
        return None  # the caller owns the inner retriever


async def run_many(
    questions: Sequence[str],
    *,
    engine: LLMEngine,
    retriever: Retriever | None = None,
    retriever_for: RetrieverFactory | None = None,
    method: str = "search-r1",
    options: StrictModel | dict[str, Any] | None = None,
    concurrency: int = 16,
    policy: str | SchedulingPolicy | None = None,
    max_in_flight: int | None = None,
    max_in_flight_tokens: int | None = None,
    timeout_s: float | None = None,
    arrivals: Sequence[float] | None = None,
    on_result: ResultCallback | None = None,
    progress: bool | str = False,
) -> list[Outcome]:
    """Answer ``questions`` concurrently; one :class:`Answer` or :class:`AgentFailure` each.

    Pass one shared ``retriever``, or ``retriever_for``: it is called with a question's index
    when that question's agent starts (after the concurrency gate, inside its timeout) and
    gives the retriever that agent alone uses (the caller closes it).
    ``on_result(index, outcome, agent)`` runs as each question finishes, before the others
    have; if it raises, the run is cancelled.
    ``concurrency`` bounds the agents running at once. ``policy`` (``fifo``, ``priority``,
    ``shortest-remaining`` or a policy object) puts a :class:`ScheduledEngine` with
    ``max_in_flight`` calls (default: ``concurrency``), and at most ``max_in_flight_tokens``
    estimated prompt tokens (default: unbounded; the engine's KV capacity is a good value),
    in front of ``engine``; pass an engine that is already scheduled to share one scheduler
    across runs. ``timeout_s``
    bounds each question. ``arrivals`` gives each question's arrival, in seconds after the
    start (a Poisson stream, say); by default all arrive at once. ``progress`` shows a
    progress bar on stderr (a string labels it). An answer's
    ``usage.wall_s`` is its end-to-end latency: from arrival to answer, on the loop clock.
    """
    _check(questions, concurrency, arrivals)
    make_retriever = _retriever_factory(retriever, retriever_for)
    opts = options if isinstance(options, StrictModel) else make_options(method, options)
    scheduled = _scheduled(engine, policy, max_in_flight or concurrency, max_in_flight_tokens)
    loop = asyncio.get_running_loop()
    start = loop.time()
    gate = asyncio.Semaphore(concurrency)
    results: list[Outcome | None] = [None] * len(questions)
    bar = _progress(len(questions), progress if isinstance(progress, str) else "agents") if progress else None

    async def one(index: int) -> None:
        arrival = start + (arrivals[index] if arrivals is not None else 0.0)
        if arrival > loop.time():
            await asyncio.sleep(arrival - loop.time())
        agent = AgentContext(agent_id=f"agent-{index}-{uuid.uuid4().hex[:8]}", arrival_s=arrival)
        async with gate:
            with agent_context(agent):
                outcome = await _answer_one(
                    index, questions[index], agent, timeout_s, make_retriever,
                    engine=scheduled, method=method, options=opts,
                )
        results[index] = outcome
        if bar is not None:
            bar.update(1)
        if on_result is not None:
            on_result(index, outcome, agent)

    tasks = [loop.create_task(one(i)) for i in range(len(questions))]
    try:
        await _wait_all(tasks)
    finally:
        if bar is not None:
            bar.close()
    return [r for r in results if r is not None]


async def _answer_one(
    index: int,
    question: str,
    agent: AgentContext,
    timeout_s: float | None,
    make_retriever: RetrieverFactory,
    **kwargs: Any,
) -> Outcome:
    loop = asyncio.get_running_loop()
    trace: list[TraceEvent] = []
    try:
        async with asyncio.timeout(timeout_s):  # in this task: a cancel unwinds the graph here
            answer = await _stream_answer(index, question, trace, make_retriever, **kwargs)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        return _failure(index, question, agent, trace, loop.time(), code="timeout",
                        error="TimeoutError", message=f"no answer within {timeout_s:g} s")
    except Exception as exc:  # noqa: BLE001 - one agent's failure must not stop the others
        code = exc.code if isinstance(exc, SleuthError) else "agent_error"
        message = exc.message if isinstance(exc, SleuthError) else str(exc)
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
        return _failure(index, question, agent, trace, loop.time(), code=code,
                        error=type(exc).__name__, message=message, frames=tail[-4000:])
    answer.usage.wall_s = loop.time() - agent.arrival_s
    return answer


async def _stream_answer(
    index: int,
    question: str,
    trace: list[TraceEvent],
    make_retriever: RetrieverFactory,
    *,
    engine: LLMEngine,
    method: str,
    options: StrictModel,
) -> Answer:
    """Run the method's graph, keeping ``trace`` current so a failure still has it."""
    retriever = AgentTrackingRetriever(make_retriever(index))
    graph = build_graph(method, engine=engine, retriever=retriever, options=options)
    state: dict[str, Any] = {}
    async for state in graph.astream({"question": question}, config=run_config(),
                                     stream_mode="values"):
        trace[:] = state.get("trace", trace)
    answer = state.get("answer")
    if not isinstance(answer, Answer):
        raise SleuthError(f"Method {method!r} finished without an answer.",
                          hint="its graph must leave an Answer in state['answer']")
    answer.method = method
    return answer


def _failure(
    index: int, question: str, agent: AgentContext, trace: list[TraceEvent], now: float,
    *, code: str, error: str, message: str, frames: str = "",
) -> AgentFailure:
    return AgentFailure(
        index=index, question=question, code=code, error=error, message=message or error,
        elapsed_s=now - agent.arrival_s, traceback=frames, trace=list(trace),
    )


def _retriever_factory(
    retriever: Retriever | None, retriever_for: RetrieverFactory | None
) -> RetrieverFactory:
    if retriever is not None and retriever_for is None:
        shared = retriever
        return lambda index: shared
    if retriever_for is not None and retriever is None:
        return retriever_for
    raise ConfigError("run_many takes one of retriever= and retriever_for=.",
                      hint="retriever is shared by every agent; retriever_for(index) "
                           "gives each question its own")


async def _wait_all(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for every agent; on cancellation or a callback error, cancel and reap the rest."""
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            if not task.cancelling():  # a second cancel would cut short an agent's cleanup
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _scheduled(
    engine: LLMEngine, policy: str | SchedulingPolicy | None, max_in_flight: int, max_in_flight_tokens: int | None
) -> LLMEngine:
    if policy is None or isinstance(engine, ScheduledEngine):
        return engine
    return ScheduledEngine(engine, policy, max_in_flight=max_in_flight, max_in_flight_tokens=max_in_flight_tokens,
                           close_inner=False)


def _check(questions: Sequence[str], concurrency: int, arrivals: Sequence[float] | None) -> None:
    if isinstance(questions, str):
        raise ConfigError("run_many takes a list of questions, not one string.",
                          hint="use sleuth.ask() for a single question")
    if concurrency < 1:
        raise ConfigError("concurrency must be at least 1.", concurrency=concurrency)
    if arrivals is not None and len(arrivals) != len(questions):
        raise ConfigError(
            f"{len(arrivals)} arrival times for {len(questions)} questions.",
            arrivals=len(arrivals), questions=len(questions),
        )


def _progress(total: int, label: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="q", file=sys.stderr, leave=False)


__all__ = ["AgentFailure", "AgentTrackingRetriever", "Outcome", "RetrieverFactory", "run_many"]
