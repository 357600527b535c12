"""The retrieval benchmark's plumbing on a tiny corpus (speed targets live in the benchmark)."""

from __future__ import annotations

import json

import pytest

from sleuth.retrieval.bench import BenchSettings, format_table, run_synthetic
from sleuth.retrieval.synthetic import ZipfCorpus, clustered_vectors, make_vocabulary


def test_synthetic_corpus_is_reproducible_and_zipfian() -> None:
    a, b = list(ZipfCorpus(50).passages()), list(ZipfCorpus(50).passages())
    assert a == b and all(80 <= len(p.text.split()) <= 120 for p in a)
    words = " ".join(p.text for p in a).split()
    vocab = make_vocabulary(200_000)
    assert words.count(vocab[0]) > 10 * max(1, words.count(vocab[100]))
    queries = ZipfCorpus(50).queries(10)
    assert len(queries) == 10 and all(3 <= len(q.split()) <= 8 for q in queries)
    vectors = clustered_vectors(100, 16)
    assert vectors.shape == (100, 16)
    assert abs(float((vectors**2).sum(axis=1).mean()) - 1.0) < 1e-5


def test_rows_for_every_method_with_recall(capsys: pytest.CaptureFixture[str]) -> None:
    settings = BenchSettings(sizes=[1500], latency_queries=5, batch=8, nprobes=[4])
    rows = run_synthetic(settings, lambda _: None)
    methods = [r.method for r in rows]
    assert methods[:4] == ["sleuth-bm25", "sleuth-bm25-noprune", "bm25s-numba", "rank-bm25"]
    assert {"faiss-flat", "faiss-hnsw-ef64", "faiss-ivf-flat-np4", "faiss-ivf-pq-np4-refine4"} <= set(methods)
    by = {r.method: r for r in rows}
    assert by["sleuth-bm25"].recall_at_10 == 1.0  # pruning never changes the top 10
    assert by["faiss-flat"].recall_at_10 == 1.0
    assert all(r.batch_qps > 0 and r.p50_ms > 0 and r.n == 1500 for r in rows)
    table = format_table(rows)
    assert "rank-bm25" in table and "1.0x" in table


def test_cli_json_rows(capsys: pytest.CaptureFixture[str]) -> None:
    from sleuth.cli import main

    assert main(["bench", "retrieval", "--sizes", "800", "--only", "bm25", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["method"] for r in rows} == {
        "sleuth-bm25", "sleuth-bm25-noprune", "bm25s-numba", "rank-bm25", "store-offsets", "store-sqlite"
    }
    stores = {r["method"]: r for r in rows if r["method"].startswith("store-")}
    assert all(r["batch_qps"] > 0 for r in stores.values())
    assert set(rows[0]) >= {"method", "n", "build_s", "peak_mb", "p50_ms", "batch_qps", "recall_at_10"}
