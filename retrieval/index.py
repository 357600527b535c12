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
import shutil
import sys
from pathlib import Path
from typing import cast

import numpy as np
from pydantic import Field
from tqdm import tqdm

from sleuth.atomic import building_directory
from sleuth.errors import (
    ConfigError,
    CorpusFormatError,
    IndexCorruptError,
    IndexMismatchError,
    UserError,
)
from sleuth.retrieval.base import StoredRetriever
from sleuth.retrieval.bm25 import BM25Arrays, BM25Builder, BM25Params, BM25Retriever, passage_text
from sleuth.retrieval.corpus import CorpusReader, OnError
from sleuth.retrieval.dense import DenseRetriever
from sleuth.retrieval.embeddings import cache_name, default_embeddings_dir, encode_store
from sleuth.retrieval.encoder import EncoderSpec, SentenceEncoder
from sleuth.retrieval.faiss_index import (
    FaissSpec,
    build_faiss,
    factory_string,
    read_faiss,
    write_faiss,
)
from sleuth.retrieval.hybrid import FusionSpec, HybridRetriever, Reranker
from sleuth.retrieval.manifest import (
    BUILD_HINT,
    CorpusInfo,
    DenseManifest,
    IndexKind,
    IndexManifest,
    check_files,
    describe_files,
    read_manifest,
    sha256_file,
    write_manifest,
)
from sleuth.retrieval.store import OffsetPassageStore, PassageStoreWriter
from sleuth.types import StrictModel

logger = logging.getLogger(__name__)


def _sleuth_version() -> str:
    import sleuth

    return sleuth.__version__


class DenseBuild(StrictModel):
    """Settings for the dense part of a build."""

    encoder: EncoderSpec = Field(default_factory=EncoderSpec)
    """Which encoder, with its prefixes."""
    faiss: FaissSpec = Field(default_factory=FaissSpec)
    """Which FAISS index."""
    embeddings_dir: Path | None = None
    """Where encoded passages are cached (default: ~/.cache/sleuth/embeddings)."""
    batch_size: int = Field(default=64, ge=1)
    """Encoder batch size."""
    device: str | None = None
    """Torch device for encoding (default: CUDA when present, else CPU)."""


def build_index(
    corpus_path: str | Path,
    out_dir: str | Path,
    kind: IndexKind = "bm25",
    *,
    on_error: OnError = "fail",
    bm25: BM25Params | None = None,
    dense: DenseBuild | None = None,
    fusion: FusionSpec | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Build an index of ``corpus_path`` into ``out_dir`` atomically; returns ``out_dir``.

    ``kind`` is ``bm25``, ``dense`` or ``hybrid`` (both parts, fused at search time).
    """
    corpus_path, out = Path(corpus_path), Path(out_dir)
    if kind not in ("bm25", "dense", "hybrid"):
        raise ConfigError(f"Unknown index kind {kind!r}", hint="use bm25, dense or hybrid")
    if out.exists() and not overwrite:
        raise UserError(
            f"{out} already exists", hint="pass --overwrite to replace it", path=str(out)
        )
    reader = CorpusReader(corpus_path, on_error)
    with building_directory(out, mode=0o755) as tmp:  # an index is meant to be shared
        plan = _BuildPlan(kind=kind, bm25=bm25 or BM25Params(), dense=dense or DenseBuild(),
                          fusion=fusion or FusionSpec(), progress=progress)
        manifest = _build_into(tmp, reader, plan)
        write_manifest(tmp, manifest)
    if reader.skipped:
        logger.warning("skipped %d bad corpus lines, first: %s", reader.skipped, reader.first_errors[0])
    return out


class _BuildPlan(StrictModel):
    kind: IndexKind
    bm25: BM25Params
    dense: DenseBuild
    fusion: FusionSpec
    progress: bool


def _build_into(tmp: Path, reader: CorpusReader, plan: _BuildPlan) -> IndexManifest:
    corpus_sha = sha256_file(reader.path)
    writer = PassageStoreWriter(tmp)
    builder = BM25Builder(plan.bm25) if plan.kind != "dense" else None
    bar = tqdm(reader, desc=f"reading {reader.path.name}", unit=" passages", file=sys.stderr,
               disable=not plan.progress, mininterval=0.5)
    for passage in bar:
        writer.add(passage)
        if builder is not None:
            builder.add(passage_text(passage))
    writer.close()
    if not len(writer):
        raise CorpusFormatError(
            f"{reader.path} has no usable passages ({reader.skipped} bad lines skipped)",
            path=str(reader.path),
        )
    if builder is not None:
        builder.finish().save(tmp)
    dense = _build_dense(tmp, corpus_sha, plan) if plan.kind != "bm25" else None
    corpus = CorpusInfo(
        path=str(reader.path.resolve()),
        sha256=corpus_sha,
        size_bytes=reader.path.stat().st_size,
        passages=len(writer),
        skipped_lines=reader.skipped,
    )
    return IndexManifest(
        kind=plan.kind,
        sleuth_version=_sleuth_version(),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        corpus=corpus,
        bm25=plan.bm25 if builder is not None else None,
        dense=dense,
        fusion=plan.fusion if plan.kind == "hybrid" else None,
        files=describe_files(tmp),
    )


def _build_dense(tmp: Path, corpus_sha: str, plan: _BuildPlan) -> DenseManifest:
    settings = plan.dense
    store = OffsetPassageStore(tmp)
    try:
        encoder = SentenceEncoder(settings.encoder, device=settings.device,
                                  batch_size=settings.batch_size)
        cache = (settings.embeddings_dir or default_embeddings_dir()) / (
            cache_name(corpus_sha, settings.encoder.name) + ".npy"
        )
        key = {"corpus_sha256": corpus_sha, "encoder": settings.encoder.model_dump()}
        vectors = encode_store(encoder, store, cache, key, progress=plan.progress)
    finally:
        store.close()
    (tmp / "dense").mkdir()
    index = build_faiss(vectors, settings.faiss, settings.encoder.metric, progress=plan.progress)
    write_faiss(index, tmp / "dense" / "index.faiss")
    keep_vectors = settings.faiss.type == "ivf_pq" and settings.faiss.refine > 0
    if keep_vectors:
        shutil.copyfile(cache, tmp / "dense" / "vectors.npy")
    return DenseManifest(
        encoder=settings.encoder,
        dim=encoder.dim,
        faiss=settings.faiss,
        factory=factory_string(settings.faiss, len(vectors), encoder.dim),
        vectors=keep_vectors,
    )


def load_index(
    directory: str | Path,
    *,
    verify: bool = False,
    encoder: str | EncoderSpec | None = None,
    corpus: str | Path | None = None,
    reranker: Reranker | None = None,
) -> StoredRetriever:
    """Open an index directory as a retriever with a ``.store`` and a ``.manifest``.

    ``encoder`` and ``corpus``, when given, must match what the index was built with, or
    :class:`IndexMismatchError` shows the difference. ``verify=True`` also re-hashes every
    file against the manifest (slow on big indices).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    check_compatible(directory, manifest, encoder=encoder, corpus=corpus)
    check_files(directory, manifest, verify=verify)
    store = OffsetPassageStore(directory)
    if len(store) != manifest.corpus.passages:
        store.close()
        raise IndexCorruptError(
            f"{directory} holds {len(store)} passages, its manifest says {manifest.corpus.passages}",
            hint=BUILD_HINT,
            path=str(directory),
        )
    try:
        retriever = _open_parts(directory, manifest, store, reranker)
    except BaseException:
        store.close()
        raise
    retriever.manifest = manifest
    # _open_parts always hands the index's own store to the hybrid retriever, whose store is
    # optional only when users compose one by hand.
    return cast(StoredRetriever, retriever)


def _open_parts(directory: Path, manifest: IndexManifest, store: OffsetPassageStore,
                reranker: Reranker | None) -> BM25Retriever | DenseRetriever | HybridRetriever:
    sparse = dense = None
    if manifest.bm25 is not None:
        sparse = BM25Retriever(BM25Arrays.load(directory), store, manifest.bm25)
    if manifest.dense is not None:
        dense = open_dense(directory, manifest.dense, store)
    if sparse is not None and dense is not None:
        return HybridRetriever(sparse, dense, manifest.fusion, reranker=reranker, store=store)
    if sparse is not None:
        return sparse
    if dense is not None:
        return dense
    raise IndexCorruptError(f"{directory} has neither a BM25 nor a dense part", hint=BUILD_HINT)


def open_dense(directory: Path, part: DenseManifest, store: OffsetPassageStore) -> DenseRetriever:
    encoder = SentenceEncoder(part.encoder)
    if encoder.dim != part.dim:
        raise IndexMismatchError(
            f"Encoder {part.encoder.name!r} now produces {encoder.dim}-d vectors; "
            f"the index holds {part.dim}-d vectors",
            hint="rebuild the index with this encoder",
            index=str(directory),
        )
    index = read_faiss(directory / "dense" / "index.faiss")
    vectors = np.load(directory / "dense" / "vectors.npy", mmap_mode="r") if part.vectors else None
    return DenseRetriever(index, encoder, store, part.faiss, vectors)


def check_compatible(directory: Path, manifest: IndexManifest, *,
                     encoder: str | EncoderSpec | None, corpus: str | Path | None) -> None:
    """Raise IndexMismatchError listing every difference from what the caller expects."""
    diffs: list[str] = []
    if encoder is not None:
        wanted = EncoderSpec.for_model(encoder) if isinstance(encoder, str) else encoder
        if manifest.dense is None:
            diffs.append(f"encoder: the index has no dense part, asked for {wanted.name!r}")
        else:
            have = manifest.dense.encoder.model_dump()
            for field, value in wanted.model_dump().items():
                if have[field] != value:
                    diffs.append(f"encoder.{field}: index has {have[field]!r}, asked for {value!r}")
    if corpus is not None:
        sha = sha256_file(Path(corpus))
        if sha != manifest.corpus.sha256:
            diffs.append(
                f"corpus: index was built from {manifest.corpus.path} "
                f"(sha256 {manifest.corpus.sha256[:12]}...), given {corpus} (sha256 {sha[:12]}...)"
            )
    if diffs:
        raise IndexMismatchError(
            f"{directory} does not match:\n  " + "\n  ".join(diffs),
            hint="rebuild the index with this encoder and corpus, or drop the option",
            differences=diffs,
        )


__all__ = ["DenseBuild", "build_index", "check_compatible", "load_index"]
