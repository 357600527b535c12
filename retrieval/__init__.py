"""Retrieval: corpora, BM25 and dense indices, hybrid fusion, the retrieval server.

Importing this package loads no optional dependency: FAISS, sentence-transformers,
rank-bm25, FastAPI and uvicorn are imported when a backend that needs them is built.
"""

from __future__ import annotations

from sleuth.retrieval.base import PassageStore, Retriever, RowStore, StoredRetriever
from sleuth.retrieval.bm25 import BM25Params, BM25Retriever
from sleuth.retrieval.corpus import CorpusReader, iter_corpus, load_corpus
from sleuth.retrieval.dense import DenseRetriever
from sleuth.retrieval.encoder import EncoderSpec, SentenceEncoder
from sleuth.retrieval.faiss_index import FaissSpec
from sleuth.retrieval.hybrid import (
    CrossEncoderReranker,
    FusionSpec,
    HybridRetriever,
    Reranker,
    rrf_fuse,
    weighted_fuse,
)
from sleuth.retrieval.index import DenseBuild, build_index, load_index
from sleuth.retrieval.manifest import IndexManifest, read_manifest
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.retrieval.rank_bm25_backend import RankBM25Retriever
from sleuth.retrieval.remote import RemoteRetriever
from sleuth.retrieval.server import BackgroundServer, ServerLimits, create_app
from sleuth.retrieval.store import OffsetPassageStore
from sleuth.retrieval.tokenize import Tokenizer, TokenizerConfig

__all__ = [
    "BM25Params",
    "BM25Retriever",
    "BackgroundServer",
    "CorpusReader",
    "CrossEncoderReranker",
    "DenseBuild",
    "DenseRetriever",
    "EncoderSpec",
    "FaissSpec",
    "FusionSpec",
    "HybridRetriever",
    "IndexManifest",
    "MemoryPassageStore",
    "OffsetPassageStore",
    "PassageStore",
    "RankBM25Retriever",
    "RemoteRetriever",
    "Reranker",
    "Retriever",
    "RowStore",
    "SentenceEncoder",
    "ServerLimits",
    "StoredRetriever",
    "Tokenizer",
    "TokenizerConfig",
    "build_index",
    "create_app",
    "iter_corpus",
    "load_corpus",
    "load_index",
    "read_manifest",
    "rrf_fuse",
    "weighted_fuse",
]
