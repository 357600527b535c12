"""The numba BM25 top-k kernel. Imported only when numba is installed (see bm25_kernels)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _worse(score_a: float, row_a: int, score_b: float, row_b: int) -> bool:
    """Is hit a ranked below hit b? Higher score first, then lower row."""
    return score_a < score_b or (score_a == score_b and row_a > row_b)


@njit(nogil=True, cache=True)
def _sift_down(hs: Any, hr: Any, i: int, size: int) -> None:
    # min-heap on rank order: the root is the worst hit kept so far.
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and _worse(hs[right], hr[right], hs[left], hr[left]):
            child = right
        if _worse(hs[child], hr[child], hs[i], hr[i]):
            hs[i], hs[child] = hs[child], hs[i]
            hr[i], hr[child] = hr[child], hr[i]
            i = child
        else:
            return


@njit(nogil=True, cache=True)
def _select(acc: Any, touched: Any, n: int, k: int) -> Any:
    size = min(k, n)
    hs = np.empty(size, np.float32)
    hr = np.empty(size, np.int64)
    for i in range(size):
        hs[i] = acc[touched[i]]
        hr[i] = touched[i]
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(hs, hr, i, size)
    for i in range(size, n):
        row = touched[i]
        s = acc[row]
        if _worse(hs[0], hr[0], s, row):
            hs[0] = s
            hr[0] = row
            _sift_down(hs, hr, 0, size)
    # pop the heap from worst to best, filling the output from the back.
    out_s = np.empty(size, np.float32)
    out_r = np.empty(size, np.int64)
    for pos in range(size - 1, -1, -1):
        out_s[pos] = hs[0]
        out_r[pos] = hr[0]
        last = pos
        hs[0] = hs[last]
        hr[0] = hr[last]
        _sift_down(hs, hr, 0, last)
    return out_r, out_s


@njit(nogil=True, cache=True)
def _kth_score(acc: Any, rows: Any, n: int, k: int) -> Any:
    """The k-th highest ``acc[rows[:n]]`` (n >= k), by a size-k min-heap of scores."""
    heap = np.empty(k, np.float32)
    for i in range(k):
        heap[i] = acc[rows[i]]
    heap.sort()  # a sorted array is a valid min-heap
    for i in range(k, n):
        s = acc[rows[i]]
        if s > heap[0]:
            heap[0] = s
            j = 0
            while True:
                child = 2 * j + 1
                if child >= k:
                    break
                if child + 1 < k and heap[child + 1] < heap[child]:
                    child += 1
                if heap[child] < heap[j]:
                    heap[j], heap[child] = heap[child], heap[j]
                    j = child
                else:
                    break
    return heap[0]


@njit(nogil=True, cache=True)
def _lookup(indices: Any, lo: int, hi: int, row: int) -> int:
    """Position of ``row`` in the sorted postings ``indices[lo:hi]``, or -1."""
    end = hi
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < row:
            lo = mid + 1
        else:
            hi = mid
    if lo < end and indices[lo] == row:
        return lo
    return -1


@njit(nogil=True, cache=True)
def _accumulate(data: Any, indices: Any, indptr: Any, t: int, acc: Any, touched: Any,
                n: int) -> int:
    for j in range(indptr[t], indptr[t + 1]):
        row = indices[j]
        if acc[row] == 0.0:
            touched[n] = row
            n += 1
        acc[row] += data[j]
    return n


# Threshold estimates look at no more than this many touched documents: the k-th best of a
# subset is a lower bound of the true k-th best, which keeps pruning exact and bounds the
# cost of each estimate.
THETA_SAMPLE = 32768


@njit(nogil=True, cache=True)
def _update_only(data: Any, indices: Any, lo: int, hi: int, acc: Any, cand: Any, c: int) -> None:
    """Add a term's weights to the candidates only: binary search or a filtered scan."""
    if c * 16 < hi - lo:
        for j in range(c):
            pos = _lookup(indices, lo, hi, cand[j])
            if pos >= 0:
                acc[cand[j]] += data[pos]
    else:
        # touched non-candidates may be updated too: harmless, they are never selected.
        for j in range(lo, hi):
            row = indices[j]
            if acc[row] != 0.0:
                acc[row] += data[j]


@njit(nogil=True, cache=True)
def maxscore_kernel(data: Any, indices: Any, indptr: Any, maxw: Any, terms: Any, k: int,
                    acc: Any, touched: Any) -> Any:
    """Exact top-k with MaxScore-style pruning.

    ``terms`` must be ordered by decreasing ``maxw`` (highest possible contribution first).
    Terms are accumulated in full until a lower bound ``theta`` of the k-th best score
    exceeds the most the remaining terms could add (``rest``); from then on no untouched
    document can reach the top k, so the remaining, usually very common, terms only update
    the candidates that still can, and their long posting lists are rarely scanned.
    """
    m = len(terms)
    rest = np.zeros(m + 1, np.float32)
    for i in range(m - 1, -1, -1):
        rest[i] = rest[i + 1] + maxw[terms[i]]
    n = 0
    i = 0
    theta: Any = np.float32(0.0)
    while i < m:
        if n >= k and i > 0:
            theta = _kth_score(acc, touched, min(n, THETA_SAMPLE), k)
            if theta > rest[i]:
                break
        n = _accumulate(data, indices, indptr, terms[i], acc, touched, n)
        i += 1
    if i == m:
        rows, scores = _select(acc, touched, n, k)
    else:
        cand = np.empty(n, np.int64)
        c = 0
        for j in range(n):
            if acc[touched[j]] + rest[i] >= theta:
                cand[c] = touched[j]
                c += 1
        for ii in range(i, m):
            _update_only(data, indices, indptr[terms[ii]], indptr[terms[ii] + 1], acc, cand, c)
            # theta only grows and rest only shrinks: drop candidates that fell behind.
            if c > k:
                theta = max(theta, _kth_score(acc, cand, min(c, THETA_SAMPLE), k))
                kept = 0
                for j in range(c):
                    if acc[cand[j]] + rest[ii + 1] >= theta:
                        cand[kept] = cand[j]
                        kept += 1
                c = kept
        rows, scores = _select(acc, cand, c, k)
    for j in range(n):
        acc[touched[j]] = 0.0
    return rows, scores


@njit(nogil=True, cache=True)
def topk_kernel(data: Any, indices: Any, indptr: Any, terms: Any, k: int, acc: Any,
                touched: Any) -> Any:
    """Accumulate the postings of ``terms`` into ``acc``, select the top ``k``, reset ``acc``."""
    n = 0
    for t in terms:
        for j in range(indptr[t], indptr[t + 1]):
            row = indices[j]
            if acc[row] == 0.0:
                touched[n] = row
                n += 1
            acc[row] += data[j]
    rows, scores = _select(acc, touched, n, k)
    for i in range(n):
        acc[touched[i]] = 0.0
    return rows, scores
