"""The action log: every tool call an agent makes inside a sandbox, in order.

A :class:`SandboxView` records each ``search``, ``open`` and ``find`` here, including calls
that failed, and :class:`~sleuth.sandboxes.sandbox.SandboxRetriever` records each search a
graph makes through the Retriever protocol. Everything an agent sees passed through one of
those paths, so the log is a complete account of what the agent could have read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import Field

from sleuth.types import StrictModel

Tool = Literal["search", "open", "find"]


class Action(StrictModel):
    """One tool call and what it returned."""

    seq: int
    """Position in the log, from 0."""
    ts: float
    """Unix time the call started."""
    tool: Tool
    args: dict[str, Any] = Field(default_factory=dict)
    ids: list[str] = Field(default_factory=list)
    """Ids of the paragraphs the agent was shown (hits, page paragraphs, matching sentences)."""
    titles: list[str] = Field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None
    """The error message the agent saw, when the call failed."""
    via: Literal["tool", "retriever"] = "tool"
    """``retriever`` when a graph searched through :class:`SandboxRetriever`."""


class ActionRecord:
    """Filled in by the code inside :meth:`ActionLog.record`."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.error: str | None = None


class ActionLog:
    """An append-only, thread-safe list of :class:`Action`."""

    def __init__(self) -> None:
        self._actions: list[Action] = []
        self._lock = threading.Lock()

    @contextmanager
    def record(
        self, tool: Tool, args: dict[str, Any], *, via: Literal["tool", "retriever"] = "tool"
    ) -> Iterator[ActionRecord]:
        """Log one call. The action is appended even when the body raises."""
        started = time.time()
        clock = time.perf_counter()
        rec = ActionRecord()
        try:
            yield rec
        except BaseException as exc:
            rec.error = rec.error or (getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            raise
        finally:
            self._append(tool, args, via, started, time.perf_counter() - clock, rec)

    def _append(
        self, tool: Tool, args: dict[str, Any], via: Literal["tool", "retriever"],
        started: float, duration: float, rec: ActionRecord,
    ) -> None:
        with self._lock:
            self._actions.append(
                Action(
                    seq=len(self._actions), ts=started, tool=tool, args=dict(args),
                    ids=list(rec.ids), titles=list(rec.titles), duration_s=duration,
                    error=rec.error, via=via,
                )
            )

    @property
    def actions(self) -> list[Action]:
        """A snapshot of the log."""
        with self._lock:
            return list(self._actions)

    def __len__(self) -> int:
        with self._lock:
            return len(self._actions)

    def count(self, tool: Tool) -> int:
        """How many calls of ``tool`` were made (failed ones included)."""
        return sum(1 for a in self.actions if a.tool == tool)

    def seen_ids(self) -> set[str]:
        """Ids of every paragraph any call showed to the agent."""
        return {pid for a in self.actions for pid in a.ids}

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-friendly form, for result files and the HTTP API."""
        return [a.model_dump(mode="json") for a in self.actions]


__all__ = ["Action", "ActionLog", "ActionRecord", "Tool"]
