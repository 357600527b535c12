"""Virtual time for simulations: an asyncio event loop whose clock jumps instead of waiting.

:func:`run_virtual` runs a coroutine on a :class:`VirtualClockLoop`: every sleep or timer
advances the virtual clock at once, so minutes of simulated GPU time take seconds, while
Sleuth's scheduler, batcher and runtime run unchanged on the loop
(:class:`~sleuth.engines.simulated.SimulatedEngine` keeps its time there).
:func:`block_for` models a blocking call on either kind of loop.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):
    """Polls real I/O without waiting; a wait for a timer advances the virtual clock."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timers: only a worker thread can wake us
            ready = super().select(60.0)
            if not ready:
                raise RuntimeError("simulation deadlock: no timers, no I/O for 60 s")
            return ready
        self._clock[0] += timeout
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is virtual: idle waits take no real time.

    Work sent to an executor (``run_in_executor``, ``asyncio.to_thread``; LangGraph runs
    sync routing functions that way) runs inline and takes no virtual time. A worker
    thread would finish at a real-time moment unrelated to the virtual clock, which makes
    runs irreproducible and can stall an agent until the next timer fires.
    """

    def __init__(self) -> None:
        self._clock = [0.0]
        super().__init__(_VirtualSelector(self._clock))

    def time(self) -> float:
        return self._clock[0]

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self.create_future()
        try:
            future.set_result(func(*args))
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - handed to the awaiting task
            future.set_exception(exc)
        return future

    def advance(self, seconds: float) -> None:
        """Model a synchronous call: the clock moves and nothing else runs meanwhile."""
        self._clock[0] += max(0.0, seconds)


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a fresh :class:`VirtualClockLoop`."""
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(_reap(loop))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _reap(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what ``main`` left running (an engine's step loop) and wait for it."""
    pending = [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def block_for(seconds: float) -> None:
    """Hold the event loop for ``seconds``, as a blocking call on it would."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if isinstance(loop, VirtualClockLoop):
        loop.advance(seconds)
    else:
        time.sleep(seconds)


__all__ = ["VirtualClockLoop", "block_for", "run_virtual"]
