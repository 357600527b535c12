"""Retrieval: corpora, BM25 and dense indices, hybrid fusion, the retrieval server."""

from __future__ import annotations

from sleuth.retrieval.base import PassageStore, Retriever, RowStore, StoredRetriever
from sleuth.retrieval.bm25 import BM25Params, BM25Retriever
from sleuth.retrieval.corpus import CorpusReader, iter_corpus, load_corpus
from sleuth.retrieval.index import build_index, load_index
from sleuth.retrieval.manifest import IndexManifest, read_manifest
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.retrieval.store import OffsetPassageStore
from sleuth.retrieval.tokenize import Tokenizer, TokenizerConfig

__all__ = [
    "BM25Params",
    "BM25Retriever",
    "CorpusReader",
    "IndexManifest",
    "MemoryPassageStore",
    "OffsetPassageStore",
    "PassageStore",
    "Retriever",
    "RowStore",
    "StoredRetriever",
    "Tokenizer",
    "TokenizerConfig",
    "build_index",
    "iter_corpus",
    "load_corpus",
    "load_index",
    "read_manifest",
]
