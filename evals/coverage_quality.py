"""How well EvidenceLoop's coverage check tells masked evidence from present evidence,
without a model.

Each sandbox question is searched for once (top ``k``, the loop's default 4), with its gold
paragraphs visible or hidden. Then, as the loop's plan step does, up to R searches look for
a name the question uses that no passage found so far mentions; of the pages such a search
finds, the loop keeps those about the name (:func:`sleuth.agents.coverage.names_page`), and
they count only by their title (:func:`sleuth.agents.coverage.uncovered_names`). A row gives the
share of questions still flagged, with a name no passage covers, after R name searches. A
good check flags few questions with their evidence present and most with it masked.

:func:`run_answer_checks` measures what the checks on a draft cost a right answer: with the
gold paragraphs and the question's top ``k`` other passages read and the gold answer as the
draft, how often
the echo check (:func:`sleuth.agents.coverage.echoes_question`) and the opt-in nearness check
(:func:`sleuth.agents.coverage.unconnected_names`) would fail it. It also counts how often
``verify="hybrid"`` would ask the judge (:func:`sleuth.agents.coverage.unpaged_names`: a name
the question uses is no page read), with the gold paragraphs read and with them masked.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sleuth.agents.coverage import (
    echoes_question,
    names_page,
    unconnected_names,
    uncovered_names,
    unpaged_names,
)
from sleuth.retrieval.base import Retriever
from sleuth.retrieval.corpus import load_corpus
from sleuth.retrieval.quality import GoldQuestion, load_questions, sandbox_corpus
from sleuth.types import Passage, StrictModel

_BATCH = 256


class CoverageRow(StrictModel):
    retriever: str
    evidence: str
    """``present`` or ``masked`` (every gold paragraph hidden from every search)."""
    name_searches: int
    flagged: float
    """Share of questions with a name that no passage found covers."""
    questions: int


async def _search(retriever: Retriever, queries: list[str], k: int,
                  hidden: list[set[str]]) -> list[list[Passage]]:
    """Top ``k`` passages per query, skipping each query's hidden ids."""
    out: list[list[Passage]] = []
    fetch = k + max((len(h) for h in hidden), default=0)
    for start in range(0, len(queries), _BATCH):
        batch = await retriever.search(queries[start:start + _BATCH], fetch)
        for hits, hide in zip(batch, hidden[start:start + _BATCH], strict=True):
            out.append([h.passage for h in hits if h.passage.id not in hide][:k])
    return out


async def _flags(retriever: Retriever, questions: list[GoldQuestion], masked: bool, k: int,
                 rounds: int) -> list[float]:
    """Share flagged after 0..rounds name searches."""
    hidden = [set(q.gold) if masked else set() for q in questions]
    texts = [q.question for q in questions]
    context = await _search(retriever, texts, k, hidden)
    titled: list[list[Passage]] = [[] for _ in questions]
    tried: list[set[str]] = [set() for _ in questions]
    shares: list[float] = []
    for round_ in range(rounds + 1):
        missing = [uncovered_names(q, c, t) for q, c, t in zip(texts, context, titled, strict=True)]
        shares.append(sum(bool(m) for m in missing) / len(questions))
        if round_ == rounds:
            break
        todo: list[tuple[int, str]] = []
        for i, names in enumerate(missing):
            new = [n for n in names if n not in tried[i]]
            if new:
                todo.append((i, new[0]))
        if not todo:
            shares += [shares[-1]] * (rounds - round_)
            break
        found = await _search(retriever, [n for _, n in todo], k, [hidden[i] for i, _ in todo])
        for (i, name), passages in zip(todo, found, strict=True):
            tried[i].add(name)
            titled[i] += [p for p in passages if names_page(p.title, name)]  # as the loop keeps them
    return shares


def run_coverage_quality(data: Path, retrievers: dict[str, Retriever], k: int = 4, rounds: int = 3,
                         limit: int | None = None) -> list[CoverageRow]:
    questions = load_questions(data)[:limit]
    rows: list[CoverageRow] = []
    for name, retriever in retrievers.items():
        for masked in (False, True):
            shares = asyncio.run(_flags(retriever, questions, masked, k, rounds))
            rows += [CoverageRow(retriever=name, evidence="masked" if masked else "present", name_searches=r,
                                 flagged=share, questions=len(questions)) for r, share in enumerate(shares)]
    return rows


class AnswerCheckRow(StrictModel):
    retriever: str
    check: str
    """``echo``, ``connect`` or ``hybrid judge``."""
    failed: float
    """Share of questions whose gold answer the check fails; for ``hybrid judge``, the share
    whose answer ``verify="hybrid"`` sends to the judge."""
    questions: int
    evidence: str = "present"
    """``present`` (the gold paragraphs read) or ``masked`` (only the top ``k`` others)."""


def run_answer_checks(data: Path, retriever: Retriever, k: int = 4, limit: int | None = None,
                      name: str = "BM25") -> list[AnswerCheckRow]:
    """How often each check on a draft fails the gold answer, with the gold paragraphs and
    the question's top ``k`` other passages read (see the module docstring)."""
    questions = load_questions(data)[:limit]
    wanted = {i for q in questions for i in q.gold}
    gold = {p.id: p for p in load_corpus(sandbox_corpus(data)) if p.id in wanted}
    found = asyncio.run(_search(retriever, [q.question for q in questions], k, [set(q.gold) for q in questions]))
    echo = connect = judged = judged_masked = 0
    for q, top in zip(questions, found, strict=True):
        read = [gold[i] for i in q.gold if i in gold] + top
        echo += echoes_question(q.question, q.answer)
        connect += bool(unconnected_names(q.question, q.answer, read))
        judged += bool(unpaged_names(q.question, read))
        judged_masked += bool(unpaged_names(q.question, top))
    n, count = max(len(questions), 1), len(questions)
    return [AnswerCheckRow(retriever=name, check="echo", failed=echo / n, questions=count),
            AnswerCheckRow(retriever=name, check="connect", failed=connect / n, questions=count),
            AnswerCheckRow(retriever=name, check="hybrid judge", failed=judged / n, questions=count),
            AnswerCheckRow(retriever=name, check="hybrid judge", failed=judged_masked / n, questions=count,
                           evidence="masked")]


def format_coverage_markdown(rows: list[CoverageRow], checks: list[AnswerCheckRow] | None = None) -> str:
    lines = [
        "## Coverage check",
        "",
        ("EvidenceLoop's check that every name the question uses occurs in a passage read "
         "(`sleuth.agents.coverage`), without a model: one search for the question (top 4), "
         "then up to R searches for a name still missing, whose pages count by title only. "
         "flagged: the share of questions with a name no passage covers, with the gold "
         "paragraphs present and with them masked."),
        "",
        "| retriever | name searches | flagged, evidence present | flagged, evidence masked |",
        "|---|---:|---:|---:|",
    ]
    table: dict[tuple[str, int], dict[str, float]] = {}
    for r in rows:
        table.setdefault((r.retriever, r.name_searches), {})[r.evidence] = r.flagged
    for (name, searches), shares in table.items():
        lines.append(f"| {name} | {searches} | {shares.get('present', float('nan')):.3f} "
                     f"| {shares.get('masked', float('nan')):.3f} |")
    if checks:
        lines += ["", ("Checks on the draft, against right answers: the gold answer as the draft, the gold "
                       "paragraphs and the question's top 4 read. failed: the share of questions whose right "
                       "answer the check would refuse (echo: the answer only repeats the question's one name; "
                       "connect, opt-in: a name no passage near the answer mentions). hybrid judge: the share "
                       "whose answer `verify=hybrid` (the default) sends to the judge, because a name the "
                       "question uses is no page read; masked: the gold paragraphs hidden, only the top 4 read."),
                  "", "| retriever | check | evidence | failed |", "|---|---|---|---:|"]
        lines += [f"| {c.retriever} | {c.check} | {c.evidence} | {c.failed:.3f} |" for c in checks]
    return "\n".join(lines) + "\n"


__all__ = ["AnswerCheckRow", "CoverageRow", "format_coverage_markdown", "run_answer_checks", "run_coverage_quality"]
