"""EvidenceLoop's coverage check on the real HotpotQA sandbox, without a model: it flags
questions whose gold evidence is masked far more often than answerable ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleuth.evals.coverage_quality import (
    format_coverage_markdown,
    run_answer_checks,
    run_coverage_quality,
)
from sleuth.retrieval.bm25 import BM25Retriever
from sleuth.retrieval.corpus import load_corpus
from sleuth.retrieval.quality import sandbox_corpus


@pytest.fixture(scope="module")
def bm25(shared_data: Path) -> BM25Retriever:
    return BM25Retriever.from_passages(load_corpus(sandbox_corpus(shared_data)))


def test_the_check_separates_masked_from_present_evidence(shared_data: Path, bm25: BM25Retriever) -> None:
    rows = run_coverage_quality(shared_data, {"BM25": bm25}, rounds=2, limit=300)
    flagged = {(r.evidence, r.name_searches): r.flagged for r in rows}
    assert len(rows) == 6 and all(r.questions == 300 for r in rows)
    # a search for the missing name finds the page when it exists, and not when it is masked
    assert flagged["present", 1] < 0.6 * flagged["present", 0]
    assert flagged["present", 2] < 0.12
    assert flagged["masked", 2] > 0.4 and flagged["masked", 2] > 4 * flagged["present", 2]
    assert flagged["masked", 2] <= flagged["masked", 1] <= flagged["masked", 0]
    assert "| BM25 | 2 |" in format_coverage_markdown(rows)


def test_the_checks_on_a_draft_rarely_refuse_a_right_answer(shared_data: Path, bm25: BM25Retriever) -> None:
    rows = run_answer_checks(shared_data, bm25, limit=300)
    checks = {(c.check, c.evidence): c for c in rows}
    assert set(checks) == {("echo", "present"), ("connect", "present"), ("hybrid judge", "present"),
                           ("hybrid judge", "masked")}
    assert checks["echo", "present"].questions == 300
    assert checks["echo", "present"].failed < 0.03  # few right answers are the question's only name
    assert 0 < checks["connect", "present"].failed < 0.15  # nearness costs more: why it is opt-in
    # hybrid verification asks the judge about far fewer answers with the evidence read than without
    present, masked = checks["hybrid judge", "present"].failed, checks["hybrid judge", "masked"].failed
    assert 0 < present < 0.6 and masked > 0.8 and masked > 1.5 * present
    assert "| BM25 | connect | present |" in format_coverage_markdown([], rows)
