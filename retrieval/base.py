"""The retriever protocol: async, batched search over passages.

Every backend (BM25, dense FAISS, hybrid, remote HTTP) implements :class:`Retriever` and
passes the conformance suite in ``tests/retrieval/``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, runtime_checkable

from sleuth.types import Passage, SearchHit


@runtime_checkable
class Retriever(Protocol):
    """Batched top-k search. ``search(["q1", "q2"], k)`` returns one ranked list per query."""

    name: str

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        """Top-``k`` hits for each query, best first."""
        ...

    async def aclose(self) -> None:
        """Release files, sockets and threads."""
        ...


@runtime_checkable
class PassageStore(Protocol):
    """Looks passages up by id without holding the corpus in Python objects."""

    def get(self, passage_id: str) -> Passage | None:
        """The passage, or ``None`` when the id is unknown."""
        ...

    def __len__(self) -> int: ...


@runtime_checkable
class RowStore(PassageStore, Protocol):
    """A passage store that also addresses passages by row, the order an index was built in.

    Index backends keep rows (small integers) and turn them into passages through this.
    """

    def by_row(self, row: int) -> Passage:
        """The passage at ``row``; raises IndexError when out of range."""
        ...

    def row_of(self, passage_id: str) -> int | None:
        """The row of ``passage_id``, or ``None``."""
        ...

    def close(self) -> None:
        """Release file handles and memory maps."""
        ...


@runtime_checkable
class StoredRetriever(Retriever, Protocol):
    """A retriever opened from an index directory: it exposes its passage store."""

    @property
    def store(self) -> RowStore:
        """The id -> passage lookup of the index (read-only, so backends may narrow it)."""
        ...


class RowScoringRetriever:
    """``search`` and ``search_sync`` for retrievers that score rows of a :class:`RowStore`.

    A subclass sets ``store`` and implements ``search_rows(queries, k)``, returning one
    ``(rows, scores)`` pair of arrays per query, best first. Searching runs in a worker
    thread, so it never blocks the event loop.
    """

    store: RowStore

    def search_rows(self, queries: list[str], k: int) -> list[tuple[Any, Any]]:
        raise NotImplementedError

    def search_sync(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        """Blocking form of :meth:`search`."""
        return [
            [SearchHit(passage=self.store.by_row(int(r)), score=float(s), rank=i)
             for i, (r, s) in enumerate(zip(rows, scores, strict=True))]
            for rows, scores in self.search_rows(queries, k)
        ]

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        """Top-``k`` hits per query."""
        if not queries:
            return []
        return await asyncio.to_thread(self.search_sync, queries, k)


__all__ = ["PassageStore", "Retriever", "RowScoringRetriever", "RowStore", "StoredRetriever"]
