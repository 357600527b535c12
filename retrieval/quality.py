"""Retrieval quality on the HotpotQA sandbox: recall@k of the gold paragraphs.

Each of the sandbox's questions is a query; recall@k is the fraction of its gold
paragraphs (two per question) found in the top k, averaged over questions, and all@k the
share of questions with every gold paragraph in the top k. Methods: BM25,
dense (MiniLM, exact inner-product search) and hybrid (reciprocal-rank fusion and weighted
fusion of the two).
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

from sleuth.retrieval.base import Retriever
from sleuth.retrieval.bm25 import BM25Retriever
from sleuth.retrieval.corpus import load_corpus
from sleuth.retrieval.dense import DenseRetriever
from sleuth.retrieval.embeddings import cache_name, default_embeddings_dir, encode_store
from sleuth.retrieval.encoder import EncoderSpec, SentenceEncoder
from sleuth.retrieval.faiss_index import FaissSpec, build_faiss
from sleuth.retrieval.hybrid import FusionSpec, HybridRetriever
from sleuth.retrieval.manifest import sha256_file
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.types import StrictModel

KS = (2, 5, 10, 20)


class GoldQuestion(StrictModel):
    question: str
    gold: list[str]
    answer: str = ""


def sandbox_corpus(data: Path) -> Path:
    return data / "hotpotqa_sandbox" / "corpus.jsonl.gz"


def load_questions(data: Path) -> list[GoldQuestion]:
    with gzip.open(data / "hotpotqa_sandbox" / "questions.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [GoldQuestion(question=r["question"], gold=r["gold_paragraph_ids"], answer=r.get("answer", ""))
            for r in rows]


def sandbox_embeddings(data: Path, spec: EncoderSpec | None = None,
                       progress: bool = True) -> tuple[Any, SentenceEncoder]:
    """MiniLM embeddings of the sandbox corpus, from the shared cache (encoded on first use).

    The cache key is the one ``sleuth index build --kind dense`` uses, so either reuses
    the other's work.
    """
    spec = spec or EncoderSpec()
    corpus = sandbox_corpus(data)
    sha = sha256_file(corpus)
    encoder = SentenceEncoder(spec)
    store = MemoryPassageStore(load_corpus(corpus))
    path = default_embeddings_dir() / (cache_name(sha, spec.name) + ".npy")
    key = {"corpus_sha256": sha, "encoder": spec.model_dump()}
    return encode_store(encoder, store, path, key, progress=progress), encoder


def recall_at(results: list[list[str]], gold: list[list[str]], k: int) -> float:
    return float(np.mean([len(set(g) & set(r[:k])) / len(g) for r, g in zip(results, gold)]))


def all_found_at(results: list[list[str]], gold: list[list[str]], k: int) -> float:
    """The share of questions with every gold paragraph in the top ``k``: what a multi-hop
    question needs, and what recall averages away."""
    return float(np.mean([set(g) <= set(r[:k]) for r, g in zip(results, gold)]))


async def ranked_ids(retriever: Retriever, queries: list[str], k: int) -> list[list[str]]:
    out: list[list[str]] = []
    for start in range(0, len(queries), 256):
        hits = await retriever.search(queries[start : start + 256], k)
        out += [[h.passage.id for h in q] for q in hits]
    return out


def quality_retrievers(data: Path, progress: bool = True) -> dict[str, Retriever]:
    """The retrievers the quality table compares, over the sandbox corpus."""
    passages = load_corpus(sandbox_corpus(data))
    vectors, encoder = sandbox_embeddings(data, progress=progress)
    bm25 = BM25Retriever.from_passages(passages)
    index = build_faiss(np.ascontiguousarray(vectors), FaissSpec(), progress=False)
    dense = DenseRetriever(index, encoder, bm25.store, FaissSpec(), vectors)
    return {
        "BM25": bm25,
        "dense (MiniLM, exact)": dense,
        "hybrid RRF (k=60)": HybridRetriever(bm25, dense, FusionSpec(method="rrf")),
        "hybrid weighted (0.5)": HybridRetriever(bm25, dense, FusionSpec(method="weighted")),
    }


def run_quality(data: Path, progress: bool = True,
                retrievers: dict[str, Retriever] | None = None) -> dict[str, dict[str, float]]:
    """{method: {"recall@k": value, "all@k": value}} over every sandbox question."""
    questions = load_questions(data)
    queries = [q.question for q in questions]
    gold = [q.gold for q in questions]
    table: dict[str, dict[str, float]] = {}
    for name, retriever in (retrievers or quality_retrievers(data, progress)).items():
        ranked = asyncio.run(ranked_ids(retriever, queries, max(KS)))
        table[name] = {f"recall@{k}": recall_at(ranked, gold, k) for k in KS}
        table[name].update({f"all@{k}": all_found_at(ranked, gold, k) for k in KS})
    table["_questions"] = {"n": float(len(questions))}
    return table


def format_markdown(table: dict[str, dict[str, float]]) -> str:
    n = int(table.get("_questions", {}).get("n", 0))
    lines = [
        "# Retrieval quality on the HotpotQA sandbox",
        "",
        (
            f"Recall@k of the gold paragraphs (two per question), averaged over {n} questions, "
            "searching all 19,394 sandbox paragraphs. BM25: Sleuth's, k1=0.9, b=0.4, English "
            "stemming and stopwords. Dense: all-MiniLM-L6-v2, exact inner-product search. "
            "Hybrid: the top 50 of each, fused. all@k: the share of questions with both gold "
            "paragraphs in the top k, which a two-hop question needs."
        ),
        "",
        "Produced by `sleuth bench retrieval --quality --out docs/retrieval-quality.md`.",
        "",
        "| method | " + " | ".join(f"recall@{k}" for k in KS) + " | " + " | ".join(f"all@{k}" for k in KS) + " |",
        "|---|" + "---:|" * (2 * len(KS)),
    ]
    for name, row in table.items():
        if name.startswith("_"):
            continue
        cells = [f"{row[f'recall@{k}']:.3f}" for k in KS] + [f"{row[f'all@{k}']:.3f}" for k in KS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = [
    "all_found_at", "format_markdown", "load_questions", "quality_retrievers", "ranked_ids", "recall_at",
    "run_quality", "sandbox_embeddings",
]
