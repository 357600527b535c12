"""Dense retrieval: a sentence encoder and a FAISS index over the passage embeddings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from sleuth.errors import ConfigError
from sleuth.retrieval.base import RowScoringRetriever, RowStore
from sleuth.retrieval.bm25 import passage_text
from sleuth.retrieval.encoder import EncoderSpec
from sleuth.retrieval.faiss_index import FaissSpec, build_faiss, faiss_module, to_gpus, tune_blas
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.types import Passage

Rows = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


class QueryEncoder(Protocol):
    """What DenseRetriever needs from an encoder (SentenceEncoder, or a test double)."""

    spec: EncoderSpec
    dim: int

    def encode_queries(self, queries: list[str]) -> npt.NDArray[np.float32]: ...

    def encode_passages(self, texts: list[str]) -> npt.NDArray[np.float32]: ...


class DenseRetriever(RowScoringRetriever):
    """Top-k inner-product (or L2) search of encoded queries in a FAISS index.

    ``vectors`` (the passage embeddings, usually memory-mapped) enable exact re-ranking of
    IVF-PQ candidates; other index types do not need them.
    """

    name = "dense"

    def __init__(self, index: Any, encoder: QueryEncoder | None, store: RowStore,
                 spec: FaissSpec | None = None, vectors: Any = None,
                 metric: str | None = None) -> None:
        self.spec = spec or FaissSpec()
        self.encoder = encoder
        self.store = store
        self.vectors = vectors
        self.metric = metric or (encoder.spec.metric if encoder is not None else "ip")
        self._faiss = faiss_module()
        self.index, self.device = to_gpus(index, self.spec)
        self.manifest: Any = None
        self.effort: float | None = None
        """Search effort in [0, 1] set by BatchingRetriever; None = the spec's values."""

    def set_effort(self, effort: float) -> None:
        """Scale efSearch / nprobe between a floor (0) and the spec's values (1), per batch."""
        self.effort = effort

    @classmethod
    def from_passages(cls, passages: Iterable[Passage], encoder: QueryEncoder,
                      spec: FaissSpec | None = None) -> DenseRetriever:
        """Encode and index passages in memory (small corpora, tests)."""
        store = MemoryPassageStore(passages)
        texts = [passage_text(store.by_row(i)) for i in range(len(store))]
        vectors = encoder.encode_passages(texts)
        spec = spec or FaissSpec()
        index = build_faiss(vectors, spec, encoder.spec.metric, progress=False)
        return cls(index, encoder, store, spec, vectors)

    def _params(self, k: int) -> Any:
        faiss = self._faiss
        if self.device != "cpu":
            return None
        ef, nprobe = self.spec.ef_search, self.spec.nprobe
        if self.effort is not None:
            from sleuth.retrieval.batcher import ef_search_for_effort, nprobe_for_effort

            ef = ef_search_for_effort(self.effort, k=k, ef_min=min(16, ef), ef_max=ef)
            nprobe = nprobe_for_effort(self.effort, nlist=nprobe, nprobe_max=nprobe)
        if self.spec.type == "hnsw":
            return faiss.SearchParametersHNSW(efSearch=max(ef, k))
        if self.spec.type in ("ivf_flat", "ivf_pq"):
            return faiss.SearchParametersIVF(nprobe=nprobe)
        return None

    def search_vectors(self, queries: npt.NDArray[np.float32], k: int) -> list[Rows]:
        """(rows, scores) per query vector, best first."""
        total = int(self.index.ntotal)
        k = min(k, total)
        if k <= 0 or len(queries) == 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in range(len(queries))]
        refine = self.spec.type == "ivf_pq" and self.spec.refine > 0 and self.vectors is not None
        fetch = min(k * self.spec.refine, total) if refine else k
        params = self._params(fetch)
        tune_blas(self._faiss, len(queries))
        if params is None:
            scores, rows = self.index.search(queries, fetch)
        else:
            scores, rows = self.index.search(queries, fetch, params=params)
        if self.metric == "l2":
            scores = -scores
        out = []
        for q, r, s in zip(queries, rows, scores):
            keep = r >= 0
            r, s = r[keep].astype(np.int64), s[keep].astype(np.float32)
            out.append(self._rerank_exact(q, r, k) if refine else (r, s))
        return out

    def _rerank_exact(self, query: npt.NDArray[np.float32], rows: npt.NDArray[np.int64],
                      k: int) -> Rows:
        order = np.argsort(rows)
        exact = np.asarray(self.vectors[rows[order]], dtype=np.float32)
        if self.metric == "l2":
            scores = -((exact - query) ** 2).sum(axis=1)
        else:
            scores = exact @ query
        best = np.lexsort((rows[order], -scores))[:k]
        return rows[order][best], scores[best].astype(np.float32)

    def search_rows(self, queries: list[str], k: int) -> list[Rows]:
        if self.encoder is None:
            raise ConfigError("This dense retriever has no encoder; use search_vectors")
        return self.search_vectors(self.encoder.encode_queries(queries), k)

    async def aclose(self) -> None:
        self.store.close()


__all__ = ["DenseRetriever", "QueryEncoder"]
