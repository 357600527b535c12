"""Configurable word tokenisation for sparse retrieval: lowercasing, stopwords, stemming.

The same :class:`TokenizerConfig` is stored in an index's manifest, so queries are always
tokenised the way the passages were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from sleuth._optional import require
from sleuth.types import StrictModel

# bm25s' (and scikit-learn's) default: words of two or more word characters.
DEFAULT_PATTERN = r"(?u)\b\w\w+\b"


class TokenizerConfig(StrictModel):
    """How text becomes terms."""

    lowercase: bool = True
    """Fold case before matching."""
    stopwords: Literal["en", "none"] = "en"
    """Drop English stopwords (bm25s' list) or keep every word."""
    stemmer: str | None = Field(default="english")
    """Snowball stemmer language for PyStemmer (``english``, ``german``...), or None."""
    pattern: str = DEFAULT_PATTERN
    """Regular expression whose matches are the tokens."""


def _stopword_set(which: str) -> frozenset[str]:
    if which == "none":
        return frozenset()
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


class Tokenizer:
    """Turns text into a list of terms according to a :class:`TokenizerConfig`."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        self._regex = re.compile(self.config.pattern)
        self._stopwords = _stopword_set(self.config.stopwords)
        self._stem: Callable[[list[str]], list[str]] | None = None
        if self.config.stemmer:
            stemmer_module = require("Stemmer", "dense", purpose="stemming (pip install PyStemmer)")
            self._stem = stemmer_module.Stemmer(self.config.stemmer).stemWords

    def __call__(self, text: str) -> list[str]:
        if self.config.lowercase:
            text = text.lower()
        words = self._regex.findall(text)
        if self._stopwords:
            words = [w for w in words if w not in self._stopwords]
        if self._stem is not None and words:
            words = self._stem(words)
        return words

    def many(self, texts: list[str]) -> list[list[str]]:
        """Tokenise a batch."""
        return [self(t) for t in texts]


__all__ = ["DEFAULT_PATTERN", "Tokenizer", "TokenizerConfig"]
