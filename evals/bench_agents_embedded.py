"""The embedded-engine half of ``sleuth bench agents``: the real llama.cpp model, real BM25.

Each policy gets a freshly loaded model (so no policy inherits another's KV state) and
shares one in-memory BM25 index over the HotpotQA sandbox corpus. llama.cpp runs one call
at a time, so bounded policies keep one call in flight and let Sleuth's queue pick the
next; unbounded ones hand every call to the engine's own FIFO worker. Prefix reuse gives
each agent a sticky session whose KV state the engine saves and restores.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from sleuth.engines.scheduler import ScheduledEngine
from sleuth.evals.bench_agents import (
    AgentBenchConfig,
    BlockingRetriever,
    PolicySetup,
    RunRecord,
    run_policy,
)
from sleuth.evals.datasets import resolve_data_dir
from sleuth.retrieval.base import Retriever
from sleuth.retrieval.batcher import BatchingRetriever


def run_embedded_policy(
    config: AgentBenchConfig,
    setup: PolicySetup,
    rows: list[tuple[str, str]],
    arrivals: list[float] | None,
) -> RunRecord:
    """Run one policy on the embedded model in real time."""
    bm25 = sandbox_bm25(resolve_data_dir(config.data_dir) / "hotpotqa_sandbox" / "corpus.jsonl.gz")
    return asyncio.run(_run(config, setup, [q for q, _ in rows], arrivals, bm25))


async def _run(
    config: AgentBenchConfig,
    setup: PolicySetup,
    questions: list[str],
    arrivals: list[float] | None,
    bm25: Retriever,
) -> RunRecord:
    from sleuth.config import SleuthSettings
    from sleuth.engines.llama_cpp import LlamaCppEngine

    engine = LlamaCppEngine(
        config.model, n_ctx=8192, progress=False,
        n_threads=SleuthSettings.load().engine.n_threads,  # SLEUTH_ENGINE__N_THREADS, as for eval runs
        session_cache_size=max(4, len(questions)) if setup.prefix_reuse else 4,
    )
    scheduled = ScheduledEngine(
        engine, setup.scheduler, max_in_flight=1 if setup.bounded else config.concurrency,
        sticky_sessions=setup.prefix_reuse,
    )
    retriever: Retriever
    if setup.non_stall:
        retriever = BatchingRetriever(bm25, max_wait_ms=2.0, close_inner=False)
    else:
        retriever = BlockingRetriever(bm25)
    try:
        record = await run_policy(config, questions, scheduled, retriever, arrivals, setup.label)
        record.take_engine_figures(scheduled, scheduled.stats.busy_s, 0)
    finally:
        await retriever.aclose()
        await scheduled.aclose()
    return record


@lru_cache(maxsize=2)
def sandbox_bm25(corpus: Path) -> Retriever:
    """An in-memory BM25 index over ``corpus``, built once per process."""
    from sleuth.retrieval.bm25 import BM25Retriever
    from sleuth.retrieval.corpus import iter_corpus

    retriever: Retriever = BM25Retriever.from_passages(iter_corpus(corpus))
    return retriever


__all__ = ["run_embedded_policy", "sandbox_bm25"]
