"""An LLM request scheduler for many concurrent agents, itself an :class:`LLMEngine`.

:class:`ScheduledEngine` wraps any engine. Each ``generate`` call is tagged with the state of
the agent that made it, read from an :class:`AgentContext` that the runtime sets per agent
(a ``contextvars`` variable, so graphs need no change). A pluggable
:class:`SchedulingPolicy` orders the waiting calls:

- ``fifo``: arrival order at the scheduler (what a plain engine queue does);
- ``priority``: SearchAgent-X's rule. Three features (searches done, seconds since the
  question arrived, context length) are bucketed into ``levels`` relative to the other
  waiting calls; a call's level is the highest one any feature reaches, and calls within a
  level go longest-waiting first;
- ``shortest-remaining``: agents closest to their turn budget first, then cheaper prompts.

Engines without request priorities (llama.cpp, OpenAI-compatible servers, the simulated
engine) get Sleuth's own queue, which also bounds the calls in flight. An engine that sets
``native_priority = True`` (vLLM with ``scheduling_policy="priority"``) receives the level as
``GenerationRequest.priority`` (lower runs first) and does the queueing itself, so requests
are never queued twice.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from sleuth.engines.base import GenerationRequest, GenerationResponse, LLMEngine
from sleuth.errors import ConfigError, EngineTimeoutError, EngineUnavailableError


@dataclass
class AgentContext:
    """The scheduler's view of one agent; the runtime creates one per question."""

    agent_id: str
    arrival_s: float
    """Event-loop time (``loop.time()``) at which the question arrived."""
    searches: int = 0
    """Searches this agent has issued so far."""
    context_tokens: int = 0
    """Estimated prompt length of the agent's latest LLM call."""
    llm_calls: int = 0
    retrieval_wait_s: float = 0.0
    """Seconds this agent spent waiting on search calls."""


_CURRENT_AGENT: ContextVar[AgentContext | None] = ContextVar("sleuth_agent", default=None)


def current_agent() -> AgentContext | None:
    """The :class:`AgentContext` of the agent running in this task, if any."""
    return _CURRENT_AGENT.get()


@contextmanager
def agent_context(agent: AgentContext) -> Iterator[AgentContext]:
    """Make ``agent`` current for the calls made inside the block (and tasks it starts)."""
    token = _CURRENT_AGENT.set(agent)
    try:
        yield agent
    finally:
        _CURRENT_AGENT.reset(token)


def estimate_tokens(request: GenerationRequest) -> int:
    """Prompt length in tokens, estimated as characters / 4 (English BPE averages ~4)."""
    if request.prompt is not None:
        chars = len(request.prompt)
    else:
        chars = sum(len(m.content) for m in request.messages or [])
    return max(1, math.ceil(chars / 4))


@dataclass
class QueuedRequest:
    """One waiting ``generate`` call with the features a policy orders by."""

    request: GenerationRequest
    arrival_s: float
    """When the agent's question arrived."""
    searches: int
    context_tokens: int
    enqueued_s: float
    seq: int
    grant: asyncio.Future[None] = field(repr=False)

    def age_s(self, now: float) -> float:
        return now - self.arrival_s

    def wait_s(self, now: float) -> float:
        return now - self.enqueued_s


class SchedulingPolicy(Protocol):
    """Orders waiting calls; the first ones run first."""

    name: str

    def order(self, waiting: Sequence[QueuedRequest], now: float) -> list[QueuedRequest]:
        """``waiting`` in the order they should run."""
        ...

    def level(self, item: QueuedRequest, peers: Sequence[QueuedRequest], now: float) -> int:
        """A priority for engines that schedule by priority themselves; lower runs first."""
        ...


class FifoPolicy:
    """Arrival order at the scheduler."""

    name = "fifo"

    def order(self, waiting: Sequence[QueuedRequest], now: float) -> list[QueuedRequest]:
        return sorted(waiting, key=lambda w: w.seq)

    def level(self, item: QueuedRequest, peers: Sequence[QueuedRequest], now: float) -> int:
        return 0


class PriorityPolicy:
    """SearchAgent-X's priority: three features bucketed into levels, ties by wait time.

    For each feature the range ``[min, max]`` over the waiting calls is cut into ``levels``
    equal steps; a call sits at the highest level that *any* of its features exceeds, so an
    agent deep into its searches, one whose question has waited long, and one with a long
    (expensive to recompute) context all move up.
    """

    name = "priority"

    def __init__(self, levels: int = 6) -> None:
        if levels < 1:
            raise ConfigError("PriorityPolicy needs at least one level.", levels=levels)
        self.levels = levels

    def order(self, waiting: Sequence[QueuedRequest], now: float) -> list[QueuedRequest]:
        levels = self._levels(waiting, now)
        ranked = sorted(
            zip(levels, waiting),
            key=lambda pair: (-pair[0], pair[1].enqueued_s, pair[1].seq),
        )
        return [item for _, item in ranked]

    def level(self, item: QueuedRequest, peers: Sequence[QueuedRequest], now: float) -> int:
        everyone = [*peers, item]
        return self.levels - 1 - self._levels(everyone, now)[-1]

    def _levels(self, items: Sequence[QueuedRequest], now: float) -> list[int]:
        columns = (
            [float(w.searches) for w in items],
            [w.age_s(now) for w in items],
            [float(w.context_tokens) for w in items],
        )
        per_feature = [_bucket(column, self.levels) for column in columns]
        return [max(0, *values) for values in zip(*per_feature)]


def _bucket(values: list[float], levels: int) -> list[int]:
    """Level index of each value: the highest ``i`` with ``min + range*i/levels < value``."""
    low, high = min(values), max(values)
    span = high - low
    if span <= 0:
        return [-1] * len(values)
    out = []
    for value in values:
        x = (value - low) * levels / span
        out.append(min(levels, math.ceil(x)) - 1 if x > 0 else -1)
    return out


class ShortestRemainingPolicy:
    """Agents with the fewest turns left first (``turn_budget - searches``), then shorter
    prompts (cheaper to prefill), then longest wait."""

    name = "shortest-remaining"

    def __init__(self, turn_budget: int = 4) -> None:
        self.turn_budget = turn_budget

    def _key(self, w: QueuedRequest) -> tuple[int, int, float, int]:
        remaining = max(0, self.turn_budget - w.searches)
        return (remaining, w.context_tokens, w.enqueued_s, w.seq)

    def order(self, waiting: Sequence[QueuedRequest], now: float) -> list[QueuedRequest]:
        return sorted(waiting, key=self._key)

    def level(self, item: QueuedRequest, peers: Sequence[QueuedRequest], now: float) -> int:
        return max(0, self.turn_budget - item.searches)


POLICIES: dict[str, type[FifoPolicy | PriorityPolicy | ShortestRemainingPolicy]] = {
    "fifo": FifoPolicy,
    "priority": PriorityPolicy,
    "shortest-remaining": ShortestRemainingPolicy,
}


def make_policy(policy: str | SchedulingPolicy) -> SchedulingPolicy:
    """A policy object from its name (``fifo``, ``priority``, ``shortest-remaining``)."""
    if not isinstance(policy, str):
        return policy
    try:
        return POLICIES[policy]()
    except KeyError:
        raise ConfigError(
            f"Unknown scheduling policy {policy!r}.",
            hint=f"choose one of: {', '.join(POLICIES)}",
            policy=policy,
        ) from None


def has_native_priority(engine: LLMEngine) -> bool:
    """Whether ``engine`` orders requests by ``GenerationRequest.priority`` itself."""
    return bool(getattr(engine, "native_priority", False))


@dataclass
class SchedulerStats:
    """What a :class:`ScheduledEngine` did; all times are event-loop seconds."""

    requests: int = 0
    failed: int = 0
    timeouts: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    queue_wait_s: float = 0.0
    max_waiting: int = 0
    busy_s: float = 0.0
    """Time with at least one call inside the inner engine."""

    @property
    def recomputed_prompt_tokens(self) -> int:
        """Prompt tokens the engine actually computed (not served from a prefix cache)."""
        return self.prompt_tokens - self.cached_prompt_tokens


class ScheduledEngine:
    """Orders and bounds the calls that many agents make to one engine.

    ``policy`` picks the order, ``max_in_flight`` bounds the calls inside ``inner`` at once,
    ``max_in_flight_tokens`` (optional) also bounds their estimated prompt tokens, so that
    what runs fits the engine's KV cache whatever the prompts' length (the call first in
    line waits for room rather than being overtaken, so long contexts are not starved),
    ``request_timeout_s`` turns a call that hangs into :class:`EngineTimeoutError`, and
    ``sticky_sessions`` tags each call with its agent's id as ``session_id`` so that engines
    with per-session caches (llama.cpp) keep each agent's prefix hot.
    """

    def __init__(
        self,
        inner: LLMEngine,
        policy: str | SchedulingPolicy = "priority",
        *,
        max_in_flight: int = 8,
        max_in_flight_tokens: int | None = None,
        request_timeout_s: float | None = None,
        sticky_sessions: bool = True,
        close_inner: bool = True,
    ) -> None:
        if max_in_flight < 1:
            raise ConfigError("max_in_flight must be at least 1.", max_in_flight=max_in_flight)
        if max_in_flight_tokens is not None and max_in_flight_tokens < 1:
            raise ConfigError("max_in_flight_tokens must be at least 1.", max_in_flight_tokens=max_in_flight_tokens)
        self.inner = inner
        self.policy = make_policy(policy)
        self.max_in_flight = max_in_flight
        self.max_in_flight_tokens = max_in_flight_tokens
        self.request_timeout_s = request_timeout_s
        self.sticky_sessions = sticky_sessions
        self.native_priority = False
        """This wrapper does its own queueing, so it never asks a caller for priorities."""
        self._passthrough = has_native_priority(inner)
        self._close_inner = close_inner
        self.name = f"scheduled[{self.policy.name}]({inner.name})"
        self.stats = SchedulerStats()
        self._waiting: list[QueuedRequest] = []
        self._outstanding: dict[int, QueuedRequest] = {}
        self._in_flight = 0
        self._tokens_in_flight = 0
        self._busy_since: float | None = None
        self._dispatch_pending = False
        self._seq = itertools.count()

    # --- public ---------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Calls queued here, not yet sent to the inner engine."""
        return len(self._waiting)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def tokens_in_flight(self) -> int:
        """Estimated prompt tokens of the calls inside the inner engine."""
        return self._tokens_in_flight

    def pressure(self) -> float:
        """0 when nothing waits for the engine, 1 when a full batch's worth waits.

        Counts Sleuth's queue and, when the inner engine reports one (``pressure()``), the
        engine's own queue.
        """
        if self._passthrough:
            excess = len(self._outstanding) - self.max_in_flight
            own = min(1.0, max(0.0, excess / self.max_in_flight))
        else:
            own = min(1.0, len(self._waiting) / self.max_in_flight)
        inner = getattr(self.inner, "pressure", None)
        return max(own, float(inner())) if callable(inner) else own

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        loop = asyncio.get_running_loop()
        item = self._queued(request, loop)
        if self._passthrough:
            return await self._native(item)
        self._waiting.append(item)
        self.stats.max_waiting = max(self.stats.max_waiting, len(self._waiting))
        self._schedule_dispatch(loop)
        try:
            await item.grant
        except asyncio.CancelledError:
            self._abandon(item, loop)
            raise
        try:
            return await self._call(item.request)
        finally:
            self._release(loop, item.context_tokens)

    async def aclose(self) -> None:
        for item in self._waiting:
            if not item.grant.done():
                item.grant.set_exception(EngineUnavailableError(f"{self.name} was closed."))
        self._waiting.clear()
        if self._close_inner:
            await self.inner.aclose()

    # --- queueing -------------------------------------------------------------------------
    def _queued(self, request: GenerationRequest, loop: asyncio.AbstractEventLoop) -> QueuedRequest:
        now = loop.time()
        agent = current_agent()
        tokens = estimate_tokens(request)
        if agent is not None:
            agent.context_tokens = tokens
            agent.llm_calls += 1
            if self.sticky_sessions and request.session_id is None:
                request = request.model_copy(update={"session_id": agent.agent_id})
        return QueuedRequest(
            request=request,
            arrival_s=agent.arrival_s if agent is not None else now,
            searches=agent.searches if agent is not None else 0,
            context_tokens=tokens,
            enqueued_s=now,
            seq=next(self._seq),
            grant=loop.create_future(),
        )

    def _schedule_dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        # Coalesce: many calls finishing in one loop tick trigger one ordering pass.
        if not self._dispatch_pending:
            self._dispatch_pending = True
            loop.call_soon(self._dispatch, loop)

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._dispatch_pending = False
        self._waiting = [w for w in self._waiting if not w.grant.done()]
        free = self.max_in_flight - self._in_flight
        if free <= 0 or not self._waiting:
            return
        now = loop.time()
        ordered = self.policy.order(self._waiting, now) if len(self._waiting) > 1 else self._waiting
        budget = self.max_in_flight_tokens
        granted = 0
        for item in ordered[:free]:
            tokens = item.context_tokens
            if budget is not None and self._in_flight > 0 and self._tokens_in_flight + tokens > budget:
                break  # the next in line waits for room; nobody overtakes it
            self.stats.queue_wait_s += now - item.enqueued_s
            self._acquire(now, tokens)
            item.grant.set_result(None)
            granted += 1
        self._waiting = ordered[granted:]

    def _abandon(self, item: QueuedRequest, loop: asyncio.AbstractEventLoop) -> None:
        """The caller was cancelled while queued (or granted but not yet running)."""
        if item.grant.done() and not item.grant.cancelled():
            self._release(loop, item.context_tokens)
        elif item in self._waiting:
            self._waiting.remove(item)

    def _acquire(self, now: float, tokens: int = 0) -> None:
        if self._in_flight == 0:
            self._busy_since = now
        self._in_flight += 1
        self._tokens_in_flight += tokens

    def _release(self, loop: asyncio.AbstractEventLoop, tokens: int = 0) -> None:
        self._in_flight -= 1
        self._tokens_in_flight -= tokens
        if self._in_flight == 0 and self._busy_since is not None:
            self.stats.busy_s += loop.time() - self._busy_since
            self._busy_since = None
        self._schedule_dispatch(loop)

    async def _native(self, item: QueuedRequest) -> GenerationResponse:
        """Pass the policy's level to an engine that schedules by priority itself."""
        loop = asyncio.get_running_loop()
        peers = list(self._outstanding.values())
        level = self.policy.level(item, peers, loop.time())
        self._outstanding[item.seq] = item
        self._acquire(loop.time())
        try:
            return await self._call(item.request.model_copy(update={"priority": level}))
        finally:
            del self._outstanding[item.seq]
            self._release(loop)

    # --- calling the engine ---------------------------------------------------------------
    async def _call(self, request: GenerationRequest) -> GenerationResponse:
        self.stats.requests += 1
        try:
            call = self.inner.generate(request)
            if self.request_timeout_s is None:
                response = await call
            else:
                response = await asyncio.wait_for(call, self.request_timeout_s)
        except TimeoutError:
            self.stats.timeouts += 1
            raise EngineTimeoutError(
                f"{self.inner.name} did not answer within {self.request_timeout_s} s.",
                hint="raise request_timeout_s, or lower max_in_flight so calls queue here",
                engine=self.inner.name,
                timeout_s=self.request_timeout_s,
            ) from None
        except Exception:
            self.stats.failed += 1
            raise
        self.stats.prompt_tokens += response.prompt_tokens
        self.stats.cached_prompt_tokens += response.cached_prompt_tokens
        self.stats.completion_tokens += response.completion_tokens
        return response


__all__ = [
    "AgentContext",
    "FifoPolicy",
    "PriorityPolicy",
    "QueuedRequest",
    "ScheduledEngine",
    "SchedulerStats",
    "SchedulingPolicy",
    "ShortestRemainingPolicy",
    "agent_context",
    "current_agent",
    "estimate_tokens",
    "has_native_priority",
    "make_policy",
]
