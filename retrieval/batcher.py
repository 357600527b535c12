"""Non-stall retrieval: micro-batch every agent's searches, and adapt ANN effort to load.

:class:`BatchingRetriever` is itself a :class:`~sleuth.retrieval.base.Retriever`. Searches
that arrive within ``max_wait_ms`` of each other (or while the previous batch runs) go to
the inner retriever as one ``search`` call, so an index answers 64 queries in one pass
instead of 64 passes. The inner call is awaited, never run on the event loop itself: Sleuth's
retrievers do their work in a worker thread, so retrieval never blocks another agent's
generation.

ANN effort follows engine pressure. An inner retriever that implements
:class:`SupportsEffort` gets ``set_effort(e)`` before each batch, with ``e`` in ``[0, 1]``:
lower while LLM calls wait (the engine is the bottleneck, so answer searches quickly and get
agents back into the next batch), higher when the engine is idle, and never below
``min_effort``, the recall floor. :func:`ef_search_for_effort` and
:func:`nprobe_for_effort` map an effort to HNSW ``efSearch`` and IVF ``nprobe``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sleuth.errors import ConfigError, RetrievalError, SleuthError
from sleuth.retrieval.base import Retriever
from sleuth.types import SearchHit


@runtime_checkable
class SupportsEffort(Protocol):
    """A retriever whose speed/recall trade-off can be turned at query time."""

    def set_effort(self, effort: float) -> None:
        """0 = fastest (lowest recall) .. 1 = most thorough; applies to later searches."""
        ...


def ef_search_for_effort(effort: float, *, k: int, ef_min: int = 16, ef_max: int = 512) -> int:
    """HNSW ``efSearch`` for ``effort``: geometric from ``ef_min`` to ``ef_max``, never < ``k``.

    Recall climbs steeply at small ``efSearch`` and flattens later, so a geometric scale
    spends the effort range where it changes recall.
    """
    e = _clamp(effort)
    ef: float = ef_min * (ef_max / ef_min) ** e
    return max(k, round(ef))


def nprobe_for_effort(effort: float, *, nlist: int, nprobe_min: int = 1, nprobe_max: int | None = None) -> int:
    """IVF ``nprobe`` for ``effort``: geometric from ``nprobe_min`` to ``nprobe_max``
    (default ``min(nlist, 256)``), within ``[1, nlist]``."""
    top = min(nlist, nprobe_max if nprobe_max is not None else 256)
    low = max(1, min(nprobe_min, top))
    probes: float = low * (top / low) ** _clamp(effort)
    return max(1, min(nlist, round(probes)))


def min_effort_for_recall(curve: Sequence[tuple[float, float]], recall_floor: float) -> float:
    """The smallest effort whose measured recall reaches ``recall_floor``.

    ``curve`` holds ``(effort, recall)`` points from a sweep against exact search.
    """
    good = [effort for effort, recall in curve if recall >= recall_floor]
    if not good:
        raise ConfigError(
            f"No effort in the sweep reaches recall {recall_floor}.",
            hint="lower the recall floor or raise ef_max / nprobe_max",
            recall_floor=recall_floor,
        )
    return min(good)


def _clamp(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


@dataclass
class AdaptiveEffort:
    """Effort from engine pressure: ``max_effort`` when idle, ``min_effort`` when saturated."""

    pressure: Callable[[], float]
    """0 = no LLM call waiting .. 1 = a full batch waiting (``ScheduledEngine.pressure``)."""
    min_effort: float = 0.4
    """The recall floor, as an effort (see :func:`min_effort_for_recall`)."""
    max_effort: float = 1.0

    def effort(self) -> float:
        p = _clamp(self.pressure())
        return self.max_effort - (self.max_effort - self.min_effort) * p


@dataclass
class BatcherStats:
    batches: int = 0
    queries: int = 0
    failed_batches: int = 0
    wait_s: float = 0.0
    """Sum over queries of the seconds from ``search`` to results."""
    effort_sum: float = 0.0
    largest_batch: int = 0

    @property
    def mean_batch(self) -> float:
        return self.queries / self.batches if self.batches else 0.0

    @property
    def mean_wait_s(self) -> float:
        return self.wait_s / self.queries if self.queries else 0.0

    @property
    def mean_effort(self) -> float:
        return self.effort_sum / self.batches if self.batches else 0.0


@dataclass
class _Pending:
    query: str
    k: int
    submitted: float
    future: asyncio.Future[list[SearchHit]] = field(repr=False)


class BatchingRetriever:
    """Micro-batches concurrent searches into one inner call per batch."""

    def __init__(
        self,
        inner: Retriever,
        *,
        max_batch: int = 64,
        max_wait_ms: float = 2.0,
        max_concurrent_batches: int = 1,
        effort: AdaptiveEffort | None = None,
        close_inner: bool = True,
    ) -> None:
        if max_batch < 1 or max_concurrent_batches < 1 or max_wait_ms < 0:
            raise ConfigError(
                "BatchingRetriever needs max_batch >= 1, max_concurrent_batches >= 1, max_wait_ms >= 0.",
                max_batch=max_batch,
                max_wait_ms=max_wait_ms,
            )
        self.inner = inner
        self.name = f"batched({inner.name})"
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_concurrent_batches = max_concurrent_batches
        self.effort = effort
        self.stats = BatcherStats()
        self._close_inner = close_inner
        self._pending: list[_Pending] = []
        self._running: dict[asyncio.Task[None], list[_Pending]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        if self._closed:
            raise RetrievalError(f"{self.name} is closed.")
        if not queries:
            return []
        loop = asyncio.get_running_loop()
        now = loop.time()
        items = [_Pending(q, k, now, loop.create_future()) for q in queries]
        self._pending.extend(items)
        self._maybe_flush(loop)
        try:
            outcomes = await asyncio.gather(*(item.future for item in items), return_exceptions=True)
        except asyncio.CancelledError:
            for item in items:
                item.future.cancel()
            self._cancel_orphaned_batches()
            raise
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]

    async def aclose(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for item in self._pending:
            if not item.future.done():
                item.future.set_exception(RetrievalError(f"{self.name} was closed."))
        self._pending.clear()
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*list(self._running), return_exceptions=True)
        if self._close_inner:
            await self.inner.aclose()

    # --- batching -------------------------------------------------------------------------
    def _maybe_flush(self, loop: asyncio.AbstractEventLoop, *, now: bool = False) -> None:
        self._pending = [p for p in self._pending if not p.future.done()]
        if not self._pending or len(self._running) >= self.max_concurrent_batches:
            return  # a finishing batch flushes what gathered meanwhile
        if now or len(self._pending) >= self.max_batch or self.max_wait_s == 0:
            self._flush(loop)
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait_s, self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._pending = [p for p in self._pending if not p.future.done()]
        if self._pending and len(self._running) < self.max_concurrent_batches:
            self._flush(loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        task = loop.create_task(self._run(batch))
        self._running[task] = batch
        task.add_done_callback(lambda t: self._batch_done(t, loop))

    def _cancel_orphaned_batches(self) -> None:
        """A batch whose callers have all gone is cancelled, so it outlives none of them."""
        for task, batch in self._running.items():
            if all(item.future.done() for item in batch):
                task.cancel()

    def _batch_done(self, task: asyncio.Task[None], loop: asyncio.AbstractEventLoop) -> None:
        self._running.pop(task, None)
        if not self._closed:
            # What gathered while this batch ran has waited long enough: send it now.
            self._maybe_flush(loop, now=True)

    async def _run(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.done()]
        if not live:
            return
        effort = self._apply_effort()
        k = max(p.k for p in live)
        try:
            results = await self.inner.search([p.query for p in live], k)
            if len(results) != len(live):
                raise RetrievalError(
                    f"{self.inner.name} returned {len(results)} result lists for {len(live)} queries."
                )
        except asyncio.CancelledError:
            self._fail(live, RetrievalError(f"{self.name} was closed."))
            raise
        except Exception as exc:  # noqa: BLE001 - every caller in the batch gets the failure
            self.stats.failed_batches += 1
            self._fail(live, _as_retrieval_error(exc, self.inner.name))
            return
        now = asyncio.get_running_loop().time()
        self.stats.batches += 1
        self.stats.queries += len(live)
        self.stats.effort_sum += effort
        self.stats.largest_batch = max(self.stats.largest_batch, len(live))
        for item, hits in zip(live, results):
            self.stats.wait_s += now - item.submitted
            if not item.future.done():
                item.future.set_result(hits[: item.k])

    def _apply_effort(self) -> float:
        if self.effort is None:
            return 1.0
        effort = self.effort.effort()
        if isinstance(self.inner, SupportsEffort):
            self.inner.set_effort(effort)
        return effort

    @staticmethod
    def _fail(items: list[_Pending], error: Exception) -> None:
        for item in items:
            if not item.future.done():
                item.future.set_exception(error)


def _as_retrieval_error(exc: Exception, name: str) -> SleuthError:
    if isinstance(exc, SleuthError):
        return exc
    error = RetrievalError(f"{name} failed: {type(exc).__name__}: {exc}", retriever=name)
    error.__cause__ = exc
    return error


__all__ = [
    "AdaptiveEffort",
    "BatcherStats",
    "BatchingRetriever",
    "SupportsEffort",
    "ef_search_for_effort",
    "min_effort_for_recall",
    "nprobe_for_effort",
]
