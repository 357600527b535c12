"""Stream a MediaWiki XML dump (``.xml.bz2`` or ``.xml``) into plain-text paragraphs.

The dump is read with ``xml.etree.ElementTree.iterparse`` and each ``<page>`` element is
cleared once used, so memory stays flat however large the dump is. Wikitext is turned into
text with mwparserfromhell (``pip install 'sleuth[wiki]'``): templates, references,
tables, files and categories are dropped, and reference-like sections (References,
External links, ...) are skipped. Only articles (namespace 0) that are not redirects are kept.
"""

from __future__ import annotations

import bz2
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sleuth._optional import require
from sleuth.errors import CorpusFormatError
from sleuth.types import Passage

SKIP_SECTIONS = frozenset(
    {
        "references", "external links", "see also", "notes", "further reading",
        "bibliography", "sources", "citations", "footnotes", "notes and references",
    }
)
_DROP_TAGS = frozenset({"ref", "table", "gallery", "math", "score", "timeline", "imagemap"})
_MEDIA_PREFIXES = ("file:", "image:", "category:", "media:")
_SPACES = re.compile(r"[ \t\u00a0]+")


def is_wikidump(path: Path) -> bool:
    """True for ``*.xml`` and ``*.xml.bz2`` files."""
    name = path.name.lower()
    return name.endswith((".xml.bz2", ".xml"))


class _ProgressReader:
    """A file wrapper that advances a byte progress bar as the compressed file is read."""

    def __init__(self, handle: Any, bar: tqdm[Any]) -> None:
        self._handle = handle
        self._bar = bar

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._handle.read(size)
        self._bar.update(len(data))
        return data

    def readinto(self, buffer: Any) -> int:
        n = self._handle.readinto(buffer)
        self._bar.update(n or 0)
        return n or 0

    def readable(self) -> bool:
        return True


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def iter_dump_pages(path: Path, *, progress: bool = True) -> Iterator[tuple[str, str, str]]:
    """Yield ``(page_id, title, wikitext)`` for each article that is not a redirect."""
    size = path.stat().st_size
    with open(path, "rb") as raw, tqdm(
        total=size, unit="B", unit_scale=True, desc=f"parsing {path.name}", file=sys.stderr,
        disable=not progress, mininterval=0.5,
    ) as bar:
        reader: Any = _ProgressReader(raw, bar)
        stream: Any = bz2.BZ2File(reader) if path.name.lower().endswith(".bz2") else reader
        try:
            yield from _pages(stream)
        except (ET.ParseError, OSError, EOFError) as exc:
            raise CorpusFormatError(
                f"{path}: not a readable MediaWiki XML dump ({exc})",
                hint="pass a pages-articles .xml.bz2 file from dumps.wikimedia.org",
                path=str(path),
            ) from exc


def _pages(stream: Any) -> Iterator[tuple[str, str, str]]:
    events = ET.iterparse(stream, events=("start", "end"))
    root = None
    for event, elem in events:
        if root is None and event == "start":
            root = elem
        if event != "end" or _local(elem.tag) != "page":
            continue
        page = _read_page(elem)
        if page is not None:
            yield page
        if root is not None:
            root.clear()  # drop parsed pages so memory stays flat


def _read_page(elem: ET.Element) -> tuple[str, str, str] | None:
    fields: dict[str, str] = {}
    redirect = False
    for child in elem.iter():
        name = _local(child.tag)
        if name == "redirect":
            redirect = True
        elif name in ("title", "ns", "text") or (name == "id" and "id" not in fields):
            fields.setdefault(name, child.text or "")
    if redirect or fields.get("ns", "0") != "0" or not fields.get("title"):
        return None
    return fields.get("id", fields["title"]), fields["title"], fields.get("text", "")


def wikitext_paragraphs(wikitext: str, *, min_chars: int = 20) -> list[str]:
    """Plain-text paragraphs of an article, lead first, reference sections skipped."""
    mwp = require("mwparserfromhell", "wiki", purpose="parsing Wikipedia dumps")
    paragraphs: list[str] = []
    for section in mwp.parse(wikitext).get_sections(levels=[2], include_lead=True):
        headings = section.filter_headings(recursive=False)
        if headings and str(headings[0].title).strip().casefold() in SKIP_SECTIONS:
            continue
        text = _clean(mwp.parse(str(section)))
        for block in re.split(r"\n\s*\n", text):
            para = _SPACES.sub(" ", " ".join(line.strip() for line in block.splitlines())).strip()
            if len(para) >= min_chars:
                paragraphs.append(para)
    return paragraphs


def _clean(code: Any) -> str:
    for node in code.filter(recursive=True):
        kind = type(node).__name__
        drop = (
            kind in ("Heading", "Template", "Comment")
            or (kind == "Tag" and str(node.tag).strip().lower() in _DROP_TAGS)
            or (kind == "Wikilink" and str(node.title).strip().lower().startswith(_MEDIA_PREFIXES))
        )
        if drop:
            try:
                code.remove(node)
            except ValueError:
                pass  # already gone with its parent
    return str(code.strip_code(normalize=True, collapse=True))


def iter_wikidump(
    path: str | Path, *, min_chars: int = 20, progress: bool = True
) -> Iterator[Passage]:
    """Paragraphs of every article, with ids ``wp{page_id}-{n}`` and the page title."""
    for page_id, title, wikitext in iter_dump_pages(Path(path), progress=progress):
        for n, text in enumerate(wikitext_paragraphs(wikitext, min_chars=min_chars)):
            yield Passage(id=f"wp{page_id}-{n}", title=title, text=text)


__all__ = ["is_wikidump", "iter_dump_pages", "iter_wikidump", "wikitext_paragraphs"]
