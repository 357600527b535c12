"""Typed results of the three sandbox tools, and their text form for a language model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sleuth.types import StrictModel


class SearchResultHit(StrictModel):
    id: str
    title: str
    snippet: str
    score: float
    rank: int


class SearchResult(StrictModel):
    query: str
    hits: list[SearchResultHit] = Field(default_factory=list)

    def render(self) -> str:
        if not self.hits:
            return f"No results for {self.query!r}."
        lines = [f"[{h.rank + 1}] {h.title} (id {h.id}): {h.snippet}" for h in self.hits]
        return "\n".join(lines)


class PageResult(StrictModel):
    title: str
    page: int
    """0-based page number."""
    n_pages: int
    text: str
    ids: list[str] = Field(default_factory=list)
    """Paragraphs shown on this page."""

    def render(self) -> str:
        more = f" (page {self.page + 1} of {self.n_pages})" if self.n_pages > 1 else ""
        return f"# {self.title}{more}\n{self.text}"


class SentenceMatch(StrictModel):
    id: str
    """The paragraph the sentence is in."""
    sentence: str


class FindResult(StrictModel):
    title: str
    pattern: str
    matches: list[SentenceMatch] = Field(default_factory=list)
    truncated: bool = False
    """More sentences matched than were returned."""

    def render(self) -> str:
        if not self.matches:
            return f"No sentence of {self.title!r} contains {self.pattern!r}."
        return "\n".join(f"- {m.sentence}" for m in self.matches)


class ToolError(StrictModel):
    code: str
    message: str
    hint: str | None = None


class ToolResult(StrictModel):
    """What an agent gets back from :meth:`SandboxView.call`: a result or a tool error."""

    tool: Literal["search", "open", "find"]
    search: SearchResult | None = None
    page: PageResult | None = None
    find: FindResult | None = None
    error: ToolError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def render(self) -> str:
        """The text an LLM agent reads."""
        if self.error is not None:
            hint = f" ({self.error.hint})" if self.error.hint else ""
            return f"Error: {self.error.message}{hint}"
        body = self.search or self.page or self.find
        return body.render() if body is not None else ""


__all__ = [
    "FindResult",
    "PageResult",
    "SearchResult",
    "SearchResultHit",
    "SentenceMatch",
    "ToolError",
    "ToolResult",
]
