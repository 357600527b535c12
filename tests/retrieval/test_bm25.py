"""Sleuth's BM25 against a brute-force scorer written straight from the formula."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from sleuth.retrieval.bm25 import BM25Params, BM25Retriever, passage_text
from sleuth.retrieval.tokenize import Tokenizer, TokenizerConfig
from sleuth.types import Passage

WORDS = [f"w{i}" for i in range(40)]


def brute_force_bm25(docs: list[list[str]], query: list[str], k1: float, b: float) -> list[float]:
    """Lucene-variant BM25 (bm25s' 'lucene' method), one document at a time."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    df = Counter(t for d in docs for t in set(d))
    scores = []
    for doc in docs:
        tf = Counter(doc)
        score = 0.0
        for term in query:
            if tf[term] == 0:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            score += idf * tf[term] / (tf[term] + k1 * (1 - b + b * len(doc) / avgdl))
        scores.append(score)
    return scores


def random_corpus(n: int, seed: int) -> list[Passage]:
    rng = random.Random(seed)
    # Zipf-ish: low word numbers are common, so postings have very different lengths.
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    return [
        Passage(id=f"d{i}", title="", text=" ".join(rng.choices(WORDS, weights, k=rng.randint(1, 23))))
        for i in range(n)
    ]


PLAIN = BM25Params(tokenizer=TokenizerConfig(stopwords="none", stemmer=None))


@pytest.mark.parametrize("use_numba", [True, False], ids=["numba", "numpy"])
@pytest.mark.parametrize(("n", "k"), [(1, 1), (7, 3), (37, 5), (101, 10), (101, 200)])
def test_topk_matches_brute_force(n: int, k: int, use_numba: bool) -> None:
    corpus = random_corpus(n, seed=n)
    retriever = BM25Retriever.from_passages(corpus, PLAIN, use_numba=use_numba)
    assert retriever.scorer.backend == ("numba" if use_numba else "numpy")
    docs = [t.split() for t in (p.text for p in corpus)]
    rng = random.Random(k)
    queries = [rng.choices(WORDS, k=rng.randint(1, 6)) for _ in range(25)] + [["w0", "w0", "w39"]]
    results = retriever.search_sync([" ".join(q) for q in queries], k)
    for query, hits in zip(queries, results):
        expected = np.asarray(brute_force_bm25(docs, query, PLAIN.k1, PLAIN.b))
        matching = np.flatnonzero(expected > 0)
        # best first, ties towards the lower row
        order = sorted(matching, key=lambda i: (-expected[i], i))[:k]
        assert [h.passage.id for h in hits] == [f"d{i}" for i in order]
        np.testing.assert_allclose([h.score for h in hits], expected[order], rtol=1e-5)
        assert [h.rank for h in hits] == list(range(len(hits)))


def test_unknown_words_and_empty_queries_return_no_hits() -> None:
    retriever = BM25Retriever.from_passages(random_corpus(10, 1), PLAIN)
    assert retriever.search_sync(["nothing matches", "", "the"], 5) == [[], [], []]


def test_title_is_indexed_with_the_text() -> None:
    passages = [Passage(id="1", title="Zanzibar", text="an island"), Passage(id="2", text="island")]
    retriever = BM25Retriever.from_passages(passages)
    assert [h.passage.id for h in retriever.search_sync(["zanzibar"], 5)[0]] == ["1"]
    assert passage_text(passages[0]) == "Zanzibar\nan island"


def test_default_tokenizer_stems_and_drops_stopwords() -> None:
    tokenizer = Tokenizer()
    assert tokenizer("The Running of the Cities, and a 1939 film!") == ["run", "citi", "1939", "film"]
    assert Tokenizer(TokenizerConfig(stemmer=None, stopwords="none"))("The Cats") == ["the", "cats"]


async def test_search_runs_off_the_event_loop() -> None:
    import asyncio
    import threading

    retriever = BM25Retriever.from_passages(random_corpus(50, 3), PLAIN)
    seen: list[str] = []
    original = retriever.search_sync

    def spy(queries: list[str], k: int = 5):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return original(queries, k)

    retriever.search_sync = spy  # type: ignore[method-assign]
    hits = await asyncio.gather(retriever.search(["w0 w1"], 3), retriever.search(["w2"], 2))
    assert [len(h[0]) for h in hits] == [3, 2]
    assert threading.main_thread().name not in seen


@pytest.mark.parametrize("k", [1, 10, 50])
def test_pruned_kernel_equals_exhaustive_scoring_on_zipf_text(k: int) -> None:
    """On Zipf text MaxScore pruning kicks in (common words have tiny idf); results must not move."""
    from sleuth.retrieval.synthetic import ZipfCorpus

    corpus = ZipfCorpus(3001, vocab_size=5000, mean_words=40, seed=7)
    passages = list(corpus.passages())
    fast = BM25Retriever.from_passages(passages, PLAIN, use_numba=True)
    slow = BM25Retriever(fast.arrays, fast.store, PLAIN, use_numba=False)
    queries = corpus.queries(150, seed=k)
    for (rows_a, scores_a), (rows_b, scores_b) in zip(fast.search_rows(queries, k), slow.search_rows(queries, k)):
        np.testing.assert_allclose(scores_a, scores_b, rtol=1e-5)
        # equal scores may be summed in another order; compare rows where scores are distinct
        distinct = np.append(np.diff(scores_b) != 0, True) & np.insert(np.diff(scores_b) != 0, 0, True)
        assert (rows_a[distinct] == rows_b[distinct]).all()
