"""An in-memory passage store for small corpora, tests and indices built on the fly."""

from __future__ import annotations

from collections.abc import Iterable

from sleuth.types import Passage


class MemoryPassageStore:
    """Holds passages in a list; fine up to a few hundred thousand passages."""

    def __init__(self, passages: Iterable[Passage]) -> None:
        self._passages = list(passages)
        self._rows = {p.id: i for i, p in enumerate(self._passages)}

    def __len__(self) -> int:
        return len(self._passages)

    def by_row(self, row: int) -> Passage:
        return self._passages[row]

    def row_of(self, passage_id: str) -> int | None:
        return self._rows.get(passage_id)

    def get(self, passage_id: str) -> Passage | None:
        row = self._rows.get(passage_id)
        return None if row is None else self._passages[row]

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["MemoryPassageStore"]
