"""Dense and hybrid index directories, encoder mismatches and resumable embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sleuth.errors import IndexMismatchError
from sleuth.retrieval.dense import DenseRetriever
from sleuth.retrieval.embeddings import encode_store
from sleuth.retrieval.encoder import EncoderSpec, bundled_minilm_dir
from sleuth.retrieval.faiss_index import FaissSpec, factory_string
from sleuth.retrieval.hybrid import HybridRetriever
from sleuth.retrieval.index import DenseBuild, build_index, load_index
from sleuth.retrieval.manifest import read_manifest
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.types import Passage


@pytest.fixture(scope="module")
def slice_corpus(hotpot_slice, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("corpus") / "slice.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(p.model_dump()) + "\n" for p in hotpot_slice.passages[:150])
    return path


@pytest.fixture(scope="module")
def hybrid_index(slice_corpus: Path, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("hybrid")
    settings = DenseBuild(embeddings_dir=root / "cache", faiss=FaissSpec(type="hnsw", hnsw_m=16))
    return build_index(slice_corpus, root / "index", "hybrid", dense=settings, progress=False)


def test_manifest_records_encoder_and_faiss(hybrid_index: Path) -> None:
    manifest = read_manifest(hybrid_index)
    assert manifest.kind == "hybrid" and manifest.bm25 is not None and manifest.fusion is not None
    dense = manifest.dense
    assert dense is not None
    assert (dense.encoder.name, dense.dim, dense.encoder.metric) == ("all-MiniLM-L6-v2", 384, "ip")
    assert (dense.faiss.type, dense.factory) == ("hnsw", "HNSW16,Flat")
    assert "dense/index.faiss" in manifest.files


async def test_hybrid_index_loads_and_searches(hybrid_index: Path, hotpot_slice) -> None:  # type: ignore[no-untyped-def]
    retriever = load_index(hybrid_index)
    assert isinstance(retriever, HybridRetriever) and isinstance(retriever.dense, DenseRetriever)
    first = hotpot_slice.passages[3]
    (hits,) = await retriever.search([first.text], k=3)
    assert hits[0].passage == first
    assert retriever.store.get(first.id) == first
    await retriever.aclose()


def test_another_encoder_is_refused_with_the_difference(hybrid_index: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexMismatchError) as info:
        load_index(hybrid_index, encoder="intfloat/e5-base-v2")
    message = str(info.value)
    assert "encoder.name: index has 'all-MiniLM-L6-v2', asked for 'intfloat/e5-base-v2'" in message
    assert "encoder.query_prefix: index has '', asked for 'query: '" in message
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "x", "text": "other"}) + "\n")
    with pytest.raises(IndexMismatchError, match="corpus: index was built from"):
        load_index(hybrid_index, corpus=other)
    load_index(hybrid_index, encoder="all-MiniLM-L6-v2")  # the same encoder is fine


def test_cached_embeddings_are_reused(hybrid_index: Path, slice_corpus: Path, tmp_path: Path) -> None:
    cache = hybrid_index.parent / "cache"
    (cached,) = cache.glob("*.npy")
    before = cached.stat().st_mtime_ns
    settings = DenseBuild(embeddings_dir=cache, faiss=FaissSpec(type="ivf_flat"))
    out = build_index(slice_corpus, tmp_path / "dense", "dense", dense=settings, progress=False)
    assert cached.stat().st_mtime_ns == before
    manifest = read_manifest(out)
    assert manifest.bm25 is None and manifest.dense is not None and manifest.dense.faiss.type == "ivf_flat"


class HashEncoder:
    """Deterministic toy encoder: enough to test the caching mechanism, not retrieval."""

    dim = 8

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.rows = 0
        self.fail_after = fail_after

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.rows += len(texts)
        return np.array([[hash((t, i)) % 1000 / 1000 for i in range(8)] for t in texts], dtype=np.float32)


def test_interrupted_encoding_resumes_where_it_stopped(tmp_path: Path) -> None:
    store = MemoryPassageStore(Passage(id=str(i), text=f"passage {i}") for i in range(103))
    path, key = tmp_path / "emb.npy", {"corpus_sha256": "abc", "encoder": "hash"}
    with pytest.raises(KeyboardInterrupt):
        encode_store(HashEncoder(fail_after=3), store, path, key, chunk=10, progress=False)
    assert not path.exists() and (tmp_path / "emb.progress.json").exists()
    resumed = HashEncoder()
    vectors = encode_store(resumed, store, path, key, chunk=10, progress=False)
    assert resumed.rows == 103 - 30
    fresh = encode_store(HashEncoder(), store, tmp_path / "fresh.npy", key, chunk=7, progress=False)
    np.testing.assert_array_equal(vectors, fresh)
    again = HashEncoder()
    encode_store(again, store, path, key, chunk=10, progress=False)
    assert again.calls == 0
    other = HashEncoder()
    encode_store(other, store, path, {**key, "corpus_sha256": "changed"}, chunk=50, progress=False)
    assert other.rows == 103


def test_encoder_specs_and_factory_strings() -> None:
    assert EncoderSpec.for_model("intfloat/e5-small-v2").passage_prefix == "passage: "
    assert EncoderSpec.for_model("BAAI/bge-base-en-v1.5").query_prefix.startswith("Represent")
    assert EncoderSpec.for_model("all-MiniLM-L6-v2").query_prefix == ""
    assert bundled_minilm_dir() is not None
    assert factory_string(FaissSpec(type="ivf_pq"), 1_000_000, 384) == "IVF4000,PQ48x8np"
    assert factory_string(FaissSpec(type="ivf_flat", nlist=7), 500, 384) == "IVF7,Flat"


def test_ivf_pq_refines_with_exact_vectors(minilm, slice_vectors, hotpot_slice) -> None:  # type: ignore[no-untyped-def]
    from sleuth.retrieval.faiss_index import build_faiss

    passages = hotpot_slice.passages
    exact = DenseRetriever(build_faiss(slice_vectors, FaissSpec(), progress=False), minilm,
                           MemoryPassageStore(passages), FaissSpec(), slice_vectors)
    spec = FaissSpec(type="ivf_pq", pq_m=32, nprobe=64, refine=10)
    pq = build_faiss(slice_vectors, spec, progress=False)
    refined = DenseRetriever(pq, minilm, MemoryPassageStore(passages), spec, slice_vectors)
    raw = DenseRetriever(pq, minilm, MemoryPassageStore(passages), spec.model_copy(update={"refine": 0}))
    queries = minilm.encode_queries(hotpot_slice.questions)
    truth = [set(r.tolist()) for r, _ in exact.search_vectors(queries, 10)]

    def recall(r: DenseRetriever) -> float:
        return float(np.mean([len(t & set(rows.tolist())) / 10 for t, (rows, _) in zip(truth, r.search_vectors(queries, 10))]))

    assert recall(refined) > recall(raw)
    assert recall(refined) >= 0.95
