"""The sandbox's tools as a JSON API, so agents written outside Sleuth can be evaluated too.

::

    GET    /health                      the sandbox manifest
    POST   /sessions                    {"hide_ids": [...], "hide_titles": [...]} -> session id
    GET    /sessions/{id}/log           the session's action log
    DELETE /sessions/{id}
    POST   /sessions/{id}/search        {"query": "...", "k": 5}
    POST   /sessions/{id}/open          {"title_or_id": "...", "page": 0}
    POST   /sessions/{id}/find          {"title_or_id": "...", "pattern": "..."}

Each session is a :class:`~sleuth.sandboxes.sandbox.SandboxView`: its own log and mask.
Every error is a 4xx with a JSON body ``{"error": {"code", "message", "hint", "details"}}``:
400 bad JSON or a bad tool argument, 404 unknown session or page, 413 a body over the
limit, 422 a request that fails its schema (too long, a path in place of a title), 429 too
many sessions. The OpenAPI spec is at ``/openapi.json``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import AfterValidator, Field

from sleuth._optional import require
from sleuth.errors import SandboxError
from sleuth.sandboxes.actionlog import Action
from sleuth.sandboxes.sandbox import Sandbox, SandboxManifest, SandboxView
from sleuth.sandboxes.tools import FindResult, PageResult, SearchResult
from sleuth.types import StrictModel

if TYPE_CHECKING:
    from fastapi import FastAPI

MAX_BODY_BYTES = 64 * 1024
_PATH_LIKE = re.compile(r"^[/\\~]|^[A-Za-z]:[/\\]|(^|[/\\])\.\.([/\\]|$)|^[a-z]+://|[\x00-\x1f]")

T = TypeVar("T")


def _not_a_path(value: str) -> str:
    if _PATH_LIKE.search(value):
        raise ValueError("a page title or id, not a file path or URL")
    return value


Title = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_not_a_path)]
ShortStr = Annotated[str, Field(min_length=1, max_length=300)]


class SessionRequest(StrictModel):
    hide_ids: list[ShortStr] = Field(default_factory=list, max_length=10_000)
    """Paragraph ids this session must never see (evidence masking)."""
    hide_titles: list[Title] = Field(default_factory=list, max_length=10_000)
    """Page titles this session must never see."""


class SessionInfo(StrictModel):
    session_id: str
    hidden_ids: int
    created: float


class SearchRequest(StrictModel):
    query: str = Field(min_length=1, max_length=1000)
    k: int = Field(default=5, ge=1, le=50)


class OpenRequest(StrictModel):
    title_or_id: Title
    page: int | None = Field(default=None, ge=0, le=100_000)
    """0-based page; default: the first page, or the page holding the paragraph id."""


class FindRequest(StrictModel):
    title_or_id: Title
    pattern: str = Field(min_length=1, max_length=200)


class ActionLogResponse(StrictModel):
    session_id: str
    actions: list[Action]


class Health(StrictModel):
    status: str
    sessions: int
    sandbox: SandboxManifest


class ErrorDetail(StrictModel):
    code: str
    message: str
    hint: str | None = None
    details: Any = None


class ErrorBody(StrictModel):
    error: ErrorDetail


class Sessions:
    """Thread-safe session table with an upper bound."""

    def __init__(self, sandbox: Sandbox, max_sessions: int) -> None:
        self.sandbox = sandbox
        self.max_sessions = max_sessions
        self._views: dict[str, tuple[SandboxView, float]] = {}
        self._lock = threading.Lock()

    def create(self, request: SessionRequest) -> SessionInfo:
        view = self.sandbox.view(hide_ids=request.hide_ids, hide_titles=request.hide_titles)
        with self._lock:
            if len(self._views) >= self.max_sessions:
                raise _HTTPError(429, "too_many_sessions",
                                 f"The server holds {self.max_sessions} sessions already.",
                                 "DELETE finished sessions")
            sid = uuid.uuid4().hex
            self._views[sid] = (view, time.time())
        return SessionInfo(session_id=sid, hidden_ids=len(view.hidden_ids), created=time.time())

    def get(self, sid: str) -> SandboxView:
        with self._lock:
            found = self._views.get(sid)
        if found is None:
            raise _HTTPError(404, "unknown_session", f"No session {sid[:64]!r}.",
                             "create one with POST /sessions")
        return found[0]

    def delete(self, sid: str) -> None:
        self.get(sid)
        with self._lock:
            self._views.pop(sid, None)

    def __len__(self) -> int:
        return len(self._views)


class _HTTPError(Exception):
    def __init__(self, status: int, code: str, message: str, hint: str | None = None,
                 details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(error=ErrorDetail(code=code, message=message, hint=hint,
                                                details=details))


def _sandbox_http_error(exc: SandboxError) -> _HTTPError:
    kind = str(exc.details.get("kind", exc.code))
    status = 404 if kind == "not_found" else 400
    return _HTTPError(status, kind, exc.message, exc.hint)


def create_app(
    sandbox: Sandbox, *, max_sessions: int = 1000, max_body_bytes: int = MAX_BODY_BYTES
) -> Any:
    """A FastAPI app serving ``sandbox``; run it with uvicorn."""
    fastapi = require("fastapi", "server", purpose="the sandbox server")
    app = fastapi.FastAPI(
        title="Sleuth sandbox",
        description="Search, open and find over an offline Wikipedia, with per-session "
        "action logs and evidence masking.",
        version=sandbox.manifest.sleuth_version or "0",
    )
    sessions = Sessions(sandbox, max_sessions)
    _install_error_handlers(app, fastapi)
    _add_routes(app, sessions)
    return BodyLimit(app, max_body_bytes)


def _add_routes(app: FastAPI, sessions: Sessions) -> None:
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody} for code in (400, 404, 413, 422, 429)
    }

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(status="ok", sessions=len(sessions), sandbox=sessions.sandbox.manifest)

    @app.post("/sessions", response_model=SessionInfo, status_code=201, responses=errors)
    async def create_session(request: SessionRequest | None = None) -> SessionInfo:
        return sessions.create(request or SessionRequest())

    @app.get("/sessions/{session_id}/log", response_model=ActionLogResponse, responses=errors)
    async def session_log(session_id: str) -> ActionLogResponse:
        view = sessions.get(session_id)
        return ActionLogResponse(session_id=session_id, actions=view.log.actions)

    @app.delete("/sessions/{session_id}", status_code=204, responses=errors)
    async def delete_session(session_id: str) -> None:
        sessions.delete(session_id)

    @app.post("/sessions/{session_id}/search", response_model=SearchResult, responses=errors)
    async def search(session_id: str, request: SearchRequest) -> SearchResult:
        return await _tool(sessions.get(session_id).search(request.query, request.k))

    @app.post("/sessions/{session_id}/open", response_model=PageResult, responses=errors)
    async def open_page(session_id: str, request: OpenRequest) -> PageResult:
        return await _tool(sessions.get(session_id).open(request.title_or_id, request.page))

    @app.post("/sessions/{session_id}/find", response_model=FindResult, responses=errors)
    async def find(session_id: str, request: FindRequest) -> FindResult:
        return await _tool(sessions.get(session_id).find(request.title_or_id, request.pattern))


async def _tool(call: Awaitable[T]) -> T:
    try:
        return await call
    except SandboxError as exc:
        raise _sandbox_http_error(exc) from exc


def _install_error_handlers(app: Any, fastapi: Any) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    def reply(status: int, body: ErrorBody) -> Any:
        return fastapi.responses.JSONResponse(status_code=status, content=body.model_dump())

    async def on_http_error(request: Any, exc: _HTTPError) -> Any:
        return reply(exc.status, exc.body)

    async def on_validation(request: Any, exc: Any) -> Any:
        problems = [
            {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")}
            for e in exc.errors()
        ]
        bad_json = any(p["type"] == "json_invalid" for p in problems)
        status, code = (400, "bad_json") if bad_json else (422, "invalid_request")
        message = "The body is not valid JSON." if bad_json else "The request fails its schema."
        return reply(status, ErrorBody(error=ErrorDetail(
            code=code, message=message, hint="see /openapi.json", details=problems)))

    async def on_starlette(request: Any, exc: Any) -> Any:
        return reply(exc.status_code, ErrorBody(error=ErrorDetail(
            code="http_error", message=str(exc.detail))))

    app.add_exception_handler(_HTTPError, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_starlette)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets a 413 JSON reply.

    The body is read (up to the limit) before the app runs, so a chunked upload without a
    Content-Length is bounded too.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __getattr__(self, name: str) -> Any:  # expose the FastAPI app (openapi(), routes)
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._reject(send)
                return
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, send: Any) -> None:
        body = ErrorBody(error=ErrorDetail(
            code="too_large", message=f"The request body is over {self.limit} bytes."))
        payload = json.dumps(body.model_dump()).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


__all__ = ["BodyLimit", "create_app"]
