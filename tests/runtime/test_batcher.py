"""BatchingRetriever: coalescing, routing, failures, cancellation, adaptive effort."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest

from sleuth.errors import ConfigError, RetrievalError
from sleuth.retrieval.batcher import (
    AdaptiveEffort,
    BatchingRetriever,
    SupportsEffort,
    ef_search_for_effort,
    min_effort_for_recall,
    nprobe_for_effort,
)
from sleuth.types import Passage, SearchHit


class RecordingRetriever:
    """Returns ``k`` hits named after the query; records every inner call."""

    name = "recording"

    def __init__(self, *, delay_s: float = 0.0, fail_times: int = 0) -> None:
        self.calls: list[tuple[list[str], int]] = []
        self.efforts: list[float] = []
        self.delay_s = delay_s
        self.fail_times = fail_times
        self.effort = 1.0

    def set_effort(self, effort: float) -> None:
        self.effort = effort
        self.efforts.append(effort)

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        self.calls.append((list(queries), k))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("index server refused the connection")
        return [
            [SearchHit(passage=Passage(id=f"{q}#{i}", text=q), score=1.0 / (i + 1), rank=i) for i in range(k)]
            for q in queries
        ]

    async def aclose(self) -> None:
        return None


async def test_concurrent_searches_become_one_inner_call_with_results_routed_back() -> None:
    inner = RecordingRetriever()
    batcher = BatchingRetriever(inner, max_batch=64, max_wait_ms=5)
    ks = [1, 3, 2, 5, 4]
    results = await asyncio.gather(*(batcher.search([f"q{i}"], k) for i, k in enumerate(ks)))
    assert len(inner.calls) == 1
    assert inner.calls[0] == (["q0", "q1", "q2", "q3", "q4"], 5)
    for i, (hits, k) in enumerate(zip(results, ks)):
        assert [h.passage.id for h in hits[0]] == [f"q{i}#{j}" for j in range(k)]
    assert batcher.stats.batches == 1 and batcher.stats.mean_batch == 5


async def test_searches_arriving_during_a_batch_form_the_next_one() -> None:
    inner = RecordingRetriever(delay_s=0.05)
    batcher = BatchingRetriever(inner, max_batch=3, max_wait_ms=1)
    first = asyncio.create_task(batcher.search(["a"], 2))
    await asyncio.sleep(0.01)  # the first batch is running now
    later = [asyncio.create_task(batcher.search([f"b{i}"], 2)) for i in range(5)]
    await asyncio.gather(first, *later)
    assert [q for q, _ in inner.calls] == [["a"], ["b0", "b1", "b2"], ["b3", "b4"]]


async def test_a_down_retriever_fails_every_caller_then_recovers() -> None:
    inner = RecordingRetriever(fail_times=1)
    batcher = BatchingRetriever(inner, max_wait_ms=2)
    outcomes = await asyncio.gather(
        *(batcher.search([f"q{i}"], 1) for i in range(4)), return_exceptions=True
    )
    assert all(isinstance(o, RetrievalError) for o in outcomes)
    assert "ConnectionError" in str(outcomes[0])
    assert batcher.stats.failed_batches == 1
    hits = await batcher.search(["again"], 1)
    assert hits[0][0].passage.id == "again#0"


async def test_cancelled_caller_does_not_disturb_the_batch_and_close_fails_pending() -> None:
    inner = RecordingRetriever()
    batcher = BatchingRetriever(inner, max_wait_ms=20)
    leaving = asyncio.create_task(batcher.search(["leaving"], 1))
    staying = asyncio.create_task(batcher.search(["staying"], 1))
    await asyncio.sleep(0)
    leaving.cancel()
    hits = await staying
    assert hits[0][0].passage.id == "staying#0"
    assert inner.calls == [(["staying"], 1)]
    pending = asyncio.create_task(batcher.search(["late"], 1))
    await asyncio.sleep(0)
    await batcher.aclose()
    with pytest.raises(RetrievalError, match="closed"):
        await pending
    with pytest.raises(RetrievalError, match="closed"):
        await batcher.search(["after"], 1)


async def test_effort_follows_engine_pressure_down_to_the_floor() -> None:
    inner = RecordingRetriever()
    assert isinstance(inner, SupportsEffort)
    pressures = iter([0.0, 0.5, 1.0, 3.0])
    controller = AdaptiveEffort(pressure=lambda: next(pressures), min_effort=0.4)
    batcher = BatchingRetriever(inner, max_wait_ms=0, effort=controller)
    for i in range(4):
        await batcher.search([f"q{i}"], 1)
    assert inner.efforts == pytest.approx([1.0, 0.7, 0.4, 0.4])


def test_effort_maps_to_ef_search_and_nprobe_monotonically() -> None:
    efs = [ef_search_for_effort(e / 10, k=10) for e in range(11)]
    assert efs[0] == 16 and efs[-1] == 512
    assert all(a <= b for a, b in itertools.pairwise(efs))
    assert ef_search_for_effort(0.0, k=50) == 50  # never below k
    probes = [nprobe_for_effort(e / 10, nlist=1024) for e in range(11)]
    assert probes[0] == 1 and probes[-1] == 256
    assert all(a <= b for a, b in itertools.pairwise(probes))
    assert nprobe_for_effort(1.0, nlist=8) == 8


def test_recall_floor_picks_the_cheapest_sufficient_effort() -> None:
    curve = [(0.0, 0.75), (0.3, 0.9), (0.6, 0.97), (1.0, 0.99)]
    assert min_effort_for_recall(curve, 0.95) == 0.6
    with pytest.raises(ConfigError):
        min_effort_for_recall(curve, 0.999)
    with pytest.raises(ConfigError):
        BatchingRetriever(RecordingRetriever(), max_batch=0)


async def test_batched_bm25_matches_direct_search_on_real_passages(hotpot_corpus: Path) -> None:
    from sleuth.retrieval.bm25 import BM25Retriever
    from sleuth.retrieval.corpus import iter_corpus

    passages = list(itertools.islice(iter_corpus(hotpot_corpus), 3000))
    bm25 = BM25Retriever.from_passages(passages)
    queries = [p.title for p in passages[::150]]
    direct = await bm25.search(queries, 5)
    batcher = BatchingRetriever(bm25, max_wait_ms=5, close_inner=False)
    batched = await asyncio.gather(*(batcher.search([q], 5) for q in queries))
    assert len(direct) == 20
    for want, got in zip(direct, batched):
        assert [h.passage.id for h in got[0]] == [h.passage.id for h in want]
    assert batcher.stats.batches == 1
    await batcher.aclose()


async def test_a_batch_whose_callers_all_left_is_cancelled() -> None:
    inner = RecordingRetriever(delay_s=10.0)
    batcher = BatchingRetriever(inner, max_wait_ms=0)
    before = asyncio.all_tasks()
    caller = asyncio.create_task(batcher.search(["q"], 1))
    await asyncio.sleep(0.01)
    assert len(inner.calls) == 1  # the inner search is running
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


async def test_faiss_hnsw_effort_trades_recall_through_the_batcher() -> None:
    """Real FAISS HNSW: low effort (small efSearch) loses recall against exact search."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("faiss")
    from sleuth.retrieval.dense import DenseRetriever
    from sleuth.retrieval.encoder import EncoderSpec
    from sleuth.retrieval.faiss_index import FaissSpec, build_faiss
    from sleuth.retrieval.memory_store import MemoryPassageStore

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((4000, 32)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:200] + 0.3 * rng.standard_normal((200, 32)).astype("float32")

    class VectorEncoder:
        spec = EncoderSpec()
        dim = 32

        def encode_queries(self, texts: list[str]) -> Any:
            return queries[[int(t) for t in texts]]

        def encode_passages(self, texts: list[str]) -> Any:
            raise AssertionError("not used")

    spec = FaissSpec(type="hnsw", hnsw_m=8, ef_construction=40, ef_search=256)
    store = MemoryPassageStore(Passage(id=str(i), text=str(i)) for i in range(len(vectors)))
    dense = DenseRetriever(build_faiss(vectors, spec, progress=False), VectorEncoder(), store, spec)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    pressure = [0.0]
    batcher = BatchingRetriever(dense, max_wait_ms=1,
                                effort=AdaptiveEffort(lambda: pressure[0], min_effort=0.0))

    async def recall() -> float:
        hits = await asyncio.gather(*(batcher.search([str(i)], 10) for i in range(200)))
        found = [len({int(h.passage.id) for h in hs[0]} & set(truth[i].tolist())) for i, hs in enumerate(hits)]
        return sum(found) / (10 * 200)

    thorough = await recall()
    pressure[0] = 1.0
    hurried = await recall()
    assert dense.effort == 0.0
    assert thorough >= 0.9 and hurried < thorough - 0.05
