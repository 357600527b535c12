"""What following links adds to a search, on the HotpotQA sandbox's gold paragraphs.

Each question is searched once. Rows compare the top ``k`` hits alone with the top 5 hits
plus up to N pages that the question or those hits name (:mod:`sleuth.sandboxes.links`),
at about the same number of passages shown. ``all`` is the share of questions with every
gold paragraph shown, which a two-hop question needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from sleuth.retrieval.base import Retriever
from sleuth.retrieval.corpus import load_corpus
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.retrieval.quality import (
    all_found_at,
    load_questions,
    ranked_ids,
    recall_at,
    sandbox_corpus,
)
from sleuth.sandboxes.links import LinkedRetriever, store_links
from sleuth.types import StrictModel


class LinkRow(StrictModel):
    retriever: str
    search: str
    """``top k`` or ``top 5 + N links``."""
    passages: float
    """Mean passages shown per question."""
    recall: float
    all_found: float


def run_link_quality(data: Path, retrievers: dict[str, Retriever], links: Sequence[int] = (1, 2, 3),
                     k: int = 5, plain: Sequence[int] = (5, 7, 8)) -> list[LinkRow]:
    questions = load_questions(data)
    queries = [q.question for q in questions]
    gold = [q.gold for q in questions]
    linker, first_paragraph = store_links(MemoryPassageStore(load_corpus(sandbox_corpus(data))))
    rows: list[LinkRow] = []
    for name, base in retrievers.items():
        ranked = asyncio.run(ranked_ids(base, queries, max(plain)))
        for j in plain:
            rows.append(LinkRow(retriever=name, search=f"top {j}", passages=float(j),
                                recall=recall_at(ranked, gold, j), all_found=all_found_at(ranked, gold, j)))
        for n in links:
            linked = LinkedRetriever(base, linker, first_paragraph, n)
            shown = asyncio.run(ranked_ids(linked, queries, k))
            rows.append(LinkRow(retriever=name, search=f"top {k} + {n} link{'' if n == 1 else 's'}",
                                passages=sum(map(len, shown)) / len(shown),
                                recall=recall_at(shown, gold, k + n), all_found=all_found_at(shown, gold, k + n)))
    return rows


def format_link_markdown(rows: list[LinkRow]) -> str:
    lines = [
        "## Following links",
        "",
        ("The top 5 hits plus up to N pages that the question or the hits name by title "
         "(`--follow-links N` of `sleuth eval run`; see `sleuth.sandboxes.links`), against "
         "more plain hits. all: the share of questions with both gold paragraphs shown."),
        "",
        "| retriever | search | passages shown | recall | all |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [f"| {r.retriever} | {r.search} | {r.passages:.2f} | {r.recall:.3f} | {r.all_found:.3f} |" for r in rows]
    return "\n".join(lines) + "\n"


__all__ = ["LinkRow", "format_link_markdown", "run_link_quality"]
