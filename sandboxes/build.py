"""Build a sandbox directory from a JSONL corpus or a Wikipedia XML dump, atomically.

Everything is written into a hidden ``.NAME.building-*`` directory beside the target and
renamed into place only once the index, the page store and the manifest are complete, so
a killed build never leaves something that :meth:`Sandbox.load` accepts.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from sleuth.atomic import building_directory, write_text_atomic
from sleuth.errors import CorpusFormatError, UserError
from sleuth.retrieval.corpus import OnError, iter_corpus
from sleuth.retrieval.manifest import IndexKind, sha256_file
from sleuth.sandboxes.pages import PAGES_FILE, PageStoreWriter
from sleuth.sandboxes.sandbox import INDEX_DIR, MANIFEST_FILE, SandboxManifest
from sleuth.sandboxes.wikidump import is_wikidump, iter_wikidump
from sleuth.types import Passage

DUMP_CORPUS_FILE = "paragraphs.jsonl"


def build_sandbox(
    source: str | Path,
    out_dir: str | Path,
    *,
    kind: IndexKind = "bm25",
    on_error: OnError = "fail",
    overwrite: bool = False,
    progress: bool = True,
) -> SandboxManifest:
    """Build a sandbox from ``source`` (JSONL/JSONL.gz corpus, or ``.xml[.bz2]`` dump)."""
    source, out = Path(source), Path(out_dir)
    if not source.is_file():
        raise CorpusFormatError(f"Sandbox source not found: {source}", path=str(source))
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists", hint="pass --overwrite to replace it", path=str(out))
    with building_directory(out) as tmp:
        manifest = _build_into(tmp, source, kind, on_error, progress)
        write_text_atomic(tmp / MANIFEST_FILE, manifest.model_dump_json(indent=2))
    return manifest


def _build_into(
    tmp: Path, source: Path, kind: IndexKind, on_error: OnError, progress: bool
) -> SandboxManifest:
    from sleuth.retrieval.index import build_index

    dump = is_wikidump(source)
    corpus = tmp / DUMP_CORPUS_FILE if dump else source
    if dump:
        _write_corpus(corpus, iter_wikidump(source, progress=progress))
    n_pages, n_paragraphs = _write_pages(tmp / PAGES_FILE, corpus, on_error, progress)
    build_index(corpus, tmp / INDEX_DIR, kind, on_error=on_error, progress=progress)
    import sleuth

    return SandboxManifest(
        sleuth_version=sleuth.__version__,
        source=str(source.resolve()),
        source_kind="wikidump" if dump else "jsonl",
        source_sha256=sha256_file(source),
        n_pages=n_pages,
        n_paragraphs=n_paragraphs,
        index_kind=kind,
        created=time.time(),
    )


def _write_corpus(path: Path, passages: Iterable[Passage]) -> None:
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for p in passages:
            handle.write(json.dumps({"id": p.id, "title": p.title, "text": p.text},
                                    ensure_ascii=False) + "\n")
            count += 1
    if not count:
        raise CorpusFormatError("The dump holds no article text.", path=str(path))


def _write_pages(path: Path, corpus: Path, on_error: OnError, progress: bool) -> tuple[int, int]:
    writer = PageStoreWriter(path)
    passages = tqdm(iter_corpus(corpus, on_error), desc="page store", unit=" paragraphs",
                    file=sys.stderr, disable=not progress, mininterval=0.5)
    for passage in passages:
        writer.add(passage)
    writer.close()
    return writer.n_pages, writer.n_paragraphs


__all__ = ["build_sandbox"]
