"""The EvidenceLoop agent's model steps: write an evidence note, draft an answer from the
ledger, verify it, and plan the query for the missing hop.

Verification has two parts: an LLM judge ("do the facts support this answer?") and a cheap
check that the answer string occurs in a passage the ledger cites. ``verify`` says how
they combine. By default (``"hybrid"``) the string check must pass, and the judge must agree
too when the string check cannot decide (yes/no answers) or when some name the question uses
has no page of its own among the passages read, so that the loop knows it only from other
pages' mentions. An answer that is such a name ("Which is a comedy film, A or B?" → "B", with
no page on B read) is a guess whatever the judge says: the loop searches for its page
instead. ``"both"`` always asks the judge.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from typing import Literal

from pydantic import Field, model_validator

from sleuth.agents.answers import (
    clean_step,
    first_sentence,
    is_non_answer,
    mismatched_yes_no,
)
from sleuth.agents.coverage import (
    echoes_question,
    fold,
    unconnected_names,
    uncovered_names,
    unpaged_names,
)
from sleuth.agents.evidence import format_documents, format_passages, normalize_answer
from sleuth.agents.gate import GateOptions
from sleuth.agents.ledger import EvidenceLedger, EvidenceNote, parse_note, string_check
from sleuth.agents.prompts import evidence_loop as prompts
from sleuth.agents.reader import Reader, ReaderOptions, is_reasoned, output_problem, think_event
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import ChatMessage, GenerationRequest, GenerationResponse
from sleuth.types import Passage, SearchHit, StrictModel, TraceEvent, Usage

Judgement = Literal["yes", "no", "unclear", "skipped"]
VerifyMode = Literal["hybrid", "both", "judge", "string", "either"]
Unsupported = Literal["abstain", "best-draft"]
DraftFrom = Literal["notes", "documents"]
UNVERIFIED_NOTE = "unverified"
"""The note kind that marks an answer given without verification (``on_unsupported``)."""


class EvidenceLoopOptions(ReaderOptions):  # type: ignore[misc, unused-ignore]  # mypy cannot map sleuth.agents
    top_k: int = Field(default=4, ge=1, le=20)
    """Passages per search."""
    max_searches: int = Field(default=4, ge=0, le=16)
    """Searches before the agent gives up and abstains."""
    note_max_tokens: int = Field(default=160, ge=16, le=1024)
    plan_max_tokens: int = Field(default=24, ge=4, le=128)
    verify: VerifyMode = "hybrid"
    """How the judge and the string check combine into "supported" (see :func:`combine`).
    ``"hybrid"`` asks the judge only about yes/no answers and about answers to questions
    with a name that no page read is named after; on the replayed runs in docs/methods.md
    ("One setting for both refusals") it refused as many masked questions as ``"both"``
    within two, and half as many answerable ones."""
    judge_min_p_yes: float = Field(default=0.25, gt=0.0, lt=1.0)
    """The judge says "yes" when its probability of "yes" reaches this (read from the first
    token's log-probability; engines without log-probabilities use the greedy word). 0.25 was
    tuned for Qwen2.5-Coder-1.5B on hotpotqa-tune, whose greedy judge said "no" to every
    correct answer there (its P(yes) stays below 0.5); see docs/methods.md."""
    passage_chars: int = Field(default=500, ge=50)
    draft_passages: int = Field(default=8, ge=0, le=32)
    """Passages the draft reads besides the notes: those the ledger cites first, then the
    others read so far, in the order they were found. 0 drafts from the notes alone (prompt
    evidence-loop/1), which lost the facts a small model left out of its notes; see
    docs/methods.md."""
    draft_from: DraftFrom = "notes"
    """What the draft reads: ``"notes"``, the notes and up to ``draft_passages`` passages
    (prompt evidence-loop/2); ``"documents"``, the same passages without the notes, through
    standard-rag's reader prompt (baselines/1), so that the first draft is standard-rag's
    answer over the loop's first search. The notes still fill the ledger, which the string
    check and the judge read. On the runs in docs/methods.md the notes led a small model to
    draft the wrong entity from pages standard-rag answered right from ("Drafting from the
    documents")."""
    coverage: bool = True
    """Also require every name the question uses to occur in some passage read; a name none
    mentions is the missing hop, and the next search looks for it (no model call). A draft
    that only repeats the question's one name fails too. See :mod:`sleuth.agents.coverage`
    and docs/methods.md."""
    connect: bool = False
    """Stricter still (with ``coverage``): each name must occur near the answer, in a passage
    that holds it or one title-linked to such a passage; a name that does not is searched for
    together with the answer (no model call) before the draft fails. Off by default: on the
    runs replayed in docs/methods.md it failed 3 of 52 right answers to catch 9 of 35 wrong
    ones."""
    on_unsupported: Unsupported = "abstain"
    """What to give when the search budget is spent and no draft was verified: ``"abstain"``
    (no answer, with the reason), or ``"best-draft"``: the drafts' majority (ties to the
    earliest), marked as unverified (the answer event is ``forced`` and a note says why).
    For benchmarks that score every question; see docs/methods.md ("Unverified answers")."""
    gate: GateOptions | None = None
    """A retrieve-or-answer gate in front of the loop (``None``: always run the loop)."""

    @model_validator(mode="after")
    def _documents_to_draft_from(self) -> EvidenceLoopOptions:
        if self.draft_from == "documents" and self.draft_passages == 0:
            raise ValueError('draft_from="documents" drafts from the passages alone, so draft_passages must be at '
                             'least 1 (draft_passages=0 is for draft_from="notes")')
        return self


FailedCheck = Literal["no answer", "echo", "answer unpaged", "name missing", "name unlinked", "string check", "judge"]
"""What rejected a draft (:meth:`Verification.failed_check`)."""


class Verification(StrictModel):
    answer: str
    judge: Judgement
    string_check: bool | None
    """Whether a cited passage contains the answer; ``None`` for yes/no answers."""
    supported: bool
    reason: str
    missing: list[str] = Field(default_factory=list)
    """Search queries for the question's names that no passage read mentions (coverage), or
    for the name the answer is when no page on it was read (hybrid)."""
    unlinked: list[str] = Field(default_factory=list)
    """The question's names that passages read mention, but none near the answer (connect)."""
    unpaged: list[str] = Field(default_factory=list)
    """With ``verify="hybrid"``: the question's names that no page read is named after, which
    is why the judge was asked."""
    no_answer: bool = False
    """The draft answers nothing: empty, "unknown", or a yes or no to a question that asks for
    a thing. ``on_unsupported="best-draft"`` does not vote for it."""

    def next_queries(self) -> list[str]:
        """What to search for next without asking the model: the missing names, then each
        unlinked name together with the answer."""
        return [*self.missing, *(f"{self.answer} {name}" for name in self.unlinked)]

    def failed_check(self, mode: str) -> FailedCheck:
        """The check that rejected this draft (one not supported under ``mode``): the first
        that failed, in the order :meth:`DraftChecks.verification` applies them. Reads the
        fields alone, so it works on the verification notes of recorded traces too."""
        if self.no_answer:
            return "no answer"
        if self.missing:
            paged = self.unpaged and fold(self.answer) in {fold(name) for name in self.missing}
            return "answer unpaged" if paged else "name missing"
        if self.unlinked:
            return "name unlinked"
        if self.judge == "skipped" and self.string_check is None:
            return "echo"  # the only rejection that neither asks the judge nor reads the passages
        return "string check" if self.string_check is False and mode != "judge" else "judge"


def next_search(queries: Iterable[str], tried: Iterable[str]) -> str | None:
    """The first of ``queries`` (a verification's :meth:`~Verification.next_queries`) not
    searched yet, as :meth:`EvidenceAgent.plan` picks it; ``None``: the model plans."""
    seen = {normalize_answer(q) for q in tried}
    return next((q for q in queries if normalize_answer(q) not in seen), None)


def combine(mode: str, judge: Judgement, found: bool | None, unpaged: bool = False) -> bool:
    """Whether the answer counts as supported under ``mode``. ``unpaged``: some name the
    question uses has no page of its own among the passages read (``"hybrid"`` then needs
    the judge as well as the string check)."""
    if mode == "hybrid":
        if found is None:
            return judge == "yes"
        return found and (not unpaged or judge == "yes")
    if mode == "judge":
        return judge == "yes"
    if mode == "string":
        return found if found is not None else judge == "yes"
    if mode == "either":
        return judge == "yes" or found is True
    return judge == "yes" and found is not False


def read_judgement(text: str) -> Judgement:
    words = normalize_answer(text).split()
    if words and words[0] in ("yes", "no"):
        return "yes" if words[0] == "yes" else "no"
    return "unclear"


def p_yes(response: GenerationResponse) -> float | None:
    """The judge's probability of "yes": the first token's probability if it said yes, its
    complement if it said no; ``None`` without log-probabilities or a yes/no word."""
    said = read_judgement(response.text)
    if not response.logprobs or said not in ("yes", "no"):
        return None
    p = math.exp(response.logprobs[0].logprob)
    return p if said == "yes" else 1.0 - p


_JUDGE_NOTE = re.compile(r"^\[judge\] \w+ \(p_yes ([0-9.]+)(?:, min ([0-9.]+))?\)")


def judge_note(judge: Judgement, prob: float | None, min_p_yes: float | None = None) -> str:
    """The judge's trace line: its verdict, and its P(yes) to two decimals when the engine
    gave log-probabilities, with the threshold it was held to ("[judge] yes (p_yes 0.29, min
    0.25)"), so a replay knows it whatever the defaults are by then."""
    if prob is None:
        return f"[judge] {judge}"
    return f"[judge] {judge} (p_yes {prob:.2f}, min {min_p_yes:g})" if min_p_yes is not None \
        else f"[judge] {judge} (p_yes {prob:.2f})"


def noted_judge(text: str) -> tuple[float, float | None] | None:
    """The P(yes) a :func:`judge_note` line shows, and the threshold it states (``None`` for
    lines written before notes stated it, 2026-11-30); ``None`` for other lines or without a
    P(yes)."""
    shown = _JUDGE_NOTE.match(text)
    if not shown:
        return None
    return float(shown.group(1)), float(shown.group(2)) if shown.group(2) else None


def draft_documents(read: list[Passage], ledger: EvidenceLedger, limit: int) -> list[Passage]:
    """Up to ``limit`` of the passages read: the ones the ledger cites first, then the rest,
    shown in the order they were found."""
    cited = [p for p in read if p.id in ledger.passages]
    rest = [p for p in read if p.id not in ledger.passages]
    keep = {p.id for p in (cited + rest)[:limit]}
    return [p for p in read if p.id in keep]


class DraftChecks(StrictModel):
    """The model-free checks on a draft: everything verification decides besides the judge.

    :meth:`EvidenceAgent.verify` asks the judge when :meth:`needs_judge` says so, and
    :mod:`sleuth.evals.replay_verify` re-runs these checks on recorded traces with the
    judge's recorded verdicts."""

    answer: str
    empty: str = ""
    """Why a non-answer ("unknown", "", a yes to "What ...?") is no answer; "" for a real draft."""
    missing: list[str] = Field(default_factory=list)
    echo: bool = False
    unlinked: list[str] = Field(default_factory=list)
    found: bool | None = None
    unpaged: list[str] = Field(default_factory=list)
    unpaged_answer: str = ""
    """With ``verify="hybrid"``: the unpaged name that the answer is ("Don Quixote" for "Which
    is a comedy film, The Million Dollar Duck or Don Quixote?" when no page on it was read)."""

    def needs_judge(self, mode: str) -> bool:
        """Skip the judge when a name check or the non-answer check has failed the draft,
        when the cheap check decides alone (string mode; hybrid mode when every name the
        question uses has a page read), or when it has already failed an answer that needs
        both."""
        if self.empty or self.echo or self.missing or self.unlinked or self.unpaged_answer:
            return False
        if mode == "string":
            return self.found is None
        if mode == "hybrid":
            return self.found is None or (self.found and bool(self.unpaged))
        return not (mode == "both" and self.found is False)

    def verification(self, mode: str, judge: Judgement) -> Verification:
        """The verdict under ``mode`` with the judge's answer (``"skipped"`` when not asked)."""
        names = f"; question names no passage read mentions: {', '.join(map(repr, self.missing))}" \
            if self.missing else ""
        if self.empty:
            return Verification(answer=self.answer, judge="skipped", string_check=None, supported=False,
                                reason=self.empty + names, missing=self.missing, no_answer=True)
        if self.echo:
            return Verification(answer=self.answer, judge="skipped", string_check=None, supported=False,
                                reason="the answer only repeats the name the question gives")
        if self.unpaged_answer and not self.missing and not self.unlinked:
            return Verification(answer=self.answer, judge="skipped", string_check=self.found, supported=False,
                                reason=f"the answer is a name the question gives, and no page read is about it: "
                                       f"{self.unpaged_answer!r}",
                                missing=[self.unpaged_answer], unpaged=self.unpaged)
        supported = combine(mode, judge, self.found, bool(self.unpaged)) and not self.missing and not self.unlinked
        far = f"; no passage near the answer mentions: {', '.join(map(repr, self.unlinked))}" if self.unlinked else ""
        second_hand = (f"; judge asked: no page read is named {', '.join(map(repr, self.unpaged))}"
                       if self.unpaged and not self.missing and not self.unlinked else "")
        found = self.found
        reason = (f"judge: {judge}; answer string "
                  f"{'n/a (yes/no)' if found is None else 'found' if found else 'not found'} in cited passages"
                  f"{names}{far}{second_hand}")
        return Verification(answer=self.answer, judge=judge, string_check=found, supported=supported,
                            reason=reason, missing=self.missing, unlinked=self.unlinked, unpaged=self.unpaged)


def check_draft(question: str, answer: str, ledger: EvidenceLedger, context: list[Passage],
                titled: list[Passage], opts: EvidenceLoopOptions) -> DraftChecks:
    """Run the model-free checks on ``answer``. ``context``: passages found by searching for the
    question (they cover a name anywhere in their text); ``titled``: pages a search for a bare
    name kept (they cover it by their title only)."""
    missing = uncovered_names(question, context, titled) if opts.coverage else []
    if is_non_answer(answer):
        why = "no evidence gathered yet" if not ledger.claims else "the facts do not give an answer"
        return DraftChecks(answer=answer, empty=why, missing=missing)
    if mismatched_yes_no(question, answer):
        return DraftChecks(answer=answer, empty="a yes or no does not answer a question that asks for a thing",
                           missing=missing)
    if opts.coverage and not missing and echoes_question(question, answer):
        return DraftChecks(answer=answer, echo=True)
    unlinked = unconnected_names(question, answer, context, titled) if opts.coverage and opts.connect \
        and not missing else []
    found = string_check(answer, ledger)
    unpaged = unpaged_names(question, [*context, *titled]) if opts.verify == "hybrid" and found else []
    named = [name for name in unpaged if fold(name) == fold(answer)]
    return DraftChecks(answer=answer, missing=missing, unlinked=unlinked, found=found, unpaged=unpaged,
                       unpaged_answer=named[0] if named else "")


class EvidenceAgent:
    def __init__(self, recorder: StepRecorder, options: EvidenceLoopOptions) -> None:
        self.recorder = recorder
        self.opts = options
        self.reader = Reader(recorder, options)

    def _request(self, user: str, start: str, stop: list[str], max_tokens: int) -> GenerationRequest:
        return GenerationRequest(
            messages=[
                ChatMessage(role="system", content=prompts.SYSTEM),
                ChatMessage(role="user", content=user),
                ChatMessage(role="assistant", content=start),
            ],
            continue_assistant=True,
            stop=stop,
            max_tokens=max_tokens,
            temperature=self.opts.temperature,
            seed=self.opts.seed,
        )

    def question(self, question: str) -> str:
        return question[: self.opts.max_question_chars]

    async def note(self, question: str, hits: list[SearchHit], hop: int,
                   usage: Usage) -> tuple[EvidenceNote, list[TraceEvent]]:
        """Write the note for one search's passages (no call when nothing was found)."""
        passages = [h.passage for h in hits]
        if not hits:
            return EvidenceNote(hop=hop, text="No useful evidence. (the search found nothing)"), []
        docs = format_documents(hits, self.opts.passage_chars)
        request = self._request(prompts.note_message(self.question(question), docs),
                                prompts.NOTE_START, prompts.NOTE_STOP, self.opts.note_max_tokens)
        response, elapsed = await self.recorder.generate(request, usage)
        note = parse_note(prompts.NOTE_START + response.text, passages, hop)
        return note, [think_event(response, elapsed, text=f"[note] {response.text.strip()}")]

    async def draft(self, question: str, ledger: EvidenceLedger, read: list[Passage],
                    usage: Usage) -> tuple[str, list[TraceEvent]]:
        """A short answer from the ledger's facts and the passages read so far, or from the
        passages alone (``draft_from``); no call while the ledger is empty."""
        if not ledger.claims:
            return "", []
        shown = draft_documents(read, ledger, self.opts.draft_passages)
        if self.opts.draft_from == "documents":
            request = self.reader.passages_request(question, shown)
        else:
            documents = format_passages(shown, self.opts.passage_chars) if shown else ""
            user = prompts.draft_message(self.question(question), ledger.facts_text(), documents)
            request = self._request(user, prompts.DRAFT_START, prompts.LINE_STOP, self.opts.answer_max_tokens)
        response, elapsed = await self.recorder.generate(request, usage)
        answer: str = self.reader.read(request, response.text)
        shown_text = f"[draft] {answer}"
        if is_reasoned(request):
            shown_text += f" [reasoning] {response.text.strip()}"
        events: list[TraceEvent] = [think_event(response, elapsed, text=shown_text)]
        problem = output_problem(response, answer)
        if problem is not None:
            events.append(problem)
        return answer, events

    async def verify(self, question: str, ledger: EvidenceLedger, answer: str, read: list[Passage],
                     usage: Usage, context_ids: Collection[str] | None = None) -> tuple[Verification, list[TraceEvent]]:
        """Judge and string-check ``answer``, and (``coverage``) look for every name the question
        uses in ``read``: in the text of the passages in ``context_ids`` (found by searching for
        the question; all of ``read`` when ``None``), in the titles of the others (found by
        searching for a bare name)."""
        context = [p for p in read if context_ids is None or p.id in context_ids]
        titled = [p for p in read if context_ids is not None and p.id not in context_ids]
        checks = check_draft(self.question(question), answer, ledger, context, titled, self.opts)
        events: list[TraceEvent] = []
        judge: Judgement = "skipped"
        if checks.needs_judge(self.opts.verify):
            judge, events = await self._judge(question, ledger, answer, usage)
        return checks.verification(self.opts.verify, judge), events

    def judge_request(self, question: str, facts: str, answer: str) -> GenerationRequest:
        """The judge's request: does ``facts`` show that ``answer`` answers ``question``?
        Marked ``role="judge"``, so that a run can give the judge an engine of its own."""
        user = prompts.judge_message(self.question(question), facts, answer)
        request = self._request(user, prompts.JUDGE_START, prompts.LINE_STOP, 4)
        return request.model_copy(update={"logprobs": True, "role": "judge"})

    async def _judge(self, question: str, ledger: EvidenceLedger, answer: str,
                     usage: Usage) -> tuple[Judgement, list[TraceEvent]]:
        request = self.judge_request(question, ledger.facts_text(), answer)
        response, elapsed = await self.recorder.generate(request, usage)
        judge = read_judgement(response.text)
        prob = p_yes(response)
        if prob is not None:
            judge = "yes" if prob >= self.opts.judge_min_p_yes else "no"
        return judge, [think_event(response, elapsed, text=judge_note(judge, prob, self.opts.judge_min_p_yes))]

    async def plan(self, question: str, ledger: EvidenceLedger, tried: list[str],
                   usage: Usage, missing: list[str] | None = None) -> tuple[str, list[TraceEvent]]:
        """The next search query: the first of ``missing`` not searched yet (the names no
        passage read mentions, then names to link to the answer: see
        :meth:`Verification.next_queries`; no model call), else the model's query for the missing
        fact. A repeat or an empty query falls back to the question plus the newest fact, and
        "" means nothing new is left to try."""
        seen = {normalize_answer(q) for q in tried}
        name = next_search(missing or [], tried)
        if name is not None:
            return name, []
        user = prompts.plan_message(self.question(question), ledger.facts_text(), [q[:200] for q in tried])
        request = self._request(user, prompts.PLAN_START, prompts.LINE_STOP, self.opts.plan_max_tokens)
        response, elapsed = await self.recorder.generate(request, usage)
        query: str = first_sentence(clean_step(response.text, 300)).strip(" \"'")
        events: list[TraceEvent] = [think_event(response, elapsed, text=f"[plan] {query}")]
        if not query or normalize_answer(query) in seen:
            newest = ledger.claims[-1].text if ledger.claims else ""
            query = f"{self.question(question)[:300]} {newest}".strip()
            if normalize_answer(query) in seen:
                query = ""
        return query, events


__all__ = ["UNVERIFIED_NOTE", "DraftChecks", "DraftFrom", "EvidenceAgent", "EvidenceLoopOptions", "FailedCheck", "Unsupported", "Verification",
           "VerifyMode", "check_draft", "combine", "draft_documents", "judge_note", "next_search", "noted_judge", "read_judgement"]
