"""A simulated Search-R1 agent workload: the model's behaviour and an HNSW retriever.

:class:`SimulatedSearchR1Model` is a ``responder`` for
:class:`~sleuth.engines.simulated.SimulatedEngine` that writes Search-R1 turns
(``<think>…</think><search>…</search>``, then ``<answer>…</answer>``) as a pure function of
the prompt. Each question needs ``hops`` facts; a hop is found when a gold passage for it
appears in an ``<information>`` block. A search whose gold passage the ANN index missed
is searched again, so lower recall costs extra turns, as SearchAgent-X observed.

:class:`SimulatedRetriever` models dense retrieval over Wikipedia (MiniLM query encoder
plus HNSW): a batch costs ``encode_ms + per_query_encode_ms * n`` plus
``ceil(n / threads)`` graph searches of ``ann_base_ms + ann_ms_per_ef * efSearch``;
recall@k is ``1 - recall_miss_coeff / efSearch``. It implements ``set_effort``. With
``blocking=True`` each call holds the event loop for its duration, as a synchronous index
call made from an agent does.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import re
from dataclasses import dataclass

from pydantic import Field

from sleuth.engines.base import GenerationRequest
from sleuth.engines.simulated import render_prompt
from sleuth.engines.virtual_clock import block_for
from sleuth.retrieval.batcher import ef_search_for_effort
from sleuth.types import Passage, SearchHit, StrictModel

_WORDS = ["the", "of", "and", "in", "to", "was", "is", "for", "on", "as", "by", "with", "from", "at", "his", "that", "an", "film", "born", "American", "its", "which", "were", "first", "also", "he", "she", "album", "band", "city", "county", "river", "season", "team", "series", "game", "university", "state", "national", "known", "released", "founded", "played", "located", "written", "directed", "music", "world", "war", "league", "family", "house", "church", "north", "south", "west", "east", "school", "village"]


def unit_hash(text: str) -> float:
    """A stable uniform number in [0, 1) for ``text`` (same across runs and processes)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def filler(words: int, seed: str) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words))


@dataclass(frozen=True)
class SimQuestion:
    qid: str
    question: str
    answer: str
    """The gold answer (scored against)."""
    hops: int
    correct: bool
    """Whether the simulated model answers correctly once it has found every hop."""


class WorkloadConfig(StrictModel):
    """How simulated questions behave; defaults follow Search-R1-7B on multi-hop QA."""

    hop_weights: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.2, 0.05])
    """Probability of needing 1, 2, 3, 4 searches."""
    accuracy: float = Field(default=0.45, ge=0, le=1)
    """Share of questions answered right (Search-R1-7B HotpotQA EM is ~0.4-0.45)."""
    think_words: tuple[int, int] = (15, 60)
    """Words of reasoning per turn (uniform)."""
    extra_searches: int = Field(default=2, ge=0)
    """Re-searches allowed beyond ``hops`` before the model answers with what it has."""
    seed: int = 0


def make_workload(
    n: int, config: WorkloadConfig | None = None, rows: list[tuple[str, str]] | None = None
) -> list[SimQuestion]:
    """``n`` questions from ``rows`` of (question, gold answer), reused with a variant tag
    when there are fewer rows than ``n``; synthetic questions when ``rows`` is empty."""
    config = config or WorkloadConfig()
    rng = random.Random(config.seed)
    out = []
    for i in range(n):
        if rows:
            question, answer = rows[i % len(rows)]
            question = " ".join(question.split())
            if i >= len(rows):
                question = f"{question} (variant {i // len(rows)})"
        else:
            question, answer = f"Synthetic question number {i}?", f"answer {i}"
        hops = rng.choices(range(1, len(config.hop_weights) + 1), weights=config.hop_weights)[0]
        out.append(SimQuestion(f"q{i}", question, answer, hops, rng.random() < config.accuracy))
    return out


_GOLD = re.compile(r"\[\[gold (q\d+)\.(\d+)\]\]")


class SimulatedSearchR1Model:
    """The responder: Search-R1 turns as a pure function of the prompt."""

    def __init__(self, questions: list[SimQuestion], config: WorkloadConfig | None = None) -> None:
        self.config = config or WorkloadConfig()
        self._by_text = {q.question: q for q in questions}

    def __call__(self, request: GenerationRequest) -> str:
        prompt = render_prompt(request)
        at = prompt.rfind("Question: ")
        line = prompt[at + 10 :].split("\n", 1)[0].strip() if at >= 0 else ""
        q = self._by_text.get(line)
        if q is None:
            return " I cannot tell.</think>\n<answer>unknown</answer>"
        transcript = prompt[at:]
        if transcript.rstrip().endswith("<answer>"):  # the graph forces an answer
            return f"{self._final(q, transcript)}</answer>"
        searches = transcript.count("<information>")
        found = {int(h) for qid, h in _GOLD.findall(transcript) if qid == q.qid}
        missing = [h for h in range(1, q.hops + 1) if h not in found]
        think = filler(random.Random(f"{q.qid}:{searches}").randint(*self.config.think_words), f"{q.qid}/{searches}")
        if not missing or searches >= q.hops + self.config.extra_searches:
            return f" {think}</think>\n<answer>{self._final(q, transcript)}</answer>"
        hop = missing[0]
        query = f"{filler(6, f'{q.qid}/query/{hop}')} [[q {q.qid}.{hop}.{searches}]]"
        return f" {think}</think>\n<search>{query}</search>"

    def _final(self, q: SimQuestion, transcript: str) -> str:
        found = {int(h) for qid, h in _GOLD.findall(transcript) if qid == q.qid}
        complete = all(h in found for h in range(1, q.hops + 1))
        return q.answer if (q.correct and complete) else "unknown"


class RetrievalModelConfig(StrictModel):
    """Latency and recall of dense retrieval over 21M Wikipedia passages; see docs/scheduling.md."""

    encode_ms: float = 2.0
    """Per encoder call (MiniLM-L6 on a GPU)."""
    per_query_encode_ms: float = 0.07
    """Per query in a batch (~14k sentences/s)."""
    ann_base_ms: float = 0.05
    ann_ms_per_ef: float = 0.015
    """HNSW search cost per unit of efSearch, for 384-dim vectors."""
    threads: int = 6
    """Queries of one batch searched in parallel."""
    ef_min: int = 16
    ef_max: int = 512
    recall_miss_coeff: float = 4.0
    """recall@k = 1 - coeff / efSearch (0.90 at efSearch 40)."""
    passage_chars: int = 560


class SimulatedRetriever:
    """HNSW-like retrieval with a latency and recall model (see the module docstring)."""

    def __init__(self, config: RetrievalModelConfig | None = None, *, blocking: bool = False) -> None:
        self.config = config or RetrievalModelConfig()
        self.blocking = blocking
        self.name = "simulated-hnsw" + ("-blocking" if blocking else "")
        self.effort = 1.0
        self.calls = 0
        self.busy_s = 0.0
        self._noise = [filler(self.config.passage_chars // 6, f"noise{i}") for i in range(64)]

    def set_effort(self, effort: float) -> None:
        self.effort = effort

    def ef_search(self, k: int) -> int:
        c = self.config
        ef: int = ef_search_for_effort(self.effort, k=k, ef_min=c.ef_min, ef_max=c.ef_max)
        return ef

    def recall(self, ef: int) -> float:
        return max(0.0, 1.0 - self.config.recall_miss_coeff / ef)

    def latency_s(self, n: int, ef: int) -> float:
        c = self.config
        ms = c.encode_ms + c.per_query_encode_ms * n + math.ceil(n / c.threads) * (c.ann_base_ms + c.ann_ms_per_ef * ef)
        return ms / 1000.0

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        ef = self.ef_search(k)
        latency = self.latency_s(len(queries), ef)
        self.calls += 1
        self.busy_s += latency
        if self.blocking:
            block_for(latency)
        else:
            await asyncio.sleep(latency)
        recall = self.recall(ef)
        return [self._hits(q, k, recall) for q in queries]

    def _hits(self, query: str, k: int, recall: float) -> list[SearchHit]:
        tag = re.search(r"\[\[q (q\d+)\.(\d+)\.\d+\]\]", query)
        hit = tag is not None and unit_hash(query) < recall
        gold_rank = int(unit_hash("rank" + query) * k) if hit else -1
        out = []
        for rank in range(k):
            if rank == gold_rank and tag is not None:
                qid, hop = tag.group(1), tag.group(2)
                text = f"[[gold {qid}.{hop}]] {self._noise[int(unit_hash(qid + hop) * 64)]}"
                passage = Passage(id=f"gold-{qid}-{hop}", title=f"Gold {qid} {hop}", text=text)
            else:
                i = int(unit_hash(f"{query}/{rank}") * len(self._noise))
                passage = Passage(id=f"noise-{i}", title=f"Noise {i}", text=self._noise[i])
            out.append(SearchHit(passage=passage, score=1.0 / (rank + 1), rank=rank))
        return out

    async def aclose(self) -> None:
        return None


__all__ = [
    "RetrievalModelConfig",
    "SimQuestion",
    "SimulatedRetriever",
    "SimulatedSearchR1Model",
    "WorkloadConfig",
    "make_workload",
    "unit_hash",
]
