"""Top-k BM25 scoring over a term-major CSC matrix of precomputed term weights.

``indptr[t]:indptr[t + 1]`` delimits the postings of term ``t``: ``indices`` are document
rows (ascending) and ``data`` the precomputed BM25 weight of the term in that document, so
a query's score for a document is the sum of the weights of its terms.

Two implementations return the same results:

* a numba kernel (when numba is installed) that accumulates into a reusable dense buffer,
  remembers which documents it touched, selects the top k with a bounded heap over those
  only and resets only them, so a query costs O(postings) and not O(corpus). It prunes
  MaxScore-style: once no untouched document can reach the top k, the remaining (common,
  low-idf) terms are looked up only for the surviving candidates;
* a numpy fallback (``np.bincount`` + ``argpartition``), O(corpus) per query.

Ties are broken towards the lower row, so results are deterministic.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
TopK = tuple[IntArray, FloatArray]


def numpy_topk(
    data: FloatArray, indices: Any, indptr: Any, terms: IntArray, num_docs: int, k: int
) -> TopK:
    """Reference path: dense accumulation, then partial sort."""
    if terms.size == 0 or num_docs == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    parts = [(int(indptr[t]), int(indptr[t + 1])) for t in terms]
    rows = np.concatenate([indices[a:b] for a, b in parts])
    weights = np.concatenate([data[a:b] for a, b in parts]).astype(np.float64)
    scores = np.bincount(rows, weights=weights, minlength=num_docs).astype(np.float32)
    touched = np.flatnonzero(scores > 0)
    if touched.size > k:
        # order by (-score, row); argpartition on score alone could split a tie wrongly.
        cut = np.partition(scores[touched], touched.size - k)[touched.size - k]
        touched = touched[scores[touched] >= cut]
    order = np.lexsort((touched, -scores[touched]))[:k]
    best = touched[order].astype(np.int64)
    return best, scores[best]


_numba_kernel: Callable[..., Any] | None = None
_numba_checked = False
_numba_lock = threading.Lock()


def _compile_numba() -> Callable[..., Any] | None:
    if importlib.util.find_spec("numba") is None:
        logger.info("numba is not installed; BM25 uses the slower numpy scorer (pip install numba)")
        return None
    from sleuth.retrieval import bm25_numba

    kernel: Callable[..., Any] = bm25_numba.maxscore_kernel
    return kernel


def numba_kernel() -> Callable[..., Any] | None:
    """The compiled numba kernel, or None when numba is missing."""
    global _numba_kernel, _numba_checked
    with _numba_lock:
        if not _numba_checked:
            _numba_kernel = _compile_numba()
            _numba_checked = True
    return _numba_kernel


class TopKScorer:
    """Scores queries (arrays of term ids) against one CSC matrix; thread-safe."""

    def __init__(
        self, data: FloatArray, indices: Any, indptr: Any, maxw: FloatArray, num_docs: int,
        use_numba: bool = True, prune: bool = True,
    ) -> None:
        self.data, self.indices, self.indptr, self.num_docs = data, indices, indptr, num_docs
        self.maxw = maxw
        self.prune = prune
        """MaxScore pruning (exact); False scores every posting, for comparison."""
        self._kernel = numba_kernel() if use_numba else None
        self._local = threading.local()

    @property
    def backend(self) -> str:
        return "numba" if self._kernel is not None else "numpy"

    def topk(self, terms: IntArray, k: int) -> TopK:
        k = min(k, self.num_docs)
        if k <= 0 or terms.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if self._kernel is None:
            return numpy_topk(self.data, self.indices, self.indptr, terms, self.num_docs, k)
        acc, touched = self._buffers()
        if not self.prune:
            from sleuth.retrieval.bm25_numba import topk_kernel

            rows, scores = topk_kernel(self.data, self.indices, self.indptr, terms, k, acc, touched)
            return rows, scores
        ordered = terms[np.argsort(-self.maxw[terms], kind="stable")]
        rows, scores = self._kernel(
            self.data, self.indices, self.indptr, self.maxw, ordered, k, acc, touched
        )
        return rows, scores

    def _buffers(self) -> tuple[FloatArray, npt.NDArray[np.int32]]:
        # one scratch pair per thread: the kernel leaves acc zeroed after each call.
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = (np.zeros(self.num_docs, np.float32), np.zeros(self.num_docs, np.int32))
            self._local.buffers = buffers
        return buffers


__all__ = ["TopKScorer", "numba_kernel", "numpy_topk"]
