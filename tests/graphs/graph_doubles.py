"""Test doubles shared by the graph tests: the keyword retriever of the Search-R1 tests, a
retriever that fails mid-run, and an engine that crashes after a number of calls."""

from __future__ import annotations

from test_search_r1 import PASSAGES, KeywordRetriever

from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.engines.scripted import ScriptedEngine
from sleuth.types import SearchHit

__all__ = ["PASSAGES", "CrashingEngine", "FlakyRetriever", "KeywordRetriever"]


class FlakyRetriever(KeywordRetriever):
    """Answers the first ``ok_calls`` searches, then fails every call."""

    def __init__(self, ok_calls: int) -> None:
        super().__init__(PASSAGES)
        self.ok_calls = ok_calls
        self.calls = 0

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        self.calls += 1
        if self.calls > self.ok_calls:
            raise ConnectionError("index went away")
        return await super().search(queries, k)


class CrashingEngine(ScriptedEngine):
    """A scripted engine whose process 'dies' (raises) on call number ``crash_at`` (1-based)."""

    def __init__(self, outputs: list[str], crash_at: int) -> None:
        super().__init__(outputs)
        self.crash_at = crash_at

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        if len(self.requests) + 1 >= self.crash_at:
            raise RuntimeError("engine crashed")
        return await super().generate(request)
