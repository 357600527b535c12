"""A SQLite passage store: the alternative ``sleuth bench retrieval`` measures against.

Rows are the SQLite ``rowid`` minus one; ids have a unique index. Index directories use the
offset store (store.py), which measured faster to build and to read here; this one stays
for comparison and for users who want to query passages with SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from sleuth.types import Passage


def write_sqlite_store(path: Path, passages: Iterable[Passage], batch: int = 10_000) -> int:
    """Write passages in order; returns how many."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("CREATE TABLE passages (id TEXT NOT NULL, title TEXT, text TEXT)")
        count, rows = 0, []
        for p in passages:
            rows.append((p.id, p.title, p.text))
            if len(rows) >= batch:
                conn.executemany("INSERT INTO passages VALUES (?, ?, ?)", rows)
                count, rows = count + len(rows), []
        conn.executemany("INSERT INTO passages VALUES (?, ?, ?)", rows)
        count += len(rows)
        conn.execute("CREATE UNIQUE INDEX passages_id ON passages(id)")
        conn.commit()
    finally:
        conn.close()
    return count


class SQLitePassageStore:
    """Read-only RowStore over a SQLite file; one connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        (self._count,) = self._conn().execute("SELECT COUNT(*) FROM passages").fetchone()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def __len__(self) -> int:
        return int(self._count)

    def by_row(self, row: int) -> Passage:
        found = self._conn().execute(
            "SELECT id, title, text FROM passages WHERE rowid = ?", (row + 1,)
        ).fetchone()
        if found is None:
            raise IndexError(f"row {row} out of range for a store of {len(self)} passages")
        return Passage(id=found[0], title=found[1] or "", text=found[2])

    def row_of(self, passage_id: str) -> int | None:
        found = self._conn().execute(
            "SELECT rowid FROM passages WHERE id = ?", (passage_id,)
        ).fetchone()
        return None if found is None else int(found[0]) - 1

    def get(self, passage_id: str) -> Passage | None:
        found = self._conn().execute(
            "SELECT id, title, text FROM passages WHERE id = ?", (passage_id,)
        ).fetchone()
        return None if found is None else Passage(id=found[0], title=found[1] or "", text=found[2])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


__all__ = ["SQLitePassageStore", "write_sqlite_store"]
