"""Streaming corpus ingestion: JSONL / JSONL.gz, FlashRAG ``contents`` and DPR's TSV.

Accepted line shapes (one passage per line):

* JSONL with ``id``, ``text`` and optionally ``title`` (extra fields are ignored);
* FlashRAG JSONL with ``id`` and ``contents`` = ``"Title"\\ntext``;
* DPR ``psgs_w100.tsv``: a header ``id<TAB>text<TAB>title``, then one passage per row.

Gzip is detected from the file's magic bytes, not its name. A bad line (not JSON, missing
fields, invalid UTF-8, empty text, duplicate id) raises :class:`CorpusFormatError` naming
``file:line``, or with ``on_error="skip"`` is counted in :attr:`CorpusReader.skipped` and
logged once per line at debug level.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from sleuth.errors import CorpusFormatError
from sleuth.types import Passage

logger = logging.getLogger(__name__)

OnError = Literal["fail", "skip"]
_GZIP_MAGIC = b"\x1f\x8b"


class _BadLine(Exception):
    """A line-level problem; turned into CorpusFormatError with file:line by the reader."""


def open_binary(path: Path) -> IO[bytes]:
    """Open a plain or gzip-compressed file for binary reading, sniffing the magic bytes."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def is_tsv(path: Path) -> bool:
    """DPR's ``psgs_w100.tsv`` (optionally ``.tsv.gz``)."""
    suffixes = [s.lower() for s in path.suffixes]
    return ".tsv" in suffixes[-2:]


def split_contents(contents: str) -> tuple[str, str]:
    """FlashRAG ``"Title"\\ntext`` -> (title, text); the title loses its surrounding quotes."""
    head, sep, tail = contents.partition("\n")
    if not sep:
        return "", contents
    title = head.strip()
    if len(title) >= 2 and title[0] == '"' and title[-1] == '"':
        title = title[1:-1]
    return title, tail


def _field_str(record: dict[str, Any], key: str) -> str:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _BadLine(f"field '{key}' must be a string, got {type(value).__name__}")
    return str(value)


def parse_json_record(line: str) -> Passage:
    """One JSONL line in Sleuth's or FlashRAG's shape -> Passage."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise _BadLine(f"expected a JSON object, got {type(record).__name__}")
    if "id" not in record:
        raise _BadLine("missing field 'id'")
    pid = _field_str(record, "id")
    if "text" in record:
        text = _field_str(record, "text")
        title = _field_str(record, "title") if record.get("title") is not None else ""
    elif "contents" in record:
        title, text = split_contents(_field_str(record, "contents"))
    else:
        raise _BadLine("missing field 'text' (or FlashRAG 'contents')")
    return Passage(id=pid, title=title, text=text)


def parse_tsv_row(line: str) -> Passage:
    """One DPR row ``id<TAB>text<TAB>title`` (csv-quoted text) -> Passage."""
    row = next(csv.reader([line], delimiter="\t"))
    if len(row) != 3:
        raise _BadLine(f"expected 3 tab-separated fields (id, text, title), got {len(row)}")
    pid, text, title = row
    return Passage(id=pid, title=title, text=text)


class CorpusReader:
    """Iterates a corpus file once, yielding validated passages in file order.

    ``skipped`` counts bad lines dropped under ``on_error="skip"``; ``first_errors`` keeps
    the first few messages so a CLI can show them.
    """

    def __init__(self, path: str | Path, on_error: OnError = "fail") -> None:
        self.path = Path(path)
        if on_error not in ("fail", "skip"):
            raise CorpusFormatError(f"on_error must be 'fail' or 'skip', not {on_error!r}")
        self.on_error: OnError = on_error
        self.skipped = 0
        self.yielded = 0
        self.bytes_read = 0
        self.first_errors: list[str] = []
        if not self.path.is_file():
            raise CorpusFormatError(
                f"Corpus file not found: {self.path}",
                hint="pass a .jsonl, .jsonl.gz or DPR .tsv file",
                path=str(self.path),
            )

    def __iter__(self) -> Iterator[Passage]:
        tsv = is_tsv(self.path)
        seen: set[str] = set()
        with open_binary(self.path) as handle:
            for lineno, raw in enumerate(handle, start=1):
                self.bytes_read += len(raw)
                if not raw.strip():
                    continue
                if tsv and lineno == 1 and raw.startswith(b"id\t"):
                    continue
                try:
                    passage = self._parse(raw, tsv)
                    if passage.id in seen:
                        raise _BadLine(f"duplicate id {passage.id!r}")
                except _BadLine as exc:
                    self._bad_line(lineno, str(exc))
                    continue
                seen.add(passage.id)
                self.yielded += 1
                yield passage

    def _parse(self, raw: bytes, tsv: bool) -> Passage:
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise _BadLine(f"invalid UTF-8 at byte {exc.start}") from exc
        passage = parse_tsv_row(line) if tsv else parse_json_record(line)
        if not passage.id.strip():
            raise _BadLine("empty id")
        if not passage.text.strip():
            raise _BadLine(f"empty text for id {passage.id!r}")
        return passage

    def _bad_line(self, lineno: int, why: str) -> None:
        where = f"{self.path}:{lineno}"
        if self.on_error == "fail":
            raise CorpusFormatError(
                f"{where}: {why}",
                hint="fix the line, or pass --on-error skip (on_error='skip') to drop bad lines",
                path=str(self.path),
                line=lineno,
            )
        self.skipped += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(f"{where}: {why}")
        logger.debug("skipping %s: %s", where, why)


def iter_corpus(path: str | Path, on_error: OnError = "fail") -> Iterator[Passage]:
    """Stream passages from a corpus file without loading it into memory."""
    return iter(CorpusReader(path, on_error))


def load_corpus(path: str | Path, on_error: OnError = "fail") -> list[Passage]:
    """Read a whole corpus into a list (for small corpora and tests; stream big ones)."""
    return list(CorpusReader(path, on_error))


__all__ = ["CorpusReader", "OnError", "iter_corpus", "load_corpus", "split_contents"]
