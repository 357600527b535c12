"""Sandbox retrieval quality: recall@k arithmetic, and hybrid beating both parts (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleuth.retrieval.quality import format_markdown, recall_at, run_quality


def test_recall_at_k_counts_gold_found_in_the_top_k() -> None:
    results = [["a", "x", "b"], ["y", "z", "c"]]
    gold = [["a", "b"], ["c", "d"]]
    assert recall_at(results, gold, 1) == pytest.approx((0.5 + 0.0) / 2)
    assert recall_at(results, gold, 3) == pytest.approx((1.0 + 0.5) / 2)


@pytest.mark.slow
def test_hybrid_recall_at_10_is_at_least_the_better_part(shared_data: Path) -> None:
    """Encodes the 19k sandbox with MiniLM on first use (minutes; cached afterwards)."""
    table = run_quality(shared_data, progress=False)
    best_part = max(table["BM25"]["recall@10"], table["dense (MiniLM, exact)"]["recall@10"])
    assert table["hybrid RRF (k=60)"]["recall@10"] >= best_part
    assert "| BM25 |" in format_markdown(table)
