"""A deterministic test double for ``sleuth eval run --engine scripted``. Not a model.

It lets the harness (resume after a kill, concurrency, reports) be tested end to end in a
subprocess without model weights. Its replies follow the prompt protocols of the built-in
methods, so every method runs its full control flow:

* Search-R1 transcripts: search for the question first; once ``<information>`` has come
  back, answer with the title of the first document.
* Prompts listing ``Documents:`` (standard RAG): answer with the first document's title.
* Anything else (no retrieval): ``unknown``.

Its scores mean nothing; never report them as results.
"""

from __future__ import annotations

import asyncio
import re

from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.engines.scripted import ScriptedEngine

_QUESTION = re.compile(r"Question:\s*(.+)")
_TITLE = re.compile(r"Doc 1 \(Title: (.*?)\) ")


def _last_question(text: str) -> str:
    found = _QUESTION.findall(text)
    return found[-1].strip() if found else text.strip().splitlines()[-1][:200]


def scripted_reply(request: GenerationRequest) -> str:
    """The double's reply to one request (a pure function of the request)."""
    messages = request.messages or []
    prompt = request.prompt or "\n".join(m.content for m in messages)
    transcript = messages[-1].content if request.continue_assistant and messages else ""
    if "<search>" in prompt and request.continue_assistant:
        info = transcript.rsplit("<information>", 1)
        if len(info) == 1:
            return f"I should look this up.</think>\n<search>{_last_question(prompt)}</search>"
        title = _TITLE.search(info[1])
        answer = title.group(1) if title else "unknown"
        return f"The first document answers it.</think>\n<answer>{answer}</answer>"
    if "Documents:" in prompt:
        docs = prompt.rsplit("Documents:", 1)[1]
        title = _TITLE.search(docs)
        return f" {title.group(1)}" if title else " unknown"
    return " unknown"


class SlowEngine:
    """Delays each reply of an inner engine by ``delay_s`` seconds (to make a run killable)."""

    def __init__(self, inner: ScriptedEngine, delay_s: float) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.name = f"{inner.name}+delay"

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        await asyncio.sleep(self.delay_s)
        return await self.inner.generate(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def scripted_eval_engine(delay_s: float = 0.0) -> ScriptedEngine | SlowEngine:
    """The test double behind ``--engine scripted`` (``--scripted-delay`` sets ``delay_s``)."""
    engine = ScriptedEngine(responder=scripted_reply)
    return SlowEngine(engine, delay_s) if delay_s > 0 else engine


__all__ = ["SlowEngine", "scripted_eval_engine", "scripted_reply"]
