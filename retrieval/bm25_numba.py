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
