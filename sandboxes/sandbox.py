"""An offline Wikipedia sandbox: search, open and find over a fixed corpus, fully logged.

A :class:`Sandbox` is a directory built by :func:`~sleuth.sandboxes.build.build_sandbox`::

    sandbox.json   manifest: source, checksum, counts, index kind, Sleuth version
    index/         the search index, made with the retrieval layer
    pages.sqlite   paragraphs grouped into pages by title (for open and find)

Agents never use a :class:`Sandbox` directly; they get a :class:`SandboxView`, which has
its own :class:`~sleuth.sandboxes.actionlog.ActionLog` and may hide chosen paragraphs or
pages (evidence masking). Hidden text is absent everywhere: search over-fetches and
filters, and ``open``/``find`` answer "not found", the same as for a page that never existed.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import ValidationError

from sleuth.errors import IndexNotFoundError, SandboxError
from sleuth.retrieval.base import Retriever
from sleuth.sandboxes.actionlog import ActionLog, Tool
from sleuth.sandboxes.links import TitleLinker, follow_links
from sleuth.sandboxes.pages import (
    PAGES_FILE,
    IndexPageStore,
    PageStore,
    SqlitePageStore,
    normalize_title,
    paginate,
    split_sentences,
)
from sleuth.sandboxes.tools import (
    FindResult,
    PageResult,
    SearchResult,
    SearchResultHit,
    SentenceMatch,
    ToolError,
    ToolResult,
)
from sleuth.types import Passage, SearchHit, StrictModel

MANIFEST_FILE = "sandbox.json"
INDEX_DIR = "index"
SNIPPET_CHARS = 200


class SandboxManifest(StrictModel):
    format: int = 1
    sleuth_version: str
    source: str
    source_kind: Literal["jsonl", "wikidump", "index"]
    source_sha256: str = ""
    n_pages: int
    n_paragraphs: int
    index_kind: str
    created: float = 0.0


class Sandbox:
    """A loaded sandbox: a retriever over paragraphs plus a page store."""

    def __init__(
        self, retriever: Retriever, pages: PageStore, manifest: SandboxManifest, path: Path
    ) -> None:
        self.retriever = retriever
        self.pages = pages
        self.manifest = manifest
        self.path = path
        self._linker: TitleLinker | None = None
        self._linker_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def linker(self) -> TitleLinker:
        """The page titles, for following links; read from the page store on first use."""
        with self._linker_lock:
            if self._linker is None:
                self._linker = TitleLinker(self.pages.titles())
            return self._linker

    @classmethod
    def load(cls, path: str | Path) -> Sandbox:
        """Open a sandbox directory, or a bare retrieval index directory (open/find by id only)."""
        from sleuth.retrieval.index import load_index

        root = Path(path)
        if (root / MANIFEST_FILE).is_file():
            manifest = _read_manifest(root)
            retriever = load_index(root / INDEX_DIR)
            return cls(retriever, SqlitePageStore(root / PAGES_FILE), manifest, root)
        if not root.is_dir():
            raise IndexNotFoundError(
                f"No sandbox at {root}.",
                hint="build one with: sleuth sandbox build CORPUS --out DIR",
                path=str(root),
            )
        retriever = load_index(root)
        store = getattr(retriever, "store", None)
        if store is None:
            raise SandboxError(f"The index at {root} has no passage store.", path=str(root))
        manifest = SandboxManifest(
            sleuth_version="", source=str(root), source_kind="index", n_pages=len(store),
            n_paragraphs=len(store), index_kind=getattr(retriever, "name", "unknown"),
        )
        return cls(retriever, IndexPageStore(store), manifest, root)

    def view(
        self,
        *,
        hide_ids: Iterable[str] = (),
        hide_titles: Iterable[str] = (),
        log: ActionLog | None = None,
    ) -> SandboxView:
        """A fresh view with its own action log, hiding the given paragraphs and pages."""
        return SandboxView(self, hide_ids=hide_ids, hide_titles=hide_titles, log=log)

    async def aclose(self) -> None:
        await self.retriever.aclose()
        self.pages.close()


def _read_manifest(root: Path) -> SandboxManifest:
    try:
        return SandboxManifest.model_validate(json.loads((root / MANIFEST_FILE).read_text("utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise IndexNotFoundError(
            f"Sandbox manifest {root / MANIFEST_FILE} is unreadable: {exc}",
            hint="rebuild the sandbox with: sleuth sandbox build",
            path=str(root),
        ) from exc


def _not_found(title_or_id: str) -> SandboxError:
    return SandboxError(
        f"No page or paragraph {title_or_id!r} in the sandbox.",
        hint="use a title or id returned by search",
        kind="not_found",
        target=title_or_id,
    )


def _bad_argument(message: str, **details: Any) -> SandboxError:
    return SandboxError(message, kind="bad_argument", **details)


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit] + " …"


class SandboxView:
    """The tools one agent (or one HTTP session) uses, with its log and its mask."""

    page_chars = 3000
    max_k = 50
    max_matches = 20

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        hide_ids: Iterable[str] = (),
        hide_titles: Iterable[str] = (),
        log: ActionLog | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.log = log if log is not None else ActionLog()
        self.hidden_titles = {normalize_title(t).casefold() for t in hide_titles}
        self.hidden_ids = set(hide_ids)
        for title in self.hidden_titles:
            self.hidden_ids.update(p.id for p in sandbox.pages.page(title))

    def is_hidden(self, passage: Passage) -> bool:
        return passage.id in self.hidden_ids or (
            normalize_title(passage.title).casefold() in self.hidden_titles
        )

    # -- search ---------------------------------------------------------------------------

    async def hits(self, query: str, k: int = 5) -> list[SearchHit]:
        """Top-``k`` visible hits, without logging (callers log)."""
        if not query.strip():
            raise _bad_argument("The search query is empty.")
        if not 1 <= k <= self.max_k:
            raise _bad_argument(f"k must be between 1 and {self.max_k}, got {k}.", k=k)
        fetch = k + len(self.hidden_ids)
        total = len(self.sandbox.pages)
        while True:
            raw = (await self.sandbox.retriever.search([query], fetch))[0]
            kept = [h for h in raw if not self.is_hidden(h.passage)]
            if len(kept) >= k or len(raw) < fetch or fetch >= total:
                break
            fetch *= 2  # hidden titles that the page store could not resolve to ids
        return [SearchHit(passage=h.passage, score=h.score, rank=i) for i, h in enumerate(kept[:k])]

    def first_paragraph(self, title: str) -> Passage | None:
        """The first visible paragraph of the page titled ``title`` (for following links)."""
        return next((p for p in self.sandbox.pages.page(title) if not self.is_hidden(p)), None)

    async def logged_hits(
        self, query: str, k: int = 5, *, via: Literal["tool", "retriever"] = "tool", links: int = 0,
    ) -> list[SearchHit]:
        """Top-``k`` hits, then up to ``links`` pages that the query or those hits name
        (see :func:`~sleuth.sandboxes.links.follow_links`)."""
        args: dict[str, Any] = {"query": query, "k": k}
        if links:
            args["follow_links"] = links
        with self.log.record("search", args, via=via) as rec:
            found = await self.hits(query, k)
            if links:
                # titles load on first use and pages come from SQLite: off the event loop
                found = await asyncio.to_thread(follow_links, found, query, self.sandbox.linker,
                                                self.first_paragraph, links)
            rec.ids = [h.passage.id for h in found]
            rec.titles = [h.passage.title for h in found]
        return found

    async def search(self, query: str, k: int = 5) -> SearchResult:
        """Titles, ids and snippets of the top ``k`` visible paragraphs."""
        found = await self.logged_hits(query, k)
        return SearchResult(
            query=query,
            hits=[
                SearchResultHit(
                    id=h.passage.id, title=h.passage.title, snippet=snippet(h.passage.text),
                    score=h.score, rank=h.rank,
                )
                for h in found
            ],
        )

    # -- open and find --------------------------------------------------------------------

    def _resolve(self, title_or_id: str) -> tuple[str, list[Passage], str | None]:
        """(page title, visible paragraphs, paragraph id asked for) or a not-found error."""
        target = title_or_id.strip()
        if not target:
            raise _bad_argument("The page title or id is empty.")
        paragraph = self.sandbox.pages.get(target)
        if paragraph is not None:
            if self.is_hidden(paragraph):
                raise _not_found(title_or_id)
            page = self.sandbox.pages.page(paragraph.title) or [paragraph]
            return paragraph.title, [p for p in page if not self.is_hidden(p)], paragraph.id
        page = [p for p in self.sandbox.pages.page(target) if not self.is_hidden(p)]
        if not page:
            raise _not_found(title_or_id)
        return page[0].title, page, None

    async def open(self, title_or_id: str, page: int | None = None) -> PageResult:
        """The page's text, ``page_chars`` at a time. Opening a paragraph id starts at its page."""
        with self.log.record("open", {"title_or_id": title_or_id, "page": page}) as rec:
            title, paragraphs, wanted = self._resolve(title_or_id)
            pages = paginate(paragraphs, self.page_chars)
            number = page if page is not None else _page_of(pages, wanted)
            if not 0 <= number < len(pages):
                raise _bad_argument(
                    f"Page {number} does not exist; {title!r} has {len(pages)} page(s), "
                    "numbered from 0.",
                    page=number, n_pages=len(pages),
                )
            shown = pages[number]
            rec.ids = list(dict.fromkeys(pid for pid, _ in shown))
            rec.titles = [title]
            return PageResult(
                title=title, page=number, n_pages=len(pages),
                text="\n\n".join(text for _, text in shown), ids=rec.ids,
            )

    async def find(self, title_or_id: str, pattern: str) -> FindResult:
        """Sentences of the page that contain ``pattern`` (case-insensitive, literal)."""
        with self.log.record("find", {"title_or_id": title_or_id, "pattern": pattern}) as rec:
            needle = pattern.strip().casefold()
            if not needle:
                raise _bad_argument("The find pattern is empty.")
            title, paragraphs, _ = self._resolve(title_or_id)
            matches = [
                SentenceMatch(id=p.id, sentence=s)
                for p in paragraphs
                for s in split_sentences(p.text)
                if needle in s.casefold()
            ]
            shown = matches[: self.max_matches]
            rec.ids = list(dict.fromkeys(m.id for m in shown))
            rec.titles = [title]
            return FindResult(
                title=title, pattern=pattern, matches=shown,
                truncated=len(matches) > len(shown),
            )

    # -- agent entry points ---------------------------------------------------------------

    async def call(self, tool: str, args: dict[str, Any]) -> ToolResult:
        """Run a tool by name. A :class:`SandboxError` becomes an error result, not an exception."""
        try:
            if tool == "search":
                return ToolResult(tool="search", search=await self.search(**args))
            if tool == "open":
                return ToolResult(tool="open", page=await self.open(**args))
            if tool == "find":
                return ToolResult(tool="find", find=await self.find(**args))
        except SandboxError as exc:
            return ToolResult(
                tool=cast(Tool, tool),  # only the three known tools reach here
                error=ToolError(code=str(exc.details.get("kind", exc.code)), message=exc.message,
                                hint=exc.hint),
            )
        except TypeError as exc:  # wrong argument names from a model's tool call
            return ToolResult(
                tool=cast(Tool, tool),
                error=ToolError(code="bad_argument", message=f"Bad arguments for {tool}: {exc}"),
            )
        raise _bad_argument(f"Unknown tool {tool!r}; the tools are search, open and find.")

    def retriever(self, follow_links: int = 0) -> SandboxRetriever:
        """This view as a :class:`~sleuth.retrieval.base.Retriever`, for graphs; each search
        adds up to ``follow_links`` linked pages to its hits."""
        return SandboxRetriever(self, follow_links)


def _page_of(pages: list[list[tuple[str, str]]], paragraph_id: str | None) -> int:
    if paragraph_id is not None:
        for number, page in enumerate(pages):
            if any(pid == paragraph_id for pid, _ in page):
                return number
    return 0


class SandboxRetriever:
    """The Retriever protocol over a :class:`SandboxView`: masked, and every query logged."""

    def __init__(self, view: SandboxView, follow_links: int = 0) -> None:
        if follow_links < 0:
            raise _bad_argument(f"follow_links must be 0 or more, got {follow_links}.")
        self.view = view
        self.follow_links = follow_links
        self.name = f"sandbox:{view.sandbox.name}" + (f"+links{follow_links}" if follow_links else "")

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        out: list[list[SearchHit]] = []
        for query in queries:
            try:
                hits = await self.view.logged_hits(query, min(k, self.view.max_k), via="retriever",
                                                   links=self.follow_links)
            except SandboxError as exc:
                if exc.details.get("kind") != "bad_argument":
                    raise
                hits = []  # an empty query finds nothing, as in any search engine; it is logged
            out.append(hits)
        return out

    async def aclose(self) -> None:
        """The sandbox owns the index; closing one agent's retriever leaves it open."""
        return


@contextmanager
def open_pages(path: str | Path) -> Iterator[PageStore]:
    """The passages of a sandbox by id and title, for reading recorded traces back. A sandbox
    directory opens its page store only, not its search index; a bare retrieval index keeps
    its passages in the index, so that is loaded."""
    root = Path(path)
    if (root / MANIFEST_FILE).is_file():
        store = SqlitePageStore(root / PAGES_FILE)
        try:
            yield store
        finally:
            store.close()
        return
    sandbox = Sandbox.load(root)
    try:
        yield sandbox.pages
    finally:
        asyncio.run(sandbox.aclose())


__all__ = [
    "INDEX_DIR",
    "MANIFEST_FILE",
    "Sandbox",
    "SandboxManifest",
    "SandboxRetriever",
    "SandboxView",
    "open_pages",
]
