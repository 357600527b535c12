"""IRCoT's reasoning step: write the next chain-of-thought sentence from the paragraphs so far.

The sentence doubles as the next retrieval query; a sentence saying "the answer is" ends
the chain. Passages retrieved for the text are escaped, so they cannot inject tags.
"""

from __future__ import annotations

import re

from pydantic import Field

from sleuth.agents.answers import clean_step, extract_answer, first_sentence
from sleuth.agents.evidence import cut_text
from sleuth.agents.gate import GateOptions
from sleuth.agents.prompts import ircot as prompts
from sleuth.agents.protocol import escape_retrieved
from sleuth.agents.reader import ReaderOptions, output_problem, think_event
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import ChatMessage, GenerationRequest
from sleuth.types import ErrorEvent, Passage, TraceEvent, Usage

_ANSWER_IS = re.compile(r"\banswer\s+is\b", re.IGNORECASE)


class IRCoTOptions(ReaderOptions):  # type: ignore[misc, unused-ignore]  # mypy cannot map sleuth.agents
    top_k: int = Field(default=3, ge=1, le=20)
    """Passages retrieved per step."""
    max_steps: int = Field(default=5, ge=1, le=20)
    """Chain-of-thought sentences before an answer is forced."""
    max_passages: int = Field(default=12, ge=1, le=50)
    """Paragraphs kept in the prompt (the earliest are kept, as in IRCoT)."""
    step_max_tokens: int = Field(default=64, ge=8, le=512)
    """Token budget of one sentence."""
    passage_chars: int = Field(default=400, ge=50)
    gate: GateOptions | None = None
    """Retrieve after a sentence only when this gate says so (``None``: after every sentence)."""


class IRCoTReasoner:
    """Builds IRCoT requests and reads sentences and forced answers."""

    def __init__(self, recorder: StepRecorder, options: IRCoTOptions) -> None:
        self.recorder = recorder
        self.opts = options

    def request(self, question: str, passages: list[Passage], cot: list[str], *,
                answer_cue: bool = False) -> GenerationRequest:
        items = [(escape_retrieved(p.title), escape_retrieved(cut_text(p.text, self.opts.passage_chars)))
                 for p in passages]
        prefix = prompts.assistant_prefix(cot)
        if answer_cue:
            prefix = f"{prefix} {prompts.ANSWER_CUE}"
        return GenerationRequest(
            messages=[
                ChatMessage(role="system", content=prompts.SYSTEM),
                ChatMessage(role="user", content=prompts.user_message(
                    question[: self.opts.max_question_chars], items)),
                ChatMessage(role="assistant", content=prefix),
            ],
            continue_assistant=True,
            stop=prompts.STOP,
            max_tokens=self.opts.answer_max_tokens if answer_cue else self.opts.step_max_tokens,
            temperature=self.opts.temperature,
            seed=self.opts.seed,
        )

    async def force_answer(self, question: str, passages: list[Passage], cot: list[str],
                           usage: Usage) -> tuple[str, list[TraceEvent]]:
        """Ask for the answer right after "So the answer is:"."""
        response, elapsed = await self.recorder.generate(
            self.request(question, passages, cot, answer_cue=True), usage)
        text = extract_answer(response.text)
        events: list[TraceEvent] = [think_event(response, elapsed, text=f"(forced answer) {text}")]
        problem = output_problem(response, text)
        if problem is not None:
            events.append(problem)
        return text, events


def read_step(text: str) -> tuple[str, str | None]:
    """The sentence a step's output adds to the chain, and the answer if it gives one.

    Output is cleaned of tags and fake information and cut to its first sentence, unless
    it says "the answer is": then the whole line is kept and the answer read from it."""
    cleaned = clean_step(text)
    if _ANSWER_IS.search(cleaned):
        return cleaned, extract_answer(cleaned)
    return first_sentence(cleaned), None


def step_problem(sentence: str, cot: list[str]) -> ErrorEvent | None:
    """Why a sentence cannot continue the chain (empty, or a repeat: the model is looping)."""
    if not sentence:
        return ErrorEvent(message="the model wrote no sentence", code="empty_output")
    if sentence in cot:
        return ErrorEvent(message=f"the model repeated itself: {sentence!r}", code="repetition")
    return None


__all__ = [
    "IRCoTOptions",
    "IRCoTReasoner",
    "read_step",
    "step_problem",
]
