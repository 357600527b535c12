"""A retrieval server with Search-R1's exact API, built on FastAPI.

``POST /retrieve`` takes ``{"queries": [...], "topk": k, "return_scores": true}`` and
answers ``{"result": [[{"document": {"id": ..., "contents": "\\"Title\\"\\ntext"},
"score": s}, ...], ...]}``; without ``return_scores`` each hit is the document alone.
``GET /health`` reports the index size, the limits and batching counters.

Requests are validated against :class:`ServerLimits`; a violation is a 422 whose JSON body
lists what is wrong (without echoing the offending input). Concurrent requests are
micro-batched: while one index call runs, newly arrived requests queue, and the next call
takes all of them at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from sleuth._optional import require
from sleuth.errors import SleuthError
from sleuth.retrieval.base import Retriever
from sleuth.types import Passage, SearchHit, StrictModel

logger = logging.getLogger(__name__)


class ServerLimits(StrictModel):
    """What one request may ask for."""

    max_queries: int = Field(default=512, ge=1)
    """Queries per request."""
    max_query_chars: int = Field(default=4096, ge=1)
    """Characters per query."""
    max_topk: int = Field(default=100, ge=1)
    """Largest topk."""
    default_topk: int = Field(default=3, ge=1)
    """topk when the request leaves it out (Search-R1's default is 3)."""
    max_body_bytes: int = Field(default=8 << 20, ge=1024)
    """Request bodies larger than this are refused with 413 before parsing."""
    max_batch_queries: int = Field(default=1024, ge=1)
    """Queries gathered into one index call by the micro-batcher."""


def request_model(limits: ServerLimits) -> type[BaseModel]:
    """The /retrieve request schema with ``limits`` baked in."""
    query = Annotated[str, StringConstraints(max_length=limits.max_query_chars)]

    class RetrieveRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        queries: list[query] = Field(min_length=1, max_length=limits.max_queries)
        topk: int = Field(default=limits.default_topk, ge=1, le=limits.max_topk)
        return_scores: bool = False

    return RetrieveRequest


def document(passage: Passage) -> dict[str, str]:
    """Search-R1's document shape."""
    return {"id": passage.id, "contents": passage.contents()}


def format_result(hits: list[list[SearchHit]], return_scores: bool) -> list[list[Any]]:
    if return_scores:
        return [[{"document": document(h.passage), "score": h.score} for h in q] for q in hits]
    return [[document(h.passage) for h in q] for q in hits]


@dataclass
class _Pending:
    queries: list[str]
    k: int
    future: asyncio.Future[list[list[SearchHit]]]


@dataclass
class MicroBatcher:
    """Coalesces concurrent searches into one ``retriever.search`` call."""

    retriever: Retriever
    max_batch_queries: int = 1024
    calls: int = 0
    requests: int = 0
    _queue: list[_Pending] = field(default_factory=list)
    _worker: asyncio.Task[None] | None = None

    async def search(self, queries: list[str], k: int) -> list[list[SearchHit]]:
        future: asyncio.Future[list[list[SearchHit]]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(queries, k, future))
        self.requests += 1
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch: list[_Pending] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].queries) <= self.max_batch_queries):
                item = self._queue.pop(0)
                batch.append(item)
                size += len(item.queries)
            await self._run(batch)

    async def _run(self, batch: list[_Pending]) -> None:
        k = max(p.k for p in batch)
        queries = [q for p in batch for q in p.queries]
        self.calls += 1
        try:
            hits = await self.retriever.search(queries, k)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        start = 0
        for p in batch:
            part = [h[: p.k] for h in hits[start : start + len(p.queries)]]
            start += len(p.queries)
            if not p.future.done():
                p.future.set_result(part)


def _error_list(exc: ValidationError) -> list[dict[str, Any]]:
    # no "input": a rejected 1 MB query should not be echoed back.
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()[:20]]


def create_app(retriever: Retriever, limits: ServerLimits | None = None,
               passages: int | None = None) -> Any:
    """A FastAPI app serving ``retriever``; run it with uvicorn."""
    fastapi = require("fastapi", "server", purpose="the retrieval server")
    from fastapi.responses import JSONResponse

    limits = limits or ServerLimits()
    model = request_model(limits)
    batcher = MicroBatcher(retriever, limits.max_batch_queries)
    app = fastapi.FastAPI(title="Sleuth retrieval server", version="1")
    app.state.batcher = batcher

    async def health() -> dict[str, Any]:
        return {"status": "ok", "retriever": retriever.name, "passages": passages,
                "limits": limits.model_dump(), "index_calls": batcher.calls,
                "requests": batcher.requests}

    app.get("/health")(health)

    async def retrieve(request: Any) -> Any:
        size = int(request.headers.get("content-length") or 0)
        if size > limits.max_body_bytes:
            return JSONResponse({"detail": f"body of {size} bytes exceeds {limits.max_body_bytes}"},
                                status_code=413)
        body = await request.body()
        try:
            req: Any = model.model_validate_json(body)
        except ValidationError as exc:
            return JSONResponse({"detail": _error_list(exc)}, status_code=422)
        try:
            hits = await batcher.search(list(req.queries), req.topk)
        except SleuthError as exc:
            logger.exception("retrieval failed")
            return JSONResponse(exc.to_dict(), status_code=500)
        except Exception as exc:
            logger.exception("retrieval failed")
            return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status_code=500)
        return {"result": format_result(hits, req.return_scores)}

    # FastAPI resolves annotations at registration; fastapi is imported lazily, so set it here.
    retrieve.__annotations__["request"] = fastapi.Request
    app.post("/retrieve")(retrieve)
    return app


class BackgroundServer:
    """Runs an ASGI app with uvicorn in a daemon thread; for tests and notebooks.

    >>> with BackgroundServer(create_app(retriever)) as url:
    ...     RemoteRetriever(url)
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        uvicorn = require("uvicorn", "server", purpose="the retrieval server")
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.host = host
        self._thread = threading.Thread(target=self.server.run, name="sleuth-server", daemon=True)

    def start(self, timeout_s: float = 20.0) -> str:
        """Start serving; returns the base URL once the socket listens."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the retrieval server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["BackgroundServer", "MicroBatcher", "ServerLimits", "create_app", "document", "format_result", "request_model"]
