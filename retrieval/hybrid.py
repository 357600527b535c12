"""Hybrid retrieval: fuse BM25 and dense rankings, then optionally re-rank.

Fusion methods:

* ``rrf`` (reciprocal-rank fusion): ``score(d) = sum over lists of 1 / (rrf_k + rank(d))``
  with 1-based ranks and ``rrf_k = 60`` (Cormack et al., 2009). Scale-free.
* ``weighted``: each list's scores are min-max normalised to [0, 1], then
  ``dense_weight · dense + (1 - dense_weight) · sparse``; a missing score counts 0.

A :class:`Reranker` (cross-encoder shaped: ``score(query, passages) -> scores``) may then
re-order the fused top ``rerank_depth``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import Field

from sleuth._optional import require
from sleuth.retrieval.base import Retriever, RowStore
from sleuth.types import Passage, SearchHit, StrictModel


class FusionSpec(StrictModel):
    """How a hybrid retriever combines its parts."""

    method: Literal["rrf", "weighted"] = "rrf"
    """Reciprocal-rank fusion or weighted normalised scores."""
    rrf_k: int = Field(default=60, ge=1)
    """RRF's rank offset."""
    dense_weight: float = Field(default=0.5, ge=0, le=1)
    """Weight of the dense scores in weighted fusion."""
    depth: int = Field(default=50, ge=1)
    """Hits fetched from each part before fusion (at least k)."""
    rerank_depth: int = Field(default=20, ge=1)
    """Fused hits passed to the reranker, when there is one."""


@runtime_checkable
class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    name: str

    def score(self, query: str, passages: Sequence[Passage]) -> list[float]: ...


def rrf_fuse(rankings: Sequence[Sequence[SearchHit]], rrf_k: int = 60) -> list[SearchHit]:
    """Reciprocal-rank fusion; ties keep the order in which passages were first seen."""
    scores: dict[str, float] = {}
    passages: dict[str, Passage] = {}
    for ranking in rankings:
        for position, hit in enumerate(ranking, start=1):
            pid = hit.passage.id
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (rrf_k + position)
            passages.setdefault(pid, hit.passage)
    return _ranked(scores, passages)


def weighted_fuse(rankings: Sequence[Sequence[SearchHit]], weights: Sequence[float]) -> list[SearchHit]:
    """Weighted sum of min-max normalised scores."""
    scores: dict[str, float] = {}
    passages: dict[str, Passage] = {}
    for ranking, weight in zip(rankings, weights):
        if not ranking:
            continue
        values = [h.score for h in ranking]
        low, span = min(values), max(values) - min(values)
        for hit in ranking:
            norm = (hit.score - low) / span if span > 0 else 1.0
            pid = hit.passage.id
            scores[pid] = scores.get(pid, 0.0) + weight * norm
            passages.setdefault(pid, hit.passage)
    return _ranked(scores, passages)


def _ranked(scores: dict[str, float], passages: dict[str, Passage]) -> list[SearchHit]:
    order = sorted(scores, key=lambda pid: -scores[pid])  # stable: first seen wins ties
    return [SearchHit(passage=passages[pid], score=scores[pid], rank=i) for i, pid in enumerate(order)]


def rerank(reranker: Reranker, query: str, hits: list[SearchHit], depth: int) -> list[SearchHit]:
    """Re-order the top ``depth`` hits by the reranker's scores; the rest keep their order."""
    head, tail = hits[:depth], hits[depth:]
    scores = reranker.score(query, [h.passage for h in head])
    order = sorted(range(len(head)), key=lambda i: -scores[i])
    ranked = [head[i].model_copy(update={"score": float(scores[i])}) for i in order] + tail
    return [h.model_copy(update={"rank": i}) for i, h in enumerate(ranked)]


class HybridRetriever:
    """Runs a sparse and a dense retriever concurrently and fuses their rankings."""

    name = "hybrid"

    def __init__(self, sparse: Retriever, dense: Retriever, fusion: FusionSpec | None = None,
                 reranker: Reranker | None = None, store: RowStore | None = None) -> None:
        self.sparse, self.dense = sparse, dense
        self.fusion = fusion or FusionSpec()
        self.reranker = reranker
        self.store = store if store is not None else getattr(sparse, "store", None)
        self.manifest: Any = None

    def fuse(self, sparse: list[SearchHit], dense: list[SearchHit]) -> list[SearchHit]:
        if self.fusion.method == "rrf":
            return rrf_fuse([sparse, dense], self.fusion.rrf_k)
        weight = self.fusion.dense_weight
        return weighted_fuse([sparse, dense], [1 - weight, weight])

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        """Fused top-``k`` per query."""
        if not queries:
            return []
        depth = max(k, self.fusion.depth)
        sparse, dense = await asyncio.gather(
            self.sparse.search(queries, depth), self.dense.search(queries, depth)
        )
        fused = [self.fuse(s, d) for s, d in zip(sparse, dense)]
        if self.reranker is not None:
            reranker, rdepth = self.reranker, max(k, self.fusion.rerank_depth)
            fused = await asyncio.to_thread(
                lambda: [rerank(reranker, q, hits, rdepth) for q, hits in zip(queries, fused)]
            )
        return [hits[:k] for hits in fused]

    async def aclose(self) -> None:
        await self.sparse.aclose()
        await self.dense.aclose()


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` as a reranker (needs its weights locally)."""

    def __init__(self, model: str, *, batch_size: int = 32, device: str | None = None) -> None:
        st = require("sentence_transformers", "dense", purpose="cross-encoder re-ranking")
        self.name = f"cross-encoder:{model}"
        self.model = st.CrossEncoder(model, device=device)
        self.batch_size = batch_size

    def score(self, query: str, passages: Sequence[Passage]) -> list[float]:
        pairs = [(query, f"{p.title}\n{p.text}") for p in passages]
        if not pairs:
            return []
        return [float(s) for s in self.model.predict(pairs, batch_size=self.batch_size)]


__all__ = [
    "CrossEncoderReranker",
    "FusionSpec",
    "HybridRetriever",
    "Reranker",
    "rerank",
    "rrf_fuse",
    "weighted_fuse",
]
