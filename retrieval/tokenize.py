"""Configurable word tokenisation for sparse retrieval: lowercasing, stopwords, stemming.

The same :class:`TokenizerConfig` is stored in an index's manifest, so queries are always
tokenised the way the passages were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from sleuth.errors import ConfigError, MissingExtraError
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


def _stemmer(language: str) -> Callable[[list[str]], list[str]]:
    try:
        import Stemmer
    except ImportError as exc:
        raise MissingExtraError(
            "Stemming needs PyStemmer, a Sleuth dependency that is not installed",
            hint="pip install PyStemmer, or set the tokenizer's stemmer to None",
            module="Stemmer",
        ) from exc
    try:
        stem: Callable[[list[str]], list[str]] = Stemmer.Stemmer(language).stemWords
    except KeyError as exc:
        raise ConfigError(
            f"Unknown stemmer language {language!r}",
            hint=f"one of: {', '.join(Stemmer.algorithms())}",
        ) from exc
    return stem


class Tokenizer:
    """Turns text into a list of terms according to a :class:`TokenizerConfig`."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        self._regex = re.compile(self.config.pattern)
        self._stopwords = _stopword_set(self.config.stopwords)
        self._stem: Callable[[list[str]], list[str]] | None = None
        if self.config.stemmer:
            self._stem = _stemmer(self.config.stemmer)

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
