"""Offline Wikipedia sandboxes: search, open and find over a fixed corpus, every action logged.

Build one with :func:`build_sandbox` (or ``sleuth sandbox build``), open it with
:meth:`Sandbox.load`, and give each agent a :meth:`Sandbox.view`, which has its own
:class:`ActionLog` and can hide chosen evidence.
"""

from __future__ import annotations

from sleuth.sandboxes.actionlog import Action, ActionLog
from sleuth.sandboxes.build import build_sandbox
from sleuth.sandboxes.sandbox import Sandbox, SandboxManifest, SandboxRetriever, SandboxView
from sleuth.sandboxes.tools import (
    FindResult,
    PageResult,
    SearchResult,
    SearchResultHit,
    SentenceMatch,
    ToolError,
    ToolResult,
)

__all__ = [
    "Action",
    "ActionLog",
    "FindResult",
    "PageResult",
    "Sandbox",
    "SandboxManifest",
    "SandboxRetriever",
    "SandboxView",
    "SearchResult",
    "SearchResultHit",
    "SentenceMatch",
    "ToolError",
    "ToolResult",
    "build_sandbox",
]
