"""A passage store that keeps the corpus on disk, not in Python objects.

Layout inside an index directory::

    passages.jsonl        one {"id", "title", "text"} object per line, in row order
    passages.offsets.npy  int64[n + 1] byte offsets of each line (memory-mapped)
    passages.ids.npy      the ids as fixed-width UTF-8 bytes, sorted (memory-mapped)
    passages.order.npy    int64[n]: row of each sorted id

A row lookup is one slice of a memory-mapped file plus ``json.loads``; an id lookup adds a
binary search over the sorted id array. At 21M passages the Python heap holds none of it.
"""

from __future__ import annotations

import json
import mmap
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np

from sleuth.types import Passage

PASSAGES_FILE = "passages.jsonl"
OFFSETS_FILE = "passages.offsets.npy"
IDS_FILE = "passages.ids.npy"
ORDER_FILE = "passages.order.npy"
STORE_FILES = (PASSAGES_FILE, OFFSETS_FILE, IDS_FILE, ORDER_FILE)


class PassageStoreWriter:
    """Appends passages in row order, then writes the offset and id arrays on :meth:`close`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._handle: IO[bytes] = open(directory / PASSAGES_FILE, "wb")  # noqa: SIM115
        self._offsets = array("q", [0])
        self._ids: list[bytes] = []

    def add(self, passage: Passage) -> int:
        """Append one passage; returns its row."""
        line = json.dumps(
            {"id": passage.id, "title": passage.title, "text": passage.text}, ensure_ascii=False
        ).encode("utf-8") + b"\n"
        self._handle.write(line)
        self._offsets.append(self._offsets[-1] + len(line))
        self._ids.append(passage.id.encode("utf-8"))
        return len(self._ids) - 1

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def close(self) -> None:
        self._handle.close()
        np.save(self.directory / OFFSETS_FILE, np.frombuffer(self._offsets, dtype=np.int64))
        ids = np.asarray(self._ids, dtype=bytes) if self._ids else np.zeros(0, dtype="S1")
        order = np.argsort(ids, kind="stable").astype(np.int64)
        np.save(self.directory / IDS_FILE, ids[order])
        np.save(self.directory / ORDER_FILE, order)
        self._ids = []


class OffsetPassageStore:
    """Read-only :class:`~sleuth.retrieval.base.PassageStore` over the files above."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._file = open(self.directory / PASSAGES_FILE, "rb")  # noqa: SIM115
        size = (self.directory / PASSAGES_FILE).stat().st_size
        self._mm: mmap.mmap | None = (
            mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        )
        self._offsets = np.load(self.directory / OFFSETS_FILE, mmap_mode="r")
        self._ids = np.load(self.directory / IDS_FILE, mmap_mode="r")
        self._order = np.load(self.directory / ORDER_FILE, mmap_mode="r")

    def __len__(self) -> int:
        return int(self._offsets.shape[0]) - 1

    def by_row(self, row: int) -> Passage:
        """The passage at ``row`` (0-based, the order the corpus was read in)."""
        if not 0 <= row < len(self) or self._mm is None:
            raise IndexError(f"row {row} out of range for a store of {len(self)} passages")
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        return Passage.model_validate_json(self._mm[start:end])

    def rows(self, rows: Iterable[int]) -> list[Passage]:
        return [self.by_row(int(r)) for r in rows]

    def row_of(self, passage_id: str) -> int | None:
        """The row of ``passage_id``, or None."""
        key = passage_id.encode("utf-8")
        if not len(self) or len(key) > self._ids.dtype.itemsize or key.endswith(b"\x00"):
            return None
        pos = int(np.searchsorted(self._ids, key))
        if pos < len(self) and bytes(self._ids[pos]) == key:
            return int(self._order[pos])
        return None

    def get(self, passage_id: str) -> Passage | None:
        row = self.row_of(passage_id)
        return None if row is None else self.by_row(row)

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        self._file.close()


__all__ = ["STORE_FILES", "OffsetPassageStore", "PassageStoreWriter"]
