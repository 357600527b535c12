"""``sleuth bench retrieval``: build time, peak memory, latency, QPS and ANN recall.

Every row comes from one run on one machine, so the ratios between rows are what to
read; absolute numbers move with the CPU and its load.

* BM25 methods run on synthetic Zipf corpora (``ZipfCorpus``) and their queries:
  ``rank-bm25`` (the reference, up to ``rank_bm25_max`` passages), ``bm25s-numba`` (bm25s
  with its numba backend, up to ``bm25s_max``) and ``sleuth-bm25``.
* FAISS methods run on synthetic unit vectors with the low intrinsic dimension of sentence
  embeddings (``clustered_vectors``); recall@10 is measured against exact Flat search.
* The sandbox rows use the real HotpotQA corpus, with MiniLM embeddings when cached.

Peak memory is the growth of the process's peak RSS during the build (Linux resets the
peak through ``/proc/self/clear_refs``); elsewhere it is reported as null.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from sleuth.retrieval.bm25 import BM25Builder, BM25Params, BM25Retriever, passage_text
from sleuth.retrieval.faiss_index import FaissSpec, build_faiss, factory_string, faiss_module
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.retrieval.synthetic import ZipfCorpus, clustered_vectors, perturbed_queries
from sleuth.types import Passage, StrictModel

logger = logging.getLogger(__name__)

Queries = Sequence[Any] | np.ndarray
Searcher = Callable[[Queries, int], list[np.ndarray]]


class BenchRow(StrictModel):
    """One method on one corpus."""

    method: str
    n: int
    build_s: float
    peak_mb: float | None
    p50_ms: float
    batch_qps: float
    recall_at_10: float | None = None
    corpus: str = "synthetic"
    note: str = ""


class BenchSettings(StrictModel):
    """What to run."""

    sizes: list[int] = Field(default_factory=lambda: [10_000, 100_000])
    rank_bm25_max: int = 100_000
    bm25s_max: int = 100_000
    hnsw_max: int = 100_000
    faiss_types: list[str] = Field(default_factory=lambda: ["flat", "hnsw", "ivf_flat", "ivf_pq"])
    bm25: bool = True
    dense: bool = True
    latency_queries: int = 100
    batch: int = 64
    dim: int = 384
    nprobes: list[int] = Field(default_factory=lambda: [16, 64])
    """IVF lists probed; each value is one row."""
    hnsw_ef: list[int] = Field(default_factory=lambda: [64])
    """HNSW efSearch values; each is one row."""
    stores: bool = True
    """Also compare the offset-indexed passage store with SQLite."""
    threads: int = Field(default=1, ge=1)
    """Threads for every method (FAISS OpenMP, numba, Sleuth's batch pool)."""


def limit_threads(threads: int) -> None:
    """Give every library the same thread budget, so rows compare like with like."""
    faiss_module().omp_set_num_threads(threads)
    try:
        import numba

        numba.set_num_threads(min(threads, int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))))
    except ImportError:
        pass


def _rss_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    # return freed heap to the OS, so the next build's peak RSS is its own
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure_build(build: Callable[[], Any]) -> tuple[Any, float, float | None]:
    """(result, seconds, extra peak MB) of one build."""
    gc.collect()
    _malloc_trim()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        base = _rss_mb("VmRSS")
    except OSError:
        base = None
    start = time.perf_counter()
    result = build()
    seconds = time.perf_counter() - start
    peak = _rss_mb("VmHWM")
    extra = None if base is None or peak is None else max(0.0, peak - base)
    return result, seconds, extra


def measure_search(search: Searcher, queries: Queries, batch: int, latency_n: int,
                   k: int = 10) -> tuple[float, float]:
    """(p50 single-query ms, batch QPS: best of three batches of ``batch`` queries)."""
    search(list(queries[:2]), k)  # warm up (JIT, caches)
    latencies = []
    for q in queries[:latency_n]:
        start = time.perf_counter()
        search([q], k)
        latencies.append(time.perf_counter() - start)
    chunk = list(queries[:batch])
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        search(chunk, k)
        best = min(best, time.perf_counter() - start)
    return float(np.median(latencies) * 1000), len(chunk) / best


def _recall(truth: list[np.ndarray], got: list[np.ndarray], k: int = 10) -> float:
    return float(np.mean([len(set(t[:k].tolist()) & set(g[:k].tolist())) / k
                          for t, g in zip(truth, got)]))


def bench_bm25(passages: list[Passage], queries: list[str], settings: BenchSettings,
               corpus: str = "synthetic", params: BM25Params | None = None) -> list[BenchRow]:
    """rank-bm25, bm25s-numba and sleuth-bm25 on the same passages and queries."""
    n, rows = len(passages), []
    params = params or BM25Params()

    def build_sleuth() -> BM25Retriever:
        builder = BM25Builder(params)
        for p in passages:
            builder.add(passage_text(p))
        return BM25Retriever(builder.finish(), MemoryPassageStore([]), params,
                             threads=settings.threads)

    sleuth, build_s, peak = measure_build(build_sleuth)
    exact = BM25Retriever(sleuth.arrays, sleuth.store, params, use_numba=False)
    truth = [r for r, _ in exact.search_rows(queries[: settings.latency_queries], 10)]

    def sleuth_search(qs: Queries, k: int) -> list[np.ndarray]:
        return [r for r, _ in sleuth.search_rows(list(qs), k)]

    p50, qps = measure_search(sleuth_search, queries, settings.batch, settings.latency_queries)
    recall = _recall(truth, sleuth_search(queries[: settings.latency_queries], 10))
    rows.append(BenchRow(method="sleuth-bm25", n=n, build_s=build_s, peak_mb=peak, p50_ms=p50,
                         batch_qps=qps, recall_at_10=recall, corpus=corpus,
                         note="recall vs exhaustive scoring"))
    sleuth.scorer.prune = False  # the same index and kernel without MaxScore pruning
    p50, qps = measure_search(sleuth_search, queries, settings.batch, settings.latency_queries)
    rows.append(BenchRow(method="sleuth-bm25-noprune", n=n, build_s=build_s, peak_mb=peak,
                         p50_ms=p50, batch_qps=qps, corpus=corpus,
                         note="same index, every posting scored"))
    if n <= settings.bm25s_max:
        rows.append(_bench_bm25s(passages, queries, settings, params, corpus))
    if n <= settings.rank_bm25_max:
        rows.append(_bench_rank_bm25(passages, queries, settings, params, corpus))
    return rows


def _bench_bm25s(passages: list[Passage], queries: list[str], settings: BenchSettings,
                 params: BM25Params, corpus: str) -> BenchRow:
    import bm25s

    tokenizer = BM25Builder(params).tokenizer

    def build() -> Any:
        model = bm25s.BM25(k1=params.k1, b=params.b, method="lucene", backend="numba")
        model.index([tokenizer(passage_text(p)) for p in passages], show_progress=False)
        return model

    model, build_s, peak = measure_build(build)

    def search(qs: Queries, k: int) -> list[np.ndarray]:
        tokens = [tokenizer(q) or [""] for q in qs]
        docs, _ = model.retrieve(tokens, k=k, show_progress=False, n_threads=settings.threads)
        return list(docs)

    p50, qps = measure_search(search, queries, settings.batch, settings.latency_queries)
    return BenchRow(method="bm25s-numba", n=len(passages), build_s=build_s, peak_mb=peak,
                    p50_ms=p50, batch_qps=qps, corpus=corpus)


def _bench_rank_bm25(passages: list[Passage], queries: list[str], settings: BenchSettings,
                     params: BM25Params, corpus: str) -> BenchRow:
    from sleuth.retrieval.rank_bm25_backend import RankBM25Retriever

    model, build_s, peak = measure_build(lambda: RankBM25Retriever(passages, params))

    def search(qs: Queries, k: int) -> list[np.ndarray]:
        return [r for r, _ in model.search_rows(list(qs), k)]

    # rank-bm25 scores every document in Python: fewer timed queries keep the run short.
    p50, qps = measure_search(search, queries, settings.batch, min(20, settings.latency_queries))
    return BenchRow(method="rank-bm25", n=len(passages), build_s=build_s, peak_mb=peak,
                    p50_ms=p50, batch_qps=qps, corpus=corpus)


def search_variants(kind: str, settings: BenchSettings) -> list[FaissSpec]:
    """The search settings measured for one index type (one build each)."""
    if kind == "hnsw":
        return [FaissSpec(type="hnsw", ef_search=ef) for ef in settings.hnsw_ef]
    if kind == "ivf_flat":
        return [FaissSpec(type="ivf_flat", nprobe=p) for p in settings.nprobes]
    if kind == "ivf_pq":
        return [FaissSpec(type="ivf_pq", nprobe=p, refine=r)
                for p in settings.nprobes[-1:] for r in (0, FaissSpec().refine)]
    return [FaissSpec(type="flat")]


def variant_name(spec: FaissSpec) -> str:
    name = f"faiss-{spec.type.replace('_', '-')}"
    if spec.type == "hnsw":
        name += f"-ef{spec.ef_search}"
    if spec.type.startswith("ivf"):
        name += f"-np{spec.nprobe}"
    if spec.type == "ivf_pq" and spec.refine:
        name += f"-refine{spec.refine}"
    return name


def bench_faiss(vectors: np.ndarray, queries: np.ndarray, settings: BenchSettings,
                corpus: str = "synthetic") -> list[BenchRow]:
    """Flat (exact) and the ANN types on the same vectors; recall@10 against Flat."""
    from sleuth.retrieval.dense import DenseRetriever

    n, rows = len(vectors), []
    truth: list[np.ndarray] = []
    latency_queries = queries[: settings.latency_queries]
    for kind in settings.faiss_types:
        if kind == "hnsw" and n > settings.hnsw_max:
            continue
        variants = search_variants(kind, settings)
        index, build_s, peak = measure_build(partial(build_faiss, vectors, variants[0], progress=False))
        for spec in variants:
            dense = DenseRetriever(index, None, MemoryPassageStore([]), spec, vectors, metric="ip")

            def search(qs: Queries, k: int, dense: DenseRetriever = dense) -> list[np.ndarray]:
                return [r for r, _ in dense.search_vectors(np.asarray(qs), k)]

            p50, qps = measure_search(search, queries, settings.batch, settings.latency_queries)
            found = search(latency_queries, 10)
            if kind == "flat":
                truth = found
            rows.append(BenchRow(method=variant_name(spec), n=n, build_s=build_s, peak_mb=peak,
                                 p50_ms=p50, batch_qps=qps,
                                 recall_at_10=_recall(truth, found) if truth else None,
                                 corpus=corpus, note=factory_string(spec, n, vectors.shape[1])))
        del index
        gc.collect()
    return rows


def bench_stores(passages: list[Passage], directory: Path, settings: BenchSettings,
                 corpus: str = "synthetic") -> list[BenchRow]:
    """Offset-indexed JSONL against SQLite: build, lookups by id (p50, and 64 at a time)."""
    from sleuth.retrieval.sqlite_store import SQLitePassageStore, write_sqlite_store
    from sleuth.retrieval.store import OffsetPassageStore, PassageStoreWriter

    def build_offsets() -> OffsetPassageStore:
        sub = directory / "offsets"
        sub.mkdir(parents=True, exist_ok=True)
        writer = PassageStoreWriter(sub)
        for p in passages:
            writer.add(p)
        writer.close()
        return OffsetPassageStore(sub)

    def build_sqlite() -> SQLitePassageStore:
        write_sqlite_store(directory / "passages.sqlite", passages)
        return SQLitePassageStore(directory / "passages.sqlite")

    rng = np.random.default_rng(7)
    ids = [passages[int(i)].id for i in rng.integers(0, len(passages), 2000)]
    rows = []
    for name, build in (("store-offsets", build_offsets), ("store-sqlite", build_sqlite)):
        store, build_s, peak = measure_build(build)

        def lookup(qs: Queries, k: int, store: Any = store) -> list[np.ndarray]:
            for pid in qs:
                store.get(pid)
            return []

        p50, qps = measure_search(lookup, ids, settings.batch, 1000)
        size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
        rows.append(BenchRow(method=name, n=len(passages), build_s=build_s, peak_mb=peak,
                             p50_ms=p50, batch_qps=qps, corpus=corpus,
                             note=f"get(id); QPS = lookups/s; {size / 1e6:.0f} MB on disk"))
        store.close()
        for f in sorted(directory.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
    return rows


def run_synthetic(settings: BenchSettings, progress: Callable[[str], None] = logger.info) -> list[BenchRow]:
    rows: list[BenchRow] = []
    limit_threads(settings.threads)
    for n in settings.sizes:
        if settings.bm25:
            progress(f"BM25 on {n:,} synthetic passages")
            corpus = ZipfCorpus(n)
            passages = list(corpus.passages())
            rows += bench_bm25(passages, corpus.queries(max(settings.latency_queries, settings.batch)), settings)
            if settings.stores:
                with tempfile.TemporaryDirectory(prefix="sleuth-bench-") as tmp:
                    rows += bench_stores(passages, Path(tmp), settings)
            del passages
            gc.collect()
        if settings.dense:
            progress(f"FAISS on {n:,} synthetic {settings.dim}-d vectors")
            vectors = clustered_vectors(n, settings.dim)
            queries = perturbed_queries(vectors, max(settings.latency_queries, settings.batch))
            rows += bench_faiss(vectors, queries, settings)
            del vectors
            gc.collect()
    return rows


def run_sandbox(corpus_path: Path, questions: list[str], settings: BenchSettings,
                vectors: np.ndarray | None, query_vectors: np.ndarray | None) -> list[BenchRow]:
    """The real HotpotQA sandbox: BM25 on its text, FAISS on its MiniLM embeddings."""
    from sleuth.retrieval.corpus import load_corpus

    limit_threads(settings.threads)
    passages = load_corpus(corpus_path)
    rows = bench_bm25(passages, questions, settings, corpus="hotpotqa-sandbox")
    if vectors is not None and query_vectors is not None and settings.dense:
        rows += bench_faiss(np.ascontiguousarray(vectors), query_vectors, settings, corpus="hotpotqa-sandbox")
    return rows


def format_table(rows: list[BenchRow]) -> str:
    """Rows grouped by corpus and size, with QPS ratios against the reference of each group."""
    header = (
        f"{'corpus':18} {'n':>9} {'method':22} {'build_s':>8} {'peak_mb':>8} {'p50_ms':>8} "
        f"{'batch_qps':>10} {'ratio':>9} {'recall@10':>9}"
    )
    lines = [header]
    groups: dict[tuple[str, int], list[BenchRow]] = {}
    for row in rows:
        groups.setdefault((row.corpus, row.n), []).append(row)
    for group in groups.values():
        refs = {r.method: r.batch_qps for r in group}
        for row in group:
            family = "rank-bm25" if "bm25" in row.method else "faiss-flat"
            ref = refs.get(family) if "bm25" in row.method or row.method.startswith("faiss") else None
            ratio = f"{row.batch_qps / ref:8.1f}x" if ref else f"{'-':>9}"
            peak = f"{row.peak_mb:8.0f}" if row.peak_mb is not None else f"{'-':>8}"
            recall = f"{row.recall_at_10:9.3f}" if row.recall_at_10 is not None else f"{'-':>9}"
            lines.append(f"{row.corpus:18} {row.n:>9,} {row.method:22} {row.build_s:8.1f} {peak} "
                         f"{row.p50_ms:8.2f} {row.batch_qps:10.1f} {ratio} {recall}")
    return "\n".join(lines)


__all__ = ["BenchRow", "BenchSettings", "bench_bm25", "bench_faiss", "bench_stores", "format_table",
           "measure_build", "measure_search", "run_sandbox", "run_synthetic"]
