"""Build and load index directories.

An index directory holds the passage store, one or more backend parts and a manifest::

    DIR/manifest.json         written last: corpus sha256, counts, backend params, files
    DIR/passages.*            the offset-indexed passage store (see store.py)
    DIR/bm25/*.npy, vocab.json

:func:`build_index` builds into a hidden temporary directory beside ``DIR`` and renames it
into place only when everything, manifest included, is on disk; a killed build leaves at
most a ``.DIR.building-*`` directory without a manifest, which :func:`load_index` refuses.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from sleuth.retrieval.base import StoredRetriever
from sleuth.retrieval.bm25 import BM25Arrays, BM25Builder, BM25Params, BM25Retriever, passage_text
from sleuth.retrieval.corpus import CorpusReader, OnError
from sleuth.retrieval.manifest import (
    BUILD_HINT,
    CorpusInfo,
    IndexKind,
    IndexManifest,
    check_files,
    describe_files,
    read_manifest,
    sha256_file,
    write_manifest,
)
from sleuth.retrieval.store import OffsetPassageStore, PassageStoreWriter
from tqdm import tqdm

from sleuth.errors import ConfigError, CorpusFormatError, IndexCorruptError, UserError

logger = logging.getLogger(__name__)


def _sleuth_version() -> str:
    import sleuth

    return sleuth.__version__


def build_index(
    corpus_path: str | Path,
    out_dir: str | Path,
    kind: IndexKind = "bm25",
    *,
    on_error: OnError = "fail",
    bm25: BM25Params | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Build an index of ``corpus_path`` into ``out_dir`` atomically; returns ``out_dir``."""
    corpus_path, out = Path(corpus_path), Path(out_dir)
    if kind not in ("bm25",):
        raise ConfigError(f"Index kind {kind!r} is not available yet", hint="use --kind bm25")
    if out.exists() and not overwrite:
        raise UserError(
            f"{out} already exists", hint="pass --overwrite to replace it", path=str(out)
        )
    reader = CorpusReader(corpus_path, on_error)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; an index is meant to be shared
        manifest = _build_into(tmp, reader, kind, bm25 or BM25Params(), progress)
        write_manifest(tmp, manifest)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if reader.skipped:
        logger.warning("skipped %d bad corpus lines, first: %s", reader.skipped, reader.first_errors[0])
    return out


def _build_into(
    tmp: Path, reader: CorpusReader, kind: IndexKind, bm25: BM25Params, progress: bool
) -> IndexManifest:
    writer = PassageStoreWriter(tmp)
    builder = BM25Builder(bm25)
    bar = tqdm(reader, desc=f"indexing {reader.path.name}", unit=" passages", file=sys.stderr,
               disable=not progress, mininterval=0.5)
    for passage in bar:
        writer.add(passage)
        builder.add(passage_text(passage))
    writer.close()
    if not len(builder):
        raise CorpusFormatError(
            f"{reader.path} has no usable passages ({reader.skipped} bad lines skipped)",
            path=str(reader.path),
        )
    builder.finish().save(tmp)
    corpus = CorpusInfo(
        path=str(reader.path.resolve()),
        sha256=sha256_file(reader.path),
        size_bytes=reader.path.stat().st_size,
        passages=len(builder),
        skipped_lines=reader.skipped,
    )
    return IndexManifest(
        kind=kind,
        sleuth_version=_sleuth_version(),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        corpus=corpus,
        bm25=bm25,
        files=describe_files(tmp),
    )


def _move_into_place(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, old / "index")
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def load_index(directory: str | Path, *, verify: bool = False) -> StoredRetriever:
    """Open an index directory as a retriever with a ``.store`` and a ``.manifest``.

    ``verify=True`` also re-hashes every file against the manifest (slow on big indices).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    check_files(directory, manifest, verify=verify)
    store = OffsetPassageStore(directory)
    if len(store) != manifest.corpus.passages:
        store.close()
        raise IndexCorruptError(
            f"{directory} holds {len(store)} passages, its manifest says {manifest.corpus.passages}",
            hint=BUILD_HINT,
            path=str(directory),
        )
    retriever = BM25Retriever(BM25Arrays.load(directory), store, manifest.bm25)
    retriever.manifest = manifest
    return retriever


__all__ = ["build_index", "load_index"]
