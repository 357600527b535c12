"""Answer-producing steps shared by the baselines and the adaptive gate.

A :class:`Reader` asks the model for a short answer, with or without retrieved documents,
and records each call as a :class:`~sleuth.types.ThinkEvent`. :func:`build_answer` turns a
graph's final state into the :class:`~sleuth.types.Answer` every method returns.
"""

from __future__ import annotations

import re
import time

from pydantic import Field

from sleuth.agents.answers import drop_fake_information, extract_answer, is_non_answer
from sleuth.agents.evidence import cite_passages, format_passages
from sleuth.agents.prompts import baselines as prompts
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import ChatMessage, GenerationRequest, GenerationResponse
from sleuth.types import (
    Answer,
    AnswerEvent,
    Citation,
    ErrorEvent,
    Passage,
    SearchHit,
    StrictModel,
    ThinkEvent,
    TraceEvent,
    Usage,
)


class ReaderOptions(StrictModel):
    """Settings every answering method shares."""

    answer_max_tokens: int = Field(default=32, ge=4, le=512)
    """Token budget of a short answer."""
    temperature: float = Field(default=0.0, ge=0.0)
    seed: int | None = 0
    max_question_chars: int = Field(default=2000, ge=16)
    """Longer questions are cut, so a 10,000-character question cannot fill the context."""
    passage_chars: int = Field(default=600, ge=50)
    """Characters of each passage shown to the model."""
    reason_first: bool = False
    """Answer from documents after one line of reasoning (a chain-of-thought reader) instead
    of with the answer alone: standard-rag's reader and evidence-loop's ``draft_from=
    "documents"`` draft; answers without documents are unchanged. The answer is read from
    the reply's last ``Answer:`` line only. On Qwen2.5-Coder-1.5B it lowered F1
    (docs/methods.md, "A reasoning line before the answer")."""
    reasoning_max_tokens: int = Field(default=128, ge=8, le=1024)
    """Token budget of the reasoning line, on top of ``answer_max_tokens``."""


def think_event(response: GenerationResponse, elapsed: float, text: str | None = None) -> ThinkEvent:
    """A trace event for one engine call."""
    return ThinkEvent(
        ts=time.time() - elapsed,
        duration_s=elapsed,
        text=text if text is not None else response.text.strip(),
        prompt_tokens=response.prompt_tokens,
        completion_tokens=response.completion_tokens,
    )


def output_problem(response: GenerationResponse, answer: str) -> ErrorEvent | None:
    """An error event when the model's output held no usable answer."""
    if not response.text.strip():
        return ErrorEvent(message="the model returned empty output", code="empty_output")
    if not answer:
        reason = "output ran past max_tokens" if response.finish_reason == "length" else "no answer"
        return ErrorEvent(message=f"could not read an answer: {reason}", code="malformed_output")
    return None


_ANSWER_LINE = re.compile(r"^\s*\**answer\**\s*:(.*)$", re.IGNORECASE | re.MULTILINE)


def is_reasoned(request: GenerationRequest) -> bool:
    """True for a request :meth:`Reader.request` built with ``reasoned=True``."""
    last = request.messages[-1] if request.messages else None
    return last is not None and last.role == "assistant" and last.content == prompts.REASONING_START


def read_reasoned_answer(text: str) -> str:
    """The short answer on the last ``Answer:`` line of a reasoned reply, or "" when the model
    gave reasoning but no answer line (recorded as malformed output, never the reasoning)."""
    lines = [m.group(1) for m in _ANSWER_LINE.finditer(drop_fake_information(text or ""))]
    return extract_answer(lines[-1]) if lines else ""


class Reader:
    """Short-answer generation for one engine and option set."""

    def __init__(self, recorder: StepRecorder, options: ReaderOptions) -> None:
        self.recorder = recorder
        self.opts = options

    def question(self, question: str) -> str:
        return question[: self.opts.max_question_chars]

    def request(self, user: str, *, logprobs: bool = False, temperature: float | None = None,
                seed: int | None = None, reasoned: bool = False) -> GenerationRequest:
        """The chat request for a short answer to the user message ``user``; ``reasoned``:
        a reasoning line first, then the answer line."""
        return GenerationRequest(
            messages=[
                ChatMessage(role="system", content=prompts.SYSTEM),
                ChatMessage(role="user", content=user),
                ChatMessage(role="assistant",
                            content=prompts.REASONING_START if reasoned else prompts.ASSISTANT_START),
            ],
            continue_assistant=True,
            stop=prompts.REASONED_STOP if reasoned else prompts.STOP,
            max_tokens=self.opts.answer_max_tokens + (self.opts.reasoning_max_tokens if reasoned else 0),
            temperature=self.opts.temperature if temperature is None else temperature,
            seed=self.opts.seed if seed is None else seed,
            logprobs=logprobs,
        )

    def direct_request(self, question: str, **kwargs: object) -> GenerationRequest:
        return self.request(prompts.direct_message(self.question(question)), **kwargs)  # type: ignore[arg-type]

    def documents_request(self, question: str, hits: list[SearchHit]) -> GenerationRequest:
        return self.passages_request(question, [hit.passage for hit in hits])

    def passages_request(self, question: str, passages: list[Passage]) -> GenerationRequest:
        """Standard-rag's request: a short answer to ``question`` from ``passages``."""
        docs = format_passages(passages, self.opts.passage_chars)
        if self.opts.reason_first:
            return self.request(prompts.reasoned_documents_message(self.question(question), docs), reasoned=True)
        return self.request(prompts.documents_message(self.question(question), docs))

    @staticmethod
    def read(request: GenerationRequest, text: str) -> str:
        """The short answer in the model's reply ``text`` to ``request``."""
        return read_reasoned_answer(text) if is_reasoned(request) else extract_answer(text)

    async def answer(self, request: GenerationRequest, usage: Usage) -> tuple[str, list[TraceEvent]]:
        """Run ``request`` and read a short answer from the output."""
        response, elapsed = await self.recorder.generate(request, usage)
        text = self.read(request, response.text)
        events: list[TraceEvent] = [think_event(response, elapsed)]
        problem = output_problem(response, text)
        if problem is not None:
            events.append(problem)
        return text, events


def build_answer(
    question: str,
    text: str,
    *,
    trace: list[TraceEvent],
    usage: Usage,
    seen: list[Passage] | None = None,
    fallback: list[Passage] | None = None,
    citations: list[Citation] | None = None,
    abstain_reason: str | None = None,
    forced: bool = False,
) -> Answer:
    """The final :class:`Answer`. An empty or refusing ``text`` abstains, with a reason."""
    if is_non_answer(text) and abstain_reason is None:
        abstain_reason = "the model produced no answer" if not text.strip() else f"the model declined: {text!r}"
    abstained = abstain_reason is not None
    final = "" if abstained else text
    if citations is None:
        citations = cite_passages(final, seen or [], fallback or []) if final and (seen or fallback) else []
    return Answer(
        question=question,
        text=final,
        citations=[] if abstained else citations,
        abstained=abstained,
        abstain_reason=abstain_reason,
        trace=[*trace, AnswerEvent(text=final, forced=forced)],
        usage=usage,
    )


__all__ = ["Reader", "ReaderOptions", "build_answer", "output_problem", "think_event"]
