"""Engine and retriever calls that record trace events and usage as they go.

Graph nodes call :class:`StepRecorder` instead of the engine or retriever directly, so every
method reports the same trace shape and cost figures.
"""

from __future__ import annotations

import asyncio
import time

from sleuth.engines.base import GenerationRequest, GenerationResponse, LLMEngine
from sleuth.errors import RetrievalError
from sleuth.retrieval.base import Retriever
from sleuth.types import ErrorEvent, SearchEvent, SearchHit, TraceEvent, Usage


class StepRecorder:
    """Wraps one engine and one retriever for one question."""

    def __init__(
        self,
        engine: LLMEngine,
        retriever: Retriever | None,
        *,
        search_retries: int = 2,
        retry_backoff_s: float = 0.2,
    ) -> None:
        self.engine = engine
        self.retriever = retriever
        self.search_retries = search_retries
        self.retry_backoff_s = retry_backoff_s

    async def generate(
        self, request: GenerationRequest, usage: Usage
    ) -> tuple[GenerationResponse, float]:
        """Call the engine; add the call to ``usage``. Returns the response and its seconds."""
        start = time.perf_counter()
        response = await self.engine.generate(request)
        elapsed = time.perf_counter() - start
        usage.llm_calls += 1
        usage.prompt_tokens += response.prompt_tokens
        usage.completion_tokens += response.completion_tokens
        return response, elapsed

    async def search(
        self, query: str, k: int, usage: Usage
    ) -> tuple[list[SearchHit], list[TraceEvent]]:
        """Search with retries. On final failure returns no hits and an error event."""
        if self.retriever is None:
            return [], [ErrorEvent(message="no retriever configured", code="no_retriever")]
        start = time.perf_counter()
        usage.searches += 1
        last_error: Exception | None = None
        for attempt in range(self.search_retries + 1):
            try:
                hits = (await self.retriever.search([query], k))[0]
                event = SearchEvent(
                    ts=time.time() - (time.perf_counter() - start),
                    duration_s=time.perf_counter() - start,
                    query=query,
                    ids=[h.passage.id for h in hits],
                    titles=[h.passage.title for h in hits],
                    scores=[round(h.score, 4) for h in hits],
                )
                return hits, [event]
            except Exception as exc:  # noqa: BLE001 - any backend failure is retried then recorded
                last_error = exc
                if attempt < self.search_retries:
                    await asyncio.sleep(self.retry_backoff_s * (2**attempt))
        error = RetrievalError(f"search failed after {self.search_retries + 1} attempts: {last_error}")
        events: list[TraceEvent] = [
            SearchEvent(query=query, duration_s=time.perf_counter() - start),
            ErrorEvent(message=str(error), code=error.code),
        ]
        return [], events
