"""The page store of a sandbox: paragraphs grouped into pages by title, on disk in SQLite.

Search goes through the retrieval index; ``open`` and ``find`` need pages, which an index
does not have. Each paragraph row keeps its page title and its position in the page, so
a page is one indexed query and nothing is held in Python memory.

A sandbox opened over a bare retrieval index (no page store) uses
:class:`IndexPageStore`: each passage is its own one-paragraph page, found by id.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from sleuth.retrieval.base import PassageStore
from sleuth.types import Passage

PAGES_FILE = "pages.sqlite"

_SCHEMA = """
CREATE TABLE paragraphs (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    ord INTEGER NOT NULL,
    text TEXT NOT NULL
);
"""
_TITLE_INDEX = "CREATE INDEX paragraphs_title ON paragraphs (title COLLATE NOCASE, ord)"


def normalize_title(title: str) -> str:
    """Wikipedia-style: underscores are spaces, outer whitespace dropped."""
    return title.replace("_", " ").strip()


class PageStore(Protocol):
    """Paragraph lookup by id and page lookup by title."""

    def get(self, paragraph_id: str) -> Passage | None:
        """The paragraph, or None."""
        ...

    def page(self, title: str) -> list[Passage]:
        """The paragraphs of the page titled ``title``, in page order; [] when unknown."""
        ...

    def titles(self) -> list[str]:
        """Every page title (for following links by title); [] when pages have none."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


class PageStoreWriter:
    """Writes ``pages.sqlite``; paragraphs of one title keep the order they were added in.

    ``ord`` is the global insertion number, so a page's paragraphs need not be adjacent in
    the corpus and no per-title state is kept in memory.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.executescript(_SCHEMA)
        self.n_paragraphs = 0
        self.n_pages = 0
        self._batch: list[tuple[str, str, int, str]] = []

    def add(self, passage: Passage) -> None:
        title = normalize_title(passage.title) or passage.id
        self._batch.append((passage.id, title, self.n_paragraphs, passage.text))
        self.n_paragraphs += 1
        if len(self._batch) >= 5000:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO paragraphs VALUES (?, ?, ?, ?)", self._batch)
        self._batch = []

    def close(self) -> None:
        self._flush()
        self._db.execute(_TITLE_INDEX)
        self._db.commit()
        count = self._db.execute("SELECT COUNT(DISTINCT title) FROM paragraphs").fetchone()
        self.n_pages = int(count[0])
        self._db.close()


class SqlitePageStore:
    """Read-only :class:`PageStore` over ``pages.sqlite``; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._count = int(self._query("SELECT COUNT(*) FROM paragraphs", ())[0][0])

    def _query(self, sql: str, params: tuple[str, ...]) -> list[tuple[str, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def get(self, paragraph_id: str) -> Passage | None:
        rows = self._query("SELECT id, title, text FROM paragraphs WHERE id = ?", (paragraph_id,))
        return Passage(id=rows[0][0], title=rows[0][1], text=rows[0][2]) if rows else None

    def page(self, title: str) -> list[Passage]:
        wanted = normalize_title(title)
        rows = self._query(
            "SELECT id, title, text FROM paragraphs WHERE title = ? COLLATE NOCASE ORDER BY ord",
            (wanted,),
        )
        if rows:  # the exact title wins, so "Up" and "UP" stay two pages when both exist
            exact = [r for r in rows if r[1] == wanted]
            rows = exact or [r for r in rows if r[1] == rows[0][1]]
        return [Passage(id=r[0], title=r[1], text=r[2]) for r in rows]

    def titles(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT title FROM paragraphs", ())]

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        with self._lock:
            self._db.close()


class IndexPageStore:
    """A :class:`PageStore` over a bare retrieval index: one page per passage, found by id."""

    def __init__(self, store: PassageStore) -> None:
        self._store = store

    def get(self, paragraph_id: str) -> Passage | None:
        found: Passage | None = self._store.get(paragraph_id)
        return found

    def page(self, title: str) -> list[Passage]:
        return []

    def titles(self) -> list[str]:
        return []

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        return None


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """A regex sentence splitter, good enough for encyclopedic English."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def paginate(paragraphs: list[Passage], page_chars: int) -> list[list[tuple[str, str]]]:
    """Pack paragraphs into pages of at most about ``page_chars`` characters.

    Each page is a list of ``(paragraph_id, text)``; a paragraph longer than a page is cut
    at sentence boundaries (or word boundaries for a very long sentence).
    """
    pieces = [(p.id, chunk) for p in paragraphs for chunk in _chunks(p.text, page_chars)]
    pages: list[list[tuple[str, str]]] = []
    size = 0
    for pid, chunk in pieces:
        if not pages or size + len(chunk) > page_chars:
            pages.append([])
            size = 0
        pages[-1].append((pid, chunk))
        size += len(chunk) + 2
    return pages or [[]]


def _chunks(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    out: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        for part in _hard_wrap(sentence, limit):
            if current and len(current) + 1 + len(part) > limit:
                out.append(current)
                current = ""
            current = f"{current} {part}" if current else part
    if current:
        out.append(current)
    return out


def _hard_wrap(sentence: str, limit: int) -> list[str]:
    parts: list[str] = []
    while len(sentence) > limit:
        cut = sentence.rfind(" ", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(sentence[:cut])
        sentence = sentence[cut:].lstrip()
    return [*parts, sentence] if sentence else parts


__all__ = [
    "PAGES_FILE",
    "IndexPageStore",
    "PageStore",
    "PageStoreWriter",
    "SqlitePageStore",
    "normalize_title",
    "paginate",
    "split_sentences",
]
