"""Retrieval: corpora, BM25 and dense indices, hybrid fusion, the retrieval server."""

from __future__ import annotations

from sleuth.retrieval.base import PassageStore, Retriever

__all__ = ["PassageStore", "Retriever"]
