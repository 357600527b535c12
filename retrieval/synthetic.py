"""Synthetic corpora and queries for benchmarks: Zipf-distributed words, fixed seed.

Word ``r`` (0-based rank) is drawn with probability proportional to ``1 / (r + 1) ** s``,
which is how word frequencies in English text fall off (s close to 1). Passages are about
100 words long. Queries are 3-8 words picked from a random passage, so every query has
matching documents and mixes very common with rare words, as real queries do.
"""

from __future__ import annotations

import string
from collections.abc import Iterator

import numpy as np

from sleuth.types import Passage

_LETTERS = np.array(list(string.ascii_lowercase))


def make_vocabulary(size: int) -> list[str]:
    """``size`` distinct pseudo-words of two or more letters that no stemmer folds together."""
    words = []
    for rank in range(size):
        digits = []
        value = rank + 26  # at least two letters
        while value:
            value, rem = divmod(value, 26)
            digits.append(string.ascii_lowercase[rem])
        words.append("q" + "".join(reversed(digits)) + "x")
    return words


class ZipfCorpus:
    """A reproducible synthetic corpus of ``n`` passages."""

    def __init__(self, n: int, *, vocab_size: int = 200_000, exponent: float = 1.07,
                 mean_words: int = 100, seed: int = 1234) -> None:
        self.n = n
        self.vocab = make_vocabulary(vocab_size)
        ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
        weights = ranks ** -exponent
        self._cdf = np.cumsum(weights / weights.sum())
        self.mean_words = mean_words
        self.seed = seed

    def _words(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return np.searchsorted(self._cdf, rng.random(count)).clip(max=len(self.vocab) - 1)

    def passages(self) -> Iterator[Passage]:
        rng = np.random.default_rng(self.seed)
        vocab = self.vocab
        for i in range(self.n):
            count = int(rng.integers(self.mean_words - 20, self.mean_words + 21))
            ids = self._words(rng, count)
            yield Passage(id=f"z{i}", title="", text=" ".join(vocab[j] for j in ids))

    def queries(self, count: int, seed: int = 99) -> list[str]:
        """Queries of 3-8 words taken from random passages of this corpus."""
        rng = np.random.default_rng(seed)
        texts: list[str] = []
        picks = sorted(int(x) for x in rng.choice(self.n, size=min(count, self.n), replace=False))
        wanted = set(picks)
        for i, passage in enumerate(self.passages()):
            if i in wanted:
                words = passage.text.split()
                size = int(rng.integers(3, 9))
                chosen = rng.choice(len(words), size=min(size, len(words)), replace=False)
                texts.append(" ".join(words[j] for j in sorted(chosen)))
            if i >= picks[-1]:
                break
        order = rng.permutation(len(texts))
        return [texts[j] for j in order]





def clustered_vectors(n: int, dim: int = 384, *, latent_dim: int = 48, clusters: int = 5000,
                      seed: int = 1234) -> np.ndarray:
    """Unit vectors with the low intrinsic dimension of real sentence embeddings.

    A Gaussian mixture in a ``latent_dim`` space, projected to ``dim`` dimensions, plus a
    little isotropic noise. Uniform random vectors would be a misleading ANN benchmark:
    in 384 dimensions all their distances are nearly equal.
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, latent_dim)).astype(np.float32) * 2.0
    projection = rng.standard_normal((latent_dim, dim)).astype(np.float32) / np.sqrt(latent_dim)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        latent = centers[rng.integers(0, clusters, m)] + rng.standard_normal((m, latent_dim)).astype(np.float32)
        block = latent @ projection + 0.05 * rng.standard_normal((m, dim)).astype(np.float32)
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def perturbed_queries(vectors: np.ndarray, count: int, *, noise: float = 0.3,
                      seed: int = 99) -> np.ndarray:
    """Queries near (not on) random corpus vectors."""
    rng = np.random.default_rng(seed)
    base = vectors[rng.choice(len(vectors), size=count, replace=False)]
    scale = noise / np.sqrt(vectors.shape[1])
    q = base + scale * rng.standard_normal(base.shape).astype(np.float32)
    normed: np.ndarray = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    return normed
__all__ = ["ZipfCorpus", "clustered_vectors", "make_vocabulary", "perturbed_queries"]
