"""rank-bm25 as a second BM25 backend: slow, but the reference many users know.

It scores every document in Python for every query term, so keep it to small corpora
(``sleuth bench retrieval`` runs it up to 100k passages). Tokenisation is Sleuth's, so
the two backends see the same terms; scores differ because rank-bm25's ``BM25Okapi``
uses the Robertson idf with an epsilon floor instead of Lucene's.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sleuth._optional import require
from sleuth.retrieval.base import RowScoringRetriever
from sleuth.retrieval.bm25 import BM25Params, passage_text
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.retrieval.tokenize import Tokenizer
from sleuth.types import Passage


class RankBM25Retriever(RowScoringRetriever):
    """BM25 through ``rank_bm25.BM25Okapi``; holds the corpus in memory."""

    name = "rank-bm25"

    def __init__(self, passages: Iterable[Passage], params: BM25Params | None = None) -> None:
        rank_bm25 = require("rank_bm25", "bench", purpose="the rank-bm25 backend")
        self.params = params or BM25Params()
        self.tokenizer = Tokenizer(self.params.tokenizer)
        self.store = MemoryPassageStore(passages)
        corpus = [self.tokenizer(passage_text(self.store.by_row(i))) for i in range(len(self.store))]
        # rank-bm25 divides by the corpus size and average length: an empty corpus cannot work.
        self.model = rank_bm25.BM25Okapi(corpus or [[""]], k1=self.params.k1, b=self.params.b)

    def search_rows(self, queries: list[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(rows, scores) per query, best first; documents sharing no term are left out."""
        out = []
        for query in queries:
            scores = np.asarray(self.model.get_scores(self.tokenizer(query)), dtype=np.float64)
            scores = scores[: len(self.store)]
            hits = np.flatnonzero(scores > 0)
            order = hits[np.lexsort((hits, -scores[hits]))][:k]
            out.append((order, scores[order]))
        return out

    async def aclose(self) -> None:
        """Nothing to release."""


__all__ = ["RankBM25Retriever"]
