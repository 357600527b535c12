"""Formatting retrieved passages for prompts and choosing the passages an answer cites."""

from __future__ import annotations

import re
import string

from sleuth.agents.protocol import escape_retrieved
from sleuth.types import Citation, Passage, SearchHit

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def format_documents(hits: list[SearchHit], max_chars: int = 700) -> str:
    """``Doc 1 (Title: ...) text`` lines, as Search-R1 formats them, with tags escaped."""
    return format_passages([hit.passage for hit in hits], max_chars)


def format_passages(passages: list[Passage], max_chars: int = 700) -> str:
    """:func:`format_documents` for passages without search scores."""
    lines = []
    for i, passage in enumerate(passages, start=1):
        text = cut_text(passage.text, max_chars)
        lines.append(f"Doc {i} (Title: {escape_retrieved(passage.title)}) {escape_retrieved(text)}")
    return "\n".join(lines)


def cut_text(text: str, limit: int) -> str:
    """``text`` cut at the last word boundary before ``limit`` characters, marked " ..."."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def top_hits(hits: list[SearchHit], k: int) -> list[SearchHit]:
    """The first ``k`` ranked hits, and the pages the search followed links to: a method that
    reads fewer hits than a probe search fetched keeps the links it was given."""
    return [h for i, h in enumerate(hits) if i < k or h.linked] if k > 0 else []


def add_passages(kept: list[Passage], new: list[Passage], limit: int) -> list[Passage]:
    """``kept`` plus the unseen passages of ``new``, at most ``limit`` in all."""
    ids = {p.id for p in kept}
    out = list(kept)
    for passage in new:
        if passage.id not in ids and len(out) < limit:
            out.append(passage)
            ids.add(passage.id)
    return out


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def cite_passages(answer: str, seen: list[Passage], fallback: list[Passage], limit: int = 3) -> list[Citation]:
    """Cite the passages that contain the answer; else those sharing most answer tokens;
    else ``fallback`` (the last search's top hit)."""
    norm = normalize_answer(answer)
    unique = list({p.id: p for p in seen}.values())
    if norm:
        containing = [p for p in unique if norm in normalize_answer(f"{p.title} {p.text}")]
        if containing:
            return [Citation(id=p.id, title=p.title) for p in containing[:limit]]
        tokens = set(norm.split())
        scored = []
        for p in unique:
            overlap = len(tokens & set(normalize_answer(f"{p.title} {p.text}").split()))
            if overlap:
                scored.append((overlap / len(tokens), p))
        scored.sort(key=lambda item: -item[0])
        if scored and scored[0][0] >= 0.5:
            return [Citation(id=p.id, title=p.title) for _, p in scored[:limit]]
    return [Citation(id=p.id, title=p.title) for p in fallback[:1]]
