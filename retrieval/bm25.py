"""Sleuth's BM25: a streaming index builder and a fast top-k retriever.

The index is a term-major CSC matrix of precomputed BM25 weights (Lucene's variant, as in
bm25s and Pyserini)::

    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    w(t, d)     = idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl))
    score(q, d) = sum of w(t, d) over the query's terms (repeated terms count again)

Search sums postings with a numba kernel (see :mod:`sleuth.retrieval.bm25_kernels`) and
runs in a worker thread so it never blocks the event loop. Persisted arrays load
memory-mapped.
"""

from __future__ import annotations

import json
import logging
import os
from array import array
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from sleuth.errors import IndexCorruptError
from sleuth.retrieval.base import RowScoringRetriever, RowStore
from sleuth.retrieval.bm25_kernels import TopKScorer
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.retrieval.tokenize import Tokenizer, TokenizerConfig
from sleuth.types import Passage, StrictModel

if TYPE_CHECKING:
    from sleuth.retrieval.manifest import IndexManifest

logger = logging.getLogger(__name__)

BM25_FILES = ("bm25/data.npy", "bm25/indices.npy", "bm25/indptr.npy", "bm25/maxw.npy",
              "bm25/vocab.json")


class BM25Params(StrictModel):
    """BM25 parameters; Pyserini's defaults, which Search-R1 and FlashRAG use."""

    k1: float = Field(default=0.9, gt=0)
    """Term-frequency saturation."""
    b: float = Field(default=0.4, ge=0, le=1)
    """Length normalisation."""
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    """How passages and queries become terms."""


def passage_text(passage: Passage) -> str:
    """What BM25 indexes: the title and the text."""
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text


class BM25Builder:
    """Accumulates (term, document, tf) triples in compact arrays, one document at a time."""

    def __init__(self, params: BM25Params | None = None) -> None:
        self.params = params or BM25Params()
        self.tokenizer = Tokenizer(self.params.tokenizer)
        self.vocab: dict[str, int] = {}
        self._terms = array("i")
        self._tfs = array("i")
        self._doc_lens = array("i")
        self._unique = array("i")

    def add(self, text: str) -> None:
        vocab = self.vocab
        counts = Counter(vocab.setdefault(tok, len(vocab)) for tok in self.tokenizer(text))
        self._terms.extend(counts.keys())
        self._tfs.extend(counts.values())
        self._doc_lens.append(sum(counts.values()))
        self._unique.append(len(counts))

    def __len__(self) -> int:
        return len(self._doc_lens)

    def finish(self) -> BM25Arrays:
        """Compute weights and sort postings by term (rows stay ascending within a term)."""
        doc_lens = np.frombuffer(self._doc_lens, dtype=np.int32)
        num_docs = int(doc_lens.shape[0])
        terms = np.frombuffer(self._terms, dtype=np.int32)
        tfs = np.frombuffer(self._tfs, dtype=np.int32).astype(np.float32)
        rows = np.repeat(np.arange(num_docs, dtype=np.int32), np.frombuffer(self._unique, np.int32))
        df = np.bincount(terms, minlength=len(self.vocab)).astype(np.float64)
        idf = np.log1p((num_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        avgdl = float(doc_lens.mean()) if num_docs and doc_lens.mean() > 0 else 1.0
        k1, b = self.params.k1, self.params.b
        norm = (k1 * (1 - b + b * doc_lens.astype(np.float32) / avgdl)).astype(np.float32)
        weights = idf[terms] * tfs / (tfs + norm[rows])
        order = np.argsort(terms, kind="stable")
        indptr = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        np.cumsum(df.astype(np.int64), out=indptr[1:])
        data = weights[order].astype(np.float32)
        return BM25Arrays(data, rows[order], indptr, max_weights(data, indptr), self.vocab, num_docs)


def max_weights(data: Any, indptr: Any) -> Any:
    """The largest weight in each term's postings (0 for a term without postings)."""
    maxw = np.zeros(len(indptr) - 1, dtype=np.float32)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if nonempty.size:
        maxw[nonempty] = np.maximum.reduceat(data, indptr[nonempty])
    return maxw


class BM25Arrays:
    """The persisted form of a BM25 index: CSC weights, per-term maxima and the vocabulary."""

    def __init__(self, data: Any, indices: Any, indptr: Any, maxw: Any, vocab: dict[str, int],
                 num_docs: int) -> None:
        self.data, self.indices, self.indptr, self.maxw = data, indices, indptr, maxw
        self.vocab, self.num_docs = vocab, num_docs

    def save(self, directory: Path) -> None:
        sub = directory / "bm25"
        sub.mkdir(parents=True, exist_ok=True)
        np.save(sub / "data.npy", self.data)
        np.save(sub / "indices.npy", self.indices)
        np.save(sub / "indptr.npy", self.indptr)
        np.save(sub / "maxw.npy", self.maxw)
        with open(sub / "vocab.json", "w", encoding="utf-8") as fh:
            json.dump({"num_docs": self.num_docs, "vocab": self.vocab}, fh, ensure_ascii=False)

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> BM25Arrays:
        sub = directory / "bm25"
        mode: Literal["r"] | None = "r" if mmap else None
        try:
            with open(sub / "vocab.json", encoding="utf-8") as fh:
                meta = json.load(fh)
            arrays = [
                np.load(sub / f"{n}.npy", mmap_mode=mode) for n in ("data", "indices", "indptr")
            ]
            maxw_file = sub / "maxw.npy"
            if maxw_file.is_file():
                arrays.append(np.load(maxw_file, mmap_mode=mode))
            else:  # indices from Sleuth's first cut predate the per-term maxima
                logger.info("%s has no maxw.npy; computing it (rebuild to skip this)", sub)
                arrays.append(max_weights(arrays[0], arrays[2]))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"Cannot read the BM25 arrays in {sub}: {exc}",
                hint="rebuild the index with: sleuth index build CORPUS --out DIR",
                path=str(sub),
            ) from exc
        data, indices, indptr, maxw = arrays
        return cls(data, indices, indptr, maxw, meta["vocab"], int(meta["num_docs"]))


class BM25Retriever(RowScoringRetriever):
    """BM25 top-k search over a :class:`BM25Arrays` index and a passage store.

    >>> retriever = BM25Retriever.from_passages(passages)
    >>> hits = await retriever.search(["who wrote hamlet"], k=5)
    """

    name = "bm25"

    def __init__(self, arrays: BM25Arrays, store: RowStore, params: BM25Params | None = None,
                 use_numba: bool = True, threads: int | None = None) -> None:
        self.threads = threads or min(4, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        self.arrays = arrays
        self.store = store
        self.params = params or BM25Params()
        self.tokenizer = Tokenizer(self.params.tokenizer)
        self.manifest: IndexManifest | None = None
        self.scorer = TopKScorer(arrays.data, arrays.indices, arrays.indptr, arrays.maxw,
                                 arrays.num_docs, use_numba=use_numba)

    @classmethod
    def from_passages(cls, passages: Iterable[Passage], params: BM25Params | None = None,
                      use_numba: bool = True) -> BM25Retriever:
        """Index passages in memory (small corpora, tests)."""
        store = MemoryPassageStore(passages)
        builder = BM25Builder(params)
        for row in range(len(store)):
            builder.add(passage_text(store.by_row(row)))
        return cls(builder.finish(), store, builder.params, use_numba=use_numba)

    def query_terms(self, query: str) -> np.ndarray:
        """Term ids of a query; unknown words are dropped, repeats are kept."""
        vocab = self.arrays.vocab
        ids = [vocab[t] for t in self.tokenizer(query) if t in vocab]
        return np.asarray(ids, dtype=np.int64)

    def search_rows(self, queries: list[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(rows, scores) per query, best first; synchronous, CPU-bound.

        Big batches are split across ``threads`` worker threads: the kernel releases the GIL.
        """
        if self.threads < 2 or len(queries) < 8:
            return self._search_rows_serial(queries, k)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sleuth-bm25")
        size = -(-len(queries) // self.threads)
        chunks = [queries[i:i + size] for i in range(0, len(queries), size)]
        return [hit for part in self._pool.map(self._search_rows_serial, chunks, [k] * len(chunks))
                for hit in part]

    def _search_rows_serial(self, queries: list[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.scorer.topk(self.query_terms(q), k) for q in queries]

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        self.store.close()


__all__ = ["BM25Arrays", "BM25Builder", "BM25Params", "BM25Retriever", "passage_text"]
