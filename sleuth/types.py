"""Shared data types: passages, hits, citations, answers and trace events.

All models forbid unknown fields so that a typo in a config or a JSON payload fails loudly.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Base for Sleuth's pydantic models: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


EngineRole = Literal["judge"]
"""What an LLM call is for, where a run may give it an engine of its own: ``"judge"`` is
EvidenceLoop's verification ("do these facts support this answer?"), so that a stronger model
can check what a small one drafts (:class:`~sleuth.engines.router.RoleRouter`)."""

ENGINE_ROLES: tuple[EngineRole, ...] = ("judge",)


class Passage(StrictModel):
    """One retrievable unit of text: a Wikipedia paragraph, a page, a chunk."""

    id: str
    title: str = ""
    text: str

    def contents(self) -> str:
        """Search-R1 / FlashRAG ``contents`` form: ``"Title"\\ntext``."""
        return f'"{self.title}"\n{self.text}'


class SearchHit(StrictModel):
    """A passage returned by a retriever, with its score and rank (0-based)."""

    passage: Passage
    score: float
    rank: int = 0
    linked: bool = False
    """A page the search followed a link to, after its ranked hits (see ``--follow-links``)."""


class Citation(StrictModel):
    """A passage an answer relies on."""

    id: str
    title: str = ""


class Usage(StrictModel):
    """What one question cost."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    searches: int = 0
    opens: int = 0
    wall_s: float = 0.0

    def add(self, other: Usage) -> Usage:
        return Usage(
            llm_calls=self.llm_calls + other.llm_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            searches=self.searches + other.searches,
            opens=self.opens + other.opens,
            wall_s=self.wall_s + other.wall_s,
        )


class _Event(StrictModel):
    ts: float = Field(default_factory=time.time, description="Unix time the step started.")
    duration_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ThinkEvent(_Event):
    type: Literal["think"] = "think"
    text: str


class SearchEvent(_Event):
    type: Literal["search"] = "search"
    query: str
    ids: list[str] = Field(default_factory=list)
    titles: list[str] = Field(default_factory=list)
    scores: list[float] = Field(default_factory=list)


class InformationEvent(_Event):
    type: Literal["information"] = "information"
    text: str
    ids: list[str] = Field(default_factory=list)


class AnswerEvent(_Event):
    type: Literal["answer"] = "answer"
    text: str
    forced: bool = False


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    message: str
    code: str = "error"


class NoteEvent(_Event):
    """A free-form step of a richer graph: an evidence note, a verification, a tree node."""

    type: Literal["note"] = "note"
    kind: str
    text: str
    data: dict[str, Any] = Field(default_factory=dict)


TraceEvent = Annotated[
    ThinkEvent | SearchEvent | InformationEvent | AnswerEvent | ErrorEvent | NoteEvent,
    Field(discriminator="type"),
]


class Answer(StrictModel):
    """The final result of a graph run."""

    question: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = False
    abstain_reason: str | None = None
    trace: list[TraceEvent] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    method: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        """The stable JSON shape printed by ``sleuth ask --json``."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "method": self.method,
            "citations": [c.model_dump() for c in self.citations],
            "trace": [e.model_dump() for e in self.trace],
            "usage": self.usage.model_dump(),
        }


__all__ = [
    "ENGINE_ROLES",
    "Answer",
    "AnswerEvent",
    "Citation",
    "EngineRole",
    "ErrorEvent",
    "InformationEvent",
    "NoteEvent",
    "Passage",
    "SearchEvent",
    "SearchHit",
    "StrictModel",
    "ThinkEvent",
    "TraceEvent",
    "Usage",
]
