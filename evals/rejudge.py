"""Ask EvidenceLoop's judge again about the drafts recorded runs judged, shown the evidence
another way, and measure how well each way separates right answers from the rest.

:mod:`sleuth.evals.replay_verify` replays the model-free checks and reuses the judge's recorded
verdicts. This module re-asks the judge instead, on exactly the drafts it was asked about, with
the facts it had then (the evidence ledger, rebuilt from the trace) or with something else in
their place:

- ``notes``: the judge's own input, the facts of the evidence notes (a check that the engine
  reproduces the recorded P(yes));
- ``passages``: the text of the passages the notes cite, instead of the notes;
- ``null-answer``: the notes with the answer replaced by "N/A": the judge's prior for these
  facts. Contextual calibration (Zhao et al., 2021) scores a draft by its recorded P(yes)
  minus this one.

A draft is *right* when its question's evidence was not masked and its F1 against the gold
answer is at least 0.5; the rest are masked drafts (the evidence is gone, whatever the
answer) and wrong ones. A good judge ranks right drafts above the rest: :func:`separation`
is that probability (the area under the ROC curve), 0.5 for a coin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from sleuth.agents.evidence_steps import EvidenceAgent, EvidenceLoopOptions, p_yes
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import LLMEngine
from sleuth.evals.metrics import f1_score
from sleuth.evals.replay_verify import PageLookup, verification_points
from sleuth.evals.rundir import latest_rows
from sleuth.types import Passage, StrictModel

JudgeInput = Literal["notes", "passages", "null-answer"]
JUDGE_INPUTS: tuple[JudgeInput, ...] = ("notes", "passages", "null-answer")
NULL_ANSWER = "N/A"
PASSAGE_CHARS = 500
"""Characters of each cited passage shown with ``passages``: the notes' prompt stays about as
long as with the notes (four notes of a few sentences each)."""


class JudgedDraft(StrictModel):
    """A draft a recorded run asked its judge about, with what the judge was shown."""

    run: str
    id: str
    step: int
    """Which of the question's verifications (from 0): a question may be judged more than
    once, on the same answer too."""
    masked: bool
    question: str
    answer: str
    f1: float
    recorded_p_yes: float
    facts: str
    cited: list[Passage]

    @property
    def right(self) -> bool:
        return not self.masked and self.f1 >= 0.5

    @property
    def key(self) -> tuple[str, str, int]:
        return self.run, self.id, self.step


class Rejudged(StrictModel):
    """One draft's P(yes) under one way of showing the evidence (a line of the output file)."""

    run: str
    id: str
    step: int
    answer: str
    recorded_p_yes: float
    masked: bool
    right: bool
    input: str
    p_yes: float | None
    said: str
    prompt_tokens: int = 0

    @property
    def key(self) -> tuple[str, str, int, str]:
        return self.run, self.id, self.step, self.input


def judged_drafts(rows: Iterable[dict[str, Any]], pages: PageLookup, run: str = "") -> list[JudgedDraft]:
    """Every draft the judge said yes or no to with a P(yes) shown, from the latest result of
    each question."""
    drafts: list[JudgedDraft] = []
    for row in latest_rows(list(rows)):
        gold = [str(g) for g in row.get("gold") or []]
        for step, point in enumerate(verification_points(row, pages)):
            if point.data.get("judge") not in ("yes", "no") or point.p_yes is None:
                continue
            answer = str(point.data.get("answer") or "")
            drafts.append(JudgedDraft(
                run=run, id=str(row["id"]), step=step, masked=bool(row.get("masked")), question=str(row["question"]),
                answer=answer, f1=f1_score(answer, gold), recorded_p_yes=point.p_yes,
                facts=point.ledger.facts_text(), cited=point.ledger.cited(),
            ))
    return drafts


def judge_input(draft: JudgedDraft, shown: JudgeInput) -> tuple[str, str]:
    """The facts and the answer the judge is shown."""
    if shown == "passages":
        facts = "\n".join(f"{i}. ({p.title}) {p.text[:PASSAGE_CHARS]}" for i, p in enumerate(draft.cited, 1))
        return facts, draft.answer
    return draft.facts, NULL_ANSWER if shown == "null-answer" else draft.answer


def pending(drafts: list[JudgedDraft], inputs: Iterable[JudgeInput],
            done: set[tuple[str, str, int, str]]) -> list[tuple[JudgedDraft, JudgeInput]]:
    """Each draft with each input whose judgement is not in ``done`` (keys of :class:`Rejudged`)."""
    shown_as = list(inputs)
    return [(draft, shown) for draft in drafts for shown in shown_as if (*draft.key, shown) not in done]


async def rejudge(engine: LLMEngine, todo: list[tuple[JudgedDraft, JudgeInput]], sink: Callable[[Rejudged], None],
                  options: EvidenceLoopOptions | None = None) -> None:
    """Ask the judge about each draft with its input (see :func:`pending`), one at a time,
    handing each result to ``sink`` as it comes (append it to a file: the work is resumable)."""
    agent = EvidenceAgent(StepRecorder(engine, None), options or EvidenceLoopOptions())
    for draft, shown in todo:
        facts, answer = judge_input(draft, shown)
        response = await engine.generate(agent.judge_request(draft.question, facts, answer))
        sink(Rejudged(run=draft.run, id=draft.id, step=draft.step, answer=draft.answer,
                      recorded_p_yes=draft.recorded_p_yes, masked=draft.masked, right=draft.right, input=shown,
                      p_yes=p_yes(response), said=response.text.strip()[:20], prompt_tokens=response.prompt_tokens))


def separation(scored: Iterable[tuple[bool, float]]) -> float | None:
    """The probability that a right draft scores above a draft that is not (ties count half):
    the area under the ROC curve. None without both kinds."""
    pairs = list(scored)
    right = [s for r, s in pairs if r]
    rest = [s for r, s in pairs if not r]
    if not right or not rest:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in right for b in rest)
    return wins / (len(right) * len(rest))


def scores(results: Iterable[Rejudged]) -> dict[str, list[tuple[bool, bool, float]]]:
    """(right, masked, score) per way of judging: ``recorded`` (the run's own P(yes)), each
    input's P(yes), and ``notes - null-answer`` (the recorded P(yes) minus the null answer's)."""
    by_draft: dict[tuple[str, str, int], dict[str, Rejudged]] = {}
    for r in results:
        by_draft.setdefault(r.key[:3], {})[r.input] = r
    out: dict[str, list[tuple[bool, bool, float]]] = {"recorded": []}
    for shown in by_draft.values():
        first = next(iter(shown.values()))
        out["recorded"].append((first.right, first.masked, first.recorded_p_yes))
        for name, r in shown.items():
            if r.p_yes is not None:
                out.setdefault(name, []).append((r.right, r.masked, r.p_yes))
        null = shown.get("null-answer")
        if null is not None and null.p_yes is not None:
            out.setdefault("notes - null-answer", []).append((first.right, first.masked,
                                                              first.recorded_p_yes - null.p_yes))
    return out


def format_separation(results: Iterable[Rejudged]) -> str:
    """A table: for each way of judging, the drafts scored and its separation of right drafts
    from all others and from masked ones."""
    lines = ["| judged on | drafts | right | right vs all others | right vs masked |", "|---|---:|---:|---:|---:|"]
    for name, rows in scores(results).items():
        vs_all = separation((r, s) for r, _, s in rows)
        vs_masked = separation((r, s) for r, m, s in rows if r or m)
        lines.append(f"| {name} | {len(rows)} | {sum(r for r, _, _ in rows)} | {_fmt(vs_all)} | {_fmt(vs_masked)} |")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


__all__ = ["JUDGE_INPUTS", "JudgeInput", "JudgedDraft", "Rejudged", "format_separation", "judge_input", "judged_drafts",
           "pending", "rejudge", "scores", "separation"]
