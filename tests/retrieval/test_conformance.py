"""One conformance suite for every Retriever backend.

Each backend indexes the same real HotpotQA slice (gold paragraphs plus their distractors);
dense backends use the real MiniLM encoder; ``remote`` talks to a real uvicorn server on
127.0.0.1 through RemoteRetriever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from sleuth.retrieval.base import Retriever
from sleuth.retrieval.bm25 import BM25Retriever
from sleuth.retrieval.dense import DenseRetriever
from sleuth.retrieval.faiss_index import FaissSpec, build_faiss
from sleuth.retrieval.hybrid import HybridRetriever
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.retrieval.rank_bm25_backend import RankBM25Retriever
from sleuth.types import Passage, SearchHit

BACKENDS = ["bm25", "rank-bm25", "dense-flat", "dense-hnsw", "dense-ivf", "dense-ivfpq", "hybrid", "remote"]


def dense(slice_, vectors, encoder, spec: FaissSpec) -> DenseRetriever:  # type: ignore[no-untyped-def]
    index = build_faiss(vectors, spec, progress=False)
    return DenseRetriever(index, encoder, MemoryPassageStore(slice_.passages), spec, vectors)


@pytest.fixture(scope="module")
def served_url(hotpot_slice) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from sleuth.retrieval.server import BackgroundServer, ServerLimits, create_app

    retriever = BM25Retriever.from_passages(hotpot_slice.passages)
    app = create_app(retriever, ServerLimits(max_topk=1000), passages=len(hotpot_slice.passages))
    with BackgroundServer(app) as url:
        yield url


@pytest.fixture(scope="module")
def built() -> Iterator[dict[str, Retriever]]:
    """Backends are built once per module; remote clients are per test (their own loop)."""
    cache: dict[str, Retriever] = {}
    yield cache
    for r in cache.values():
        asyncio.run(r.aclose())


@pytest.fixture(params=BACKENDS)
async def retriever(request, built) -> AsyncIterator[Retriever]:  # type: ignore[no-untyped-def]
    name = request.param
    if name == "remote":
        from sleuth.retrieval.remote import RemoteRetriever

        remote = RemoteRetriever(request.getfixturevalue("served_url"))
        yield remote
        await remote.aclose()
        return
    if name not in built:
        built[name] = make_backend(request, name)
    yield built[name]


def make_backend(request, name: str) -> Retriever:  # type: ignore[no-untyped-def]
    hotpot_slice = request.getfixturevalue("hotpot_slice")
    if name.startswith("dense") or name == "hybrid":
        encoder = request.getfixturevalue("minilm")
        vectors = request.getfixturevalue("slice_vectors")
    if name == "bm25":
        return BM25Retriever.from_passages(hotpot_slice.passages)
    if name == "rank-bm25":
        return RankBM25Retriever(hotpot_slice.passages)
    if name == "dense-flat":
        return dense(hotpot_slice, vectors, encoder, FaissSpec(type="flat"))
    if name == "dense-hnsw":
        return dense(hotpot_slice, vectors, encoder, FaissSpec(type="hnsw", hnsw_m=16))
    if name == "dense-ivf":
        return dense(hotpot_slice, vectors, encoder, FaissSpec(type="ivf_flat", nprobe=4))
    if name == "dense-ivfpq":
        return dense(hotpot_slice, vectors, encoder, FaissSpec(type="ivf_pq", nprobe=4, pq_m=16))
    assert name == "hybrid"
    return HybridRetriever(BM25Retriever.from_passages(hotpot_slice.passages),
                           dense(hotpot_slice, vectors, encoder, FaissSpec()))


def check_ranking(hits: list[SearchHit], k: int) -> None:
    assert len(hits) <= k
    assert [h.rank for h in hits] == list(range(len(hits)))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    ids = [h.passage.id for h in hits]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(h.passage, Passage) and h.passage.text for h in hits)


def test_implements_the_protocol(retriever: Retriever) -> None:
    assert isinstance(retriever, Retriever)
    assert isinstance(retriever.name, str) and retriever.name


async def test_one_ranked_list_per_query(retriever: Retriever, hotpot_slice) -> None:  # type: ignore[no-untyped-def]
    queries = hotpot_slice.questions[:3]
    results = await retriever.search(queries, k=5)
    assert len(results) == 3
    for hits in results:
        assert len(hits) == 5
        check_ranking(hits, 5)


async def test_empty_batch(retriever: Retriever) -> None:
    assert await retriever.search([], k=5) == []


async def test_k_beyond_the_corpus_returns_at_most_the_corpus(retriever: Retriever, hotpot_slice) -> None:  # type: ignore[no-untyped-def]
    n = len(hotpot_slice.passages)
    (hits,) = await retriever.search([hotpot_slice.questions[0]], k=n + 50)
    assert 0 < len(hits) <= n
    check_ranking(hits, n)


async def test_a_passage_finds_itself(retriever: Retriever, hotpot_slice) -> None:  # type: ignore[no-untyped-def]
    picks = hotpot_slice.passages[::37][:8]
    results = await retriever.search([f"{p.title} {p.text}" for p in picks], k=3)
    found = [p.id in {h.passage.id for h in hits} for p, hits in zip(picks, results)]
    assert all(found), found


async def test_returned_passages_are_the_indexed_ones(retriever: Retriever, hotpot_slice) -> None:  # type: ignore[no-untyped-def]
    by_id = {p.id: p for p in hotpot_slice.passages}
    for hits in await retriever.search(hotpot_slice.questions[:4], k=4):
        for hit in hits:
            assert hit.passage == by_id[hit.passage.id]


async def test_gold_paragraphs_are_found(retriever: Retriever, hotpot_slice) -> None:  # type: ignore[no-untyped-def]
    results = await retriever.search(hotpot_slice.questions, k=10)
    recall = np.mean([len(g & {h.passage.id for h in hits}) / len(g)
                      for g, hits in zip(hotpot_slice.gold, results)])
    assert recall >= 0.6, recall


async def test_concurrent_searches_match_one_batch(retriever: Retriever, hotpot_slice) -> None:  # type: ignore[no-untyped-def]
    queries = hotpot_slice.questions[:6]
    batch = await retriever.search(queries, k=4)
    single = await asyncio.gather(*(retriever.search([q], k=4) for q in queries))
    assert [[h.passage.id for h in hits] for (hits,) in single] == [[h.passage.id for h in hits] for hits in batch]
    for (hits,), expected in zip(single, batch):
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], rtol=1e-4)
