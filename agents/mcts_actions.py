"""MCTS-RAG's six actions as model and retriever calls that produce one tree node each.

:class:`MCTSActor` never raises on bad model output: an empty or malformed step becomes a
*dead* node (terminal, reward 0) with an error event, so the search goes on elsewhere.
"""

from __future__ import annotations

import time

from sleuth.agents.answers import clean_step, extract_answer, first_sentence, majority
from sleuth.agents.evidence import format_documents, format_passages
from sleuth.agents.mcts import Action, MCTSNode, MCTSOptions, MCTSTree, tree_agreement
from sleuth.agents.prompts import mcts_rag as prompts
from sleuth.agents.reader import think_event
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import ChatMessage, GenerationRequest
from sleuth.types import ErrorEvent, InformationEvent, SearchHit, TraceEvent, Usage


def action_cost(action: Action, votes: int) -> int:
    """Engine calls an action makes."""
    if action == "direct_answer":
        return votes
    if action == "summarised_answer":
        return votes + 1  # the summary line, then the votes
    return 2 if action in ("decompose", "retrieval_decompose") else 1


class MCTSActor:
    """Applies actions for one question; every call is recorded on the trace and usage."""

    def __init__(self, recorder: StepRecorder, options: MCTSOptions) -> None:
        self.recorder = recorder
        self.opts = options

    # --- requests ---------------------------------------------------------------------------
    def _request(self, tree: MCTSTree, parent: int, kind: str, prefix: str, *, documents: str = "",
                 stop: list[str] | None = None, max_tokens: int | None = None,
                 temperature: float | None = None, seed: int | None = None) -> GenerationRequest:
        steps = "\n".join(n.text for n in tree.path(parent))
        user = prompts.user_message(kind, tree.question[: self.opts.max_question_chars], steps, documents)
        return GenerationRequest(
            messages=[
                ChatMessage(role="system", content=prompts.SYSTEM),
                ChatMessage(role="user", content=user),
                ChatMessage(role="assistant", content=prefix),
            ],
            continue_assistant=True,
            stop=stop if stop is not None else prompts.STOP_LINE,
            max_tokens=max_tokens or self.opts.step_max_tokens,
            temperature=self.opts.temperature if temperature is None else temperature,
            seed=self.opts.seed if seed is None else seed,
        )

    async def _line(self, request: GenerationRequest, usage: Usage, action: str,
                    events: list[TraceEvent], *, whole: bool = False) -> str:
        """One generated line, cut to its first sentence unless ``whole``."""
        response, elapsed = await self.recorder.generate(request, usage)
        cleaned: str = clean_step(response.text)
        line: str = cleaned if whole else first_sentence(cleaned)
        events.append(think_event(response, elapsed, text=f"[{action}] {line or response.text.strip()}"))
        return line

    async def _search(self, tree: MCTSTree, query: str, usage: Usage,
                      events: list[TraceEvent]) -> list[SearchHit]:
        start = time.perf_counter()
        hits: list[SearchHit]
        hits, search_events = await self.recorder.search(query, self.opts.top_k, usage)
        docs = format_documents(hits, self.opts.passage_chars) if hits else "No results found."
        events.extend(search_events)
        events.append(InformationEvent(duration_s=time.perf_counter() - start, text=docs,
                                       ids=[h.passage.id for h in hits]))
        for hit in hits:
            tree.passages[hit.passage.id] = hit.passage
        return hits

    # --- actions ----------------------------------------------------------------------------
    async def apply(self, tree: MCTSTree, parent: int, action: Action, usage: Usage,
                    votes: int | None = None) -> tuple[MCTSNode, list[TraceEvent]]:
        """Run ``action`` from node ``parent`` and return the new (unattached) node."""
        k = tree.nodes[parent].depth + 1
        events: list[TraceEvent] = []
        if action in ("direct_answer", "summarised_answer"):
            node = await self._answer(tree, parent, action, usage, votes or self.opts.votes, events)
        elif action in ("quick_reasoning", "retrieval_reasoning"):
            node = await self._reason(tree, parent, action, k, usage, events)
        else:
            node = await self._decompose(tree, parent, action, k, usage, events)
        if node.dead:
            events.append(ErrorEvent(message=f"{action} produced no usable output", code="malformed_output"))
        return node, events

    async def _reason(self, tree: MCTSTree, parent: int, action: Action, k: int, usage: Usage,
                      events: list[TraceEvent]) -> MCTSNode:
        label = prompts.label(action, k)
        docs, ids, query = "", [], ""
        if action == "retrieval_reasoning":
            last = tree.path(parent)[-1].text if parent else ""
            query = f"{tree.question[:300]} {clean_step(last, 200)}".strip()
            hits = await self._search(tree, query, usage, events)
            docs, ids = format_documents(hits, self.opts.passage_chars), [h.passage.id for h in hits]
        request = self._request(tree, parent, action, label, documents=docs)
        line = await self._line(request, usage, action, events)
        return MCTSNode(id=-1, action=action, text=f"{label} {line}", query=query,
                        passage_ids=ids, dead=not line)

    async def _decompose(self, tree: MCTSTree, parent: int, action: Action, k: int, usage: Usage,
                         events: list[TraceEvent]) -> MCTSNode:
        ask_label = prompts.label("subquestion", k)
        question = await self._line(self._request(tree, parent, "subquestion", ask_label), usage,
                                    action, events)
        if not question:
            return MCTSNode(id=-1, action=action, text=f"{ask_label}", dead=True)
        docs, ids, kind = "", [], "subanswer"
        if action == "retrieval_decompose":
            hits = await self._search(tree, question, usage, events)
            docs, ids, kind = format_documents(hits, self.opts.passage_chars), [h.passage.id for h in hits], "retrieval_subanswer"
        answer_label = prompts.label(kind, k)
        prefix = f"{ask_label} {question}\n{answer_label}"
        answer = await self._line(self._request(tree, parent, kind, prefix, documents=docs), usage,
                                  action, events)
        return MCTSNode(id=-1, action=action, text=f"{prefix} {answer}", query=question,
                        passage_ids=ids, dead=not answer)

    async def _answer(self, tree: MCTSTree, parent: int, action: Action, usage: Usage, votes: int,
                      events: list[TraceEvent]) -> MCTSNode:
        docs, prefix = "", ""
        if action == "summarised_answer":
            docs = self._path_documents(tree, parent)
            label = prompts.label("summarised_answer", 0)
            request = self._request(tree, parent, action, label, documents=docs,
                                    max_tokens=self.opts.summary_max_tokens)
            summary = clean_step(await self._line(request, usage, action, events, whole=True), 400)
            if not summary:
                return MCTSNode(id=-1, action=action, text=label, terminal=True, dead=True)
            prefix = f"{label} {summary}\n"
        samples = []
        for i in range(votes):
            request = self._request(
                tree, parent, action, prefix + prompts.label("direct_answer", 0), documents=docs,
                max_tokens=self.opts.answer_max_tokens,
                temperature=None if i == 0 else self.opts.vote_temperature,
                seed=None if i == 0 else (self.opts.seed or 0) + 7919 * len(tree.nodes) + i,
            )
            response, elapsed = await self.recorder.generate(request, usage)
            answer: str = extract_answer(response.text)
            events.append(think_event(response, elapsed, text=f"[{action} vote {i + 1}] {answer}"))
            samples.append(answer)
        best, share = majority(samples)
        if votes == 1:
            share = tree_agreement(tree, best)
        return MCTSNode(id=-1, action=action, text=f"{prefix}So the answer is: {best}", answer=best,
                        samples=samples, reward=share, terminal=True, dead=not best)

    def _path_documents(self, tree: MCTSTree, parent: int) -> str:
        """The passages retrieved along the path, for the summary."""
        ids = list(dict.fromkeys(i for n in tree.path(parent) for i in n.passage_ids))
        passages = [tree.passages[i] for i in ids[: 2 * self.opts.top_k] if i in tree.passages]
        docs: str = format_passages(passages, self.opts.passage_chars)
        return docs


__all__ = ["MCTSActor", "action_cost"]
