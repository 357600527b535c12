"""Formatting retrieved passages for prompts and choosing the passages an answer cites."""

from __future__ import annotations

import re
import string

from sleuth.agents.protocol import escape_retrieved
from sleuth.types import Citation, Passage, SearchHit

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def format_documents(hits: list[SearchHit], max_chars: int = 700) -> str:
    """``Doc 1 (Title: ...) text`` lines, as Search-R1 formats them, with tags escaped."""
    lines = []
    for i, hit in enumerate(hits, start=1):
        text = hit.passage.text
        if len(text) > max_chars:
            text = text[:max_chars].rsplit(" ", 1)[0] + " ..."
        title = escape_retrieved(hit.passage.title)
        lines.append(f"Doc {i} (Title: {title}) {escape_retrieved(text)}")
    return "\n".join(lines)


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
