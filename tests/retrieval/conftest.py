"""Retrieval fixtures: a HotpotQA slice, the real MiniLM encoder, loaded once per session."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sleuth.retrieval.corpus import CorpusReader
from sleuth.types import Passage


@dataclass
class HotpotSlice:
    """Questions with their gold paragraphs and HotpotQA distractors: a small, real corpus."""

    passages: list[Passage]
    questions: list[str]
    gold: list[set[str]]


def read_slice(corpus: Path, questions: Path, n_questions: int) -> HotpotSlice:
    with gzip.open(questions, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line, _ in zip(fh, range(n_questions))]
    wanted_ids = {pid for r in rows for pid in r["gold_paragraph_ids"]}
    wanted_titles = {t for r in rows for t in r["context_titles"]}
    passages = [p for p in CorpusReader(corpus) if p.id in wanted_ids or p.title in wanted_titles]
    return HotpotSlice(passages, [r["question"] for r in rows], [set(r["gold_paragraph_ids"]) for r in rows])


@pytest.fixture(scope="session")
def hotpot_slice(hotpot_corpus: Path, hotpot_questions: Path) -> HotpotSlice:
    return read_slice(hotpot_corpus, hotpot_questions, 40)


@pytest.fixture(scope="session")
def minilm():  # type: ignore[no-untyped-def]
    from sleuth.retrieval.encoder import SentenceEncoder

    return SentenceEncoder()


@pytest.fixture(scope="session")
def slice_vectors(minilm, hotpot_slice: HotpotSlice) -> np.ndarray:  # type: ignore[no-untyped-def]
    from sleuth.retrieval.bm25 import passage_text

    return minilm.encode_passages([passage_text(p) for p in hotpot_slice.passages])
