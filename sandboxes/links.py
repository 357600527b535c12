"""Links between sandbox pages, found by title: the hyperlinks a plain-text corpus lost.

A Wikipedia paragraph names the pages it links to, and a multi-hop question's second page
is usually one of them: "the director of Inception" is answered on the page the first
hop's passage names, "Christopher Nolan". A :class:`TitleLinker` finds every page title a
text mentions, so a search can follow those links the way a reader clicks them, with no
model call (PathRetriever and GoldEn Retriever follow Wikipedia's real hyperlinks for the
same reason).

A mention is the title's exact text (case-sensitive, as titles are written in prose),
standing as whole words. At each position the longest title wins, so "Morris Canal" is
found rather than "Morris". A title with a disambiguation, "Winner (band)", is also found
as "Winner" when no page is titled "Winner" and no other page shares that name. Titles
shorter than ``min_chars`` are skipped: "The", "Up" and "1998" would link almost every
passage to noise.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Iterable

from sleuth.retrieval.base import Retriever, RowStore
from sleuth.types import Passage, SearchHit

_WORD = re.compile(r"\w[\w'.&-]*")
_DISAMBIGUATION = re.compile(r"\s+\([^()]*\)$")


def short_name(title: str) -> str:
    """A title without its disambiguation: "Winner" for "Winner (band)"."""
    return _DISAMBIGUATION.sub("", title)


class TitleLinker:
    """Finds page titles mentioned in text. Built once per sandbox from its titles."""

    def __init__(self, titles: Iterable[str], min_chars: int = 4) -> None:
        self.min_chars = min_chars
        pages = set(titles)
        names = Counter(short_name(t) for t in pages)
        self._page_of: dict[str, str] = {}
        """Surface form -> page title: every title, and each unambiguous short name."""
        for title in pages:
            self._page_of[title] = title
            name = short_name(title)
            if name != title and names[name] == 1 and name not in pages:
                self._page_of[name] = title
        self._by_first: dict[str, list[str]] = {}
        for form in self._page_of:
            first = _WORD.match(form)
            if len(form) >= min_chars and first is not None and first.start() == 0:
                self._by_first.setdefault(first.group(0), []).append(form)
        for forms in self._by_first.values():
            forms.sort(key=len, reverse=True)  # the longest title at a position wins
        self.n_titles = len(pages)

    def __len__(self) -> int:
        return self.n_titles

    def mentions(self, text: str) -> list[str]:
        """The titles ``text`` mentions, each once, in the order they first appear."""
        found: dict[str, None] = {}
        position = 0
        for word in _WORD.finditer(text):
            start = word.start()
            if start < position:
                continue  # inside a title already matched
            for token in _prefixes(word.group(0)):
                match = next((f for f in self._by_first.get(token, ()) if _stands_at(text, f, start)), None)
                if match is not None:
                    found.setdefault(self._page_of[match], None)
                    position = start + len(match)
                    break
        return list(found)


PageLookup = Callable[[str], "Passage | None"]
"""A page title -> the first paragraph of that page the searcher may see, or ``None``."""


def follow_links(hits: list[SearchHit], query: str, linker: TitleLinker, first_paragraph: PageLookup,
                 limit: int) -> list[SearchHit]:
    """``hits``, then the first paragraphs of up to ``limit`` other pages that the query or
    the hits name, in the order they are named. They rank after the hits, at the last hit's
    score, so score-based signals over the top hits are unchanged. No hits, no links."""
    if limit <= 0 or not hits:
        return hits
    seen = {h.passage.title.casefold() for h in hits}
    out = list(hits)
    for text in [query, *(h.passage.text for h in hits)]:
        for title in linker.mentions(text):
            if len(out) - len(hits) >= limit:
                return out
            if title.casefold() in seen:
                continue
            seen.add(title.casefold())
            passage = first_paragraph(title)
            if passage is not None:
                out.append(SearchHit(passage=passage, score=hits[-1].score, rank=len(out), linked=True))
    return out


class LinkedRetriever:
    """Any :class:`~sleuth.retrieval.base.Retriever`, each search followed by up to
    ``follow`` linked pages (see :func:`follow_links`)."""

    def __init__(self, base: Retriever, linker: TitleLinker, first_paragraph: PageLookup, follow: int) -> None:
        self.base = base
        self.linker = linker
        self.first_paragraph = first_paragraph
        self.follow = follow
        self.name = f"{base.name}+links{follow}"

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        results = await self.base.search(queries, k)
        return await asyncio.to_thread(
            lambda: [follow_links(hits, q, self.linker, self.first_paragraph, self.follow)
                     for q, hits in zip(queries, results)])

    async def aclose(self) -> None:
        await self.base.aclose()


def store_links(store: RowStore) -> tuple[TitleLinker, PageLookup]:
    """A linker and a page lookup over an index's own passages, for following links without
    a sandbox: one pass over the store keeps each title's first row (a few seconds per
    million passages, and a title table in memory)."""
    first_row: dict[str, int] = {}
    for row in range(len(store)):
        first_row.setdefault(store.by_row(row).title, row)

    def first_paragraph(title: str) -> Passage | None:
        row = first_row.get(title)
        return None if row is None else store.by_row(row)

    return TitleLinker(first_row), first_paragraph


def _prefixes(word: str) -> list[str]:
    """The word as a title's first word could be: whole, then without trailing punctuation
    ("Nolan's" -> "Nolan", "U.S." stays)."""
    out = [word]
    stripped = word.rstrip(".'-&")
    stripped = stripped.removesuffix("'s")
    if stripped and stripped != word:
        out.append(stripped)
    return out


def _stands_at(text: str, title: str, start: int) -> bool:
    """Whether ``title`` occurs at ``start`` as whole words."""
    if not text.startswith(title, start):
        return False
    end = start + len(title)
    return end == len(text) or not text[end].isalnum()


__all__ = ["LinkedRetriever", "PageLookup", "TitleLinker", "follow_links", "short_name", "store_links"]
