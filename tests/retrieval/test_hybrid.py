"""Fusion arithmetic and the rerank step, on hand-checked rankings and a real BM25 index."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sleuth.retrieval.bm25 import BM25Retriever
from sleuth.retrieval.hybrid import FusionSpec, HybridRetriever, Reranker, rrf_fuse, weighted_fuse
from sleuth.types import Passage, SearchHit


def hits(*pairs: tuple[str, float]) -> list[SearchHit]:
    return [SearchHit(passage=Passage(id=i, text=i), score=s, rank=r) for r, (i, s) in enumerate(pairs)]


def test_rrf_uses_one_based_ranks_and_k_60() -> None:
    fused = rrf_fuse([hits(("a", 9), ("b", 8)), hits(("b", 0.9), ("c", 0.5))], rrf_k=60)
    assert [h.passage.id for h in fused] == ["b", "a", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61)
    assert [h.rank for h in fused] == [0, 1, 2]


def test_weighted_fusion_normalises_each_list() -> None:
    fused = weighted_fuse([hits(("a", 10), ("b", 5), ("c", 0)), hits(("c", 0.8), ("a", 0.2))], [0.3, 0.7])
    scores = {h.passage.id: h.score for h in fused}
    assert scores["a"] == pytest.approx(0.3 * 1.0 + 0.7 * 0.0)
    assert scores["b"] == pytest.approx(0.3 * 0.5)
    assert scores["c"] == pytest.approx(0.3 * 0.0 + 0.7 * 1.0)
    assert [h.passage.id for h in fused] == ["c", "a", "b"]


class TitleMatchReranker:
    """A small local scorer standing in for a cross-encoder: query words found in the title."""

    name = "title-match"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def score(self, query: str, passages: Sequence[Passage]) -> list[float]:
        self.seen.append(len(passages))
        words = set(query.lower().split())
        return [float(len(words & set(p.title.lower().split()))) for p in passages]


PASSAGES = [
    Passage(id="1", title="Paris", text="Paris is the capital of France; the river Seine runs through it."),
    Passage(id="2", title="Seine", text="The Seine flows through Paris and Rouen; Seine Seine river Seine."),
    Passage(id="3", title="Rouen", text="Rouen is a city on the river Seine in Normandy."),
    Passage(id="4", title="Lyon", text="Lyon lies where the Rhone and Saone meet."),
]


async def test_hybrid_fuses_and_reranks() -> None:
    sparse = BM25Retriever.from_passages(PASSAGES)
    other = BM25Retriever.from_passages(list(reversed(PASSAGES)))
    reranker = TitleMatchReranker()
    assert isinstance(reranker, Reranker)
    plain = HybridRetriever(sparse, other, FusionSpec(depth=3))
    (fused,) = await plain.search(["seine river rouen"], k=3)
    (alone,) = await sparse.search(["seine river rouen"], k=3)
    assert [h.passage.id for h in fused] == [h.passage.id for h in alone]  # same ranking twice
    reranked = HybridRetriever(sparse, other, FusionSpec(depth=3, rerank_depth=2), reranker=reranker)
    (top,) = await reranked.search(["rouen river seine"], k=3)
    assert reranker.seen == [3]  # rerank depth is at least k
    assert [h.passage.title for h in top][:2] in (["Seine", "Rouen"], ["Rouen", "Seine"])
    assert [h.rank for h in top] == [0, 1, 2]
