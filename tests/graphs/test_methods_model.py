"""Every reasoning method once on the real 0.5B model over a real BM25 index of HotpotQA
paragraphs. Small models answer badly; these tests check structure, not answers."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from sleuth.graphs.registry import ask
from sleuth.types import Answer, NoteEvent, Passage

pytestmark = pytest.mark.model

N_QUESTIONS = 3


@pytest.fixture(scope="module")
def hotpot_mini(shared_data: Path) -> tuple[Any, list[dict[str, Any]], set[str]]:
    """A BM25 retriever over the context paragraphs of the first HotpotQA sandbox questions."""
    from sleuth.retrieval.bm25 import BM25Retriever

    base = shared_data / "hotpotqa_sandbox"
    with gzip.open(base / "questions.jsonl.gz", "rt", encoding="utf-8") as f:
        questions = [json.loads(next(f)) for _ in range(N_QUESTIONS)]
    wanted: set[str] = set()
    for q in questions:
        titles = q["context_titles"]
        wanted |= set(ast.literal_eval(titles) if isinstance(titles, str) else titles) | set(q["gold_titles"])
    with gzip.open(base / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        passages = [Passage(id=r["id"], title=r["title"], text=r["text"])
                    for r in map(json.loads, f) if r["title"] in wanted]
    return BM25Retriever.from_passages(passages), questions, {p.id for p in passages}


CASES: list[tuple[str, dict[str, Any], tuple[int, int]]] = [
    # method, options, (min, max) searches
    ("no-retrieval", {}, (0, 0)),
    ("standard-rag", {"top_k": 3}, (1, 1)),
    ("adaptive-rag", {"top_k": 3}, (0, 1)),
    ("ircot", {"max_steps": 2, "top_k": 2, "step_max_tokens": 40}, (1, 2)),
    ("evidence-loop", {"max_searches": 1, "top_k": 2, "note_max_tokens": 96}, (1, 1)),
    ("mcts-rag", {"rollouts": 1, "votes": 1, "max_depth": 2, "top_k": 2, "step_max_tokens": 32}, (0, 2)),
]


@pytest.mark.parametrize(("method", "options", "searches"), CASES, ids=[c[0] for c in CASES])
async def test_method_on_the_real_model(
    small_engine: Any, hotpot_mini: tuple[Any, list[dict[str, Any]], set[str]], method: str,
    options: dict[str, Any], searches: tuple[int, int],
) -> None:
    retriever, questions, ids = hotpot_mini
    question = questions[1]["question"]
    answer = await ask(question, engine=small_engine, retriever=retriever, method=method, options=options)
    assert isinstance(answer, Answer) and answer.method == method and answer.question == question
    assert answer.abstained == (answer.text == "")
    assert answer.abstain_reason if answer.abstained else len(answer.text) <= 200
    assert searches[0] <= answer.usage.searches <= searches[1]
    assert answer.usage.llm_calls >= 1 and answer.usage.completion_tokens >= 0
    assert {c.id for c in answer.citations} <= ids
    assert answer.trace[-1].type == "answer"
    search_ids = {i for e in answer.trace if e.type == "search" for i in e.ids}  # type: ignore[union-attr]
    assert search_ids <= ids and len([e for e in answer.trace if e.type == "search"]) == answer.usage.searches
    kinds = {e.kind for e in answer.trace if isinstance(e, NoteEvent)}
    expected = {"mcts-rag": {"tree", "vote", "rollout"}, "evidence-loop": {"evidence_note", "verification"},
                "adaptive-rag": {"gate"}}.get(method, set())
    assert expected <= kinds


async def test_evidence_loop_best_draft_on_the_real_model(
    small_engine: Any, hotpot_mini: tuple[Any, list[dict[str, Any]], set[str]],
) -> None:
    """A judge no draft can satisfy (P(yes) >= 0.999): the loop spends its budget, then answers
    with the drafts' majority, marked unverified, and cites passages it read."""
    from sleuth.agents.answers import is_non_answer, majority

    retriever, questions, ids = hotpot_mini
    options = {"max_searches": 2, "top_k": 2, "note_max_tokens": 96, "verify": "judge",
               "judge_min_p_yes": 0.999, "on_unsupported": "best-draft"}
    answer = await ask(questions[1]["question"], engine=small_engine, retriever=retriever, method="evidence-loop",
                       options=options)
    verdicts = [e.data for e in answer.trace if isinstance(e, NoteEvent) and e.kind == "verification"]
    assert verdicts and not any(v["supported"] for v in verdicts)
    drafts = [str(v["answer"]) for v in verdicts]
    assert any(not is_non_answer(d) for d in drafts), drafts  # the model drafted something
    assert answer.text == majority(drafts)[0] and not answer.abstained
    assert answer.trace[-1].type == "answer" and answer.trace[-1].forced  # type: ignore[union-attr]
    assert [e.kind for e in answer.trace if isinstance(e, NoteEvent)][-1] == "unverified"
    assert {c.id for c in answer.citations} <= ids and answer.usage.searches == 2


async def test_evidence_loop_drafts_from_documents_as_standard_rag_on_the_real_model(
    small_engine: Any, hotpot_mini: tuple[Any, list[dict[str, Any]], set[str]],
) -> None:
    """``draft_from="documents"``: the loop's first draft is standard-rag's answer over the same
    passages, on the real model (both greedy, one prompt)."""
    retriever, questions, _ = hotpot_mini
    question = questions[1]["question"]
    options = {"max_searches": 1, "top_k": 2, "note_max_tokens": 96, "passage_chars": 600,
               "draft_from": "documents"}
    loop = await ask(question, engine=small_engine, retriever=retriever, method="evidence-loop", options=options)
    verdicts = [e.data for e in loop.trace if isinstance(e, NoteEvent) and e.kind == "verification"]
    srag = await ask(question, engine=small_engine, retriever=retriever, method="standard-rag",
                     options={"top_k": 2})
    assert srag.text and verdicts, (srag.text, verdicts)
    assert verdicts[0]["answer"] == srag.text


async def test_reasoned_reader_on_the_real_model(
    small_engine: Any, hotpot_mini: tuple[Any, list[dict[str, Any]], set[str]],
) -> None:
    """``reason_first``: the real model writes a reasoning line and an answer line; the answer
    is the answer line's, and the trace keeps the reasoning."""
    from sleuth.agents.reader import read_reasoned_answer

    retriever, questions, ids = hotpot_mini
    answer = await ask(questions[1]["question"], engine=small_engine, retriever=retriever, method="standard-rag",
                       options={"top_k": 3, "reason_first": True})
    think = next(e for e in answer.trace if e.type == "think")
    assert think.completion_tokens > 4  # type: ignore[union-attr]
    assert answer.text == read_reasoned_answer(think.text)  # type: ignore[union-attr]
    assert answer.text, think.text  # type: ignore[union-attr]
    assert "\n" not in answer.text and len(answer.text) < len(think.text)  # type: ignore[union-attr]
    assert {c.id for c in answer.citations} <= ids


class _Counting:
    """Keeps every request it passes on."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name
        self.requests: list[Any] = []

    async def generate(self, request: Any) -> Any:
        self.requests.append(request)
        return await self.inner.generate(request)

    async def aclose(self) -> None:
        return  # the session fixtures own the engines


async def test_evidence_loop_judge_on_an_openai_compatible_server(
    small_engine: Any, llama_server_url: str, hotpot_mini: tuple[Any, list[dict[str, Any]], set[str]],
) -> None:
    """The judge behind llama.cpp's OpenAI-compatible server on 127.0.0.1, the rest in-process:
    every judge call (and only those) goes over HTTP, and its verdict carries the server's
    P(yes)."""
    from sleuth.engines.openai_compat import OpenAICompatibleEngine
    from sleuth.engines.router import RoleRouter

    retriever, questions, _ = hotpot_mini
    served = OpenAICompatibleEngine(llama_server_url, "qwen2.5-coder-0.5b", read_timeout_s=120, max_retries=1)
    main, judge = _Counting(small_engine), _Counting(served)
    options = {"max_searches": 2, "top_k": 2, "note_max_tokens": 96, "verify": "judge",
               "judge_min_p_yes": 0.999, "on_unsupported": "best-draft"}
    try:
        answer = await ask(questions[1]["question"], engine=RoleRouter(main, {"judge": judge}),
                           retriever=retriever, method="evidence-loop", options=options)
    finally:
        await served.aclose()
    judged = [e.text for e in answer.trace if e.type == "think" and e.text.startswith("[judge]")]  # type: ignore[union-attr]
    assert judged and len(judge.requests) == len(judged), judged
    assert all(r.role == "judge" for r in judge.requests) and not any(r.role for r in main.requests)
    assert all("p_yes" in line and "min 0.999" in line for line in judged), judged
    assert answer.usage.llm_calls == len(main.requests) + len(judge.requests)
