"""The adaptive retrieve-or-answer gate: retrieve only when the model needs evidence.

A gate is split in two so that a trained classifier can drop in:

* :class:`GateStep` collects training-free *signals* about a draft (one engine call with
  token log-probabilities, ``n`` sampled drafts, a probe search), and
* a :class:`RetrievalGate` maps those :class:`GateSignals` to a :class:`GateDecision`.
  It is pure and cheap: a threshold rule or a classifier over :meth:`GateSignals.features`.

Built-in gates (names for :class:`GateOptions.kind`)::

    always            retrieve every time (the reference the others save against)
    token-confidence  FLARE: retrieve if any draft token has probability < theta
    mean-confidence   retrieve if the draft's mean token probability < mean_theta
    agreement         retrieve if fewer than min_agreement of n sampled drafts agree
    margin            retrieve if the top retrieval score stands out from the runner-up
    any               retrieve if any gate named in ``combine`` says so
    record            never retrieve; collect every draft signal (token probabilities and
                      samples) so ``sleuth eval tune-gate`` can pick a gate offline

Register another with :func:`register_gate` (for example a :class:`ClassifierGate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pydantic import Field

from sleuth.agents.answers import extract_answer, is_non_answer, majority
from sleuth.agents.reader import think_event
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.errors import ConfigError
from sleuth.types import NoteEvent, SearchHit, StrictModel, TraceEvent, Usage

SIGNALS = frozenset({"logprobs", "samples", "probe"})


class GateOptions(StrictModel):
    """Which gate to use and its thresholds."""

    kind: str = "token-confidence"
    """A registered gate name (see the module docstring)."""
    theta: float = Field(default=0.4, gt=0.0, lt=1.0)
    """token-confidence: retrieve when any draft token's probability is below this."""
    mean_theta: float = Field(default=0.5, gt=0.0, lt=1.0)
    """mean-confidence: retrieve when the draft tokens' mean probability is below this."""
    samples: int = Field(default=3, ge=2, le=16)
    """agreement: drafts sampled (the greedy draft plus samples - 1 at sample_temperature)."""
    sample_temperature: float = Field(default=0.7, gt=0.0)
    min_agreement: float = Field(default=0.6, gt=0.0, le=1.0)
    """agreement: retrieve when the majority draft's share is below this."""
    min_margin: float = Field(default=0.1, ge=0.0)
    """margin: retrieve when (top1 - top2) / |top1| is at least this."""
    probe_k: int = Field(default=5, ge=2, le=50)
    """margin: passages fetched by the probe search (reused if the gate says retrieve)."""
    combine: list[str] = Field(default_factory=lambda: ["token-confidence", "agreement"])
    """any: the gates to combine."""


class GateSignals(StrictModel):
    """What the gate knows about a draft when it decides."""

    draft: str = ""
    min_token_prob: float | None = None
    mean_token_prob: float | None = None
    samples: list[str] = Field(default_factory=list)
    agreement: float | None = None
    top_score: float | None = None
    score_margin: float | None = None

    def features(self) -> list[float]:
        """A fixed-length vector for classifiers; a missing signal is -1."""
        def val(x: float | None) -> float:
            return -1.0 if x is None else float(x)

        return [
            val(self.min_token_prob), val(self.mean_token_prob), val(self.agreement),
            val(self.score_margin), 1.0 if is_non_answer(self.draft) else 0.0,
            float(len(self.draft.split())),
        ]


class GateDecision(StrictModel):
    retrieve: bool
    gate: str
    reason: str
    signals: GateSignals


@runtime_checkable
class RetrievalGate(Protocol):
    """Decides from signals whether to retrieve. ``needs`` names the signals it reads."""

    name: str
    needs: frozenset[str]

    def decide(self, signals: GateSignals) -> GateDecision: ...


class AlwaysRetrieveGate:
    name = "always"
    needs: frozenset[str] = frozenset()

    def decide(self, signals: GateSignals) -> GateDecision:
        return GateDecision(retrieve=True, gate=self.name, reason="always retrieves", signals=signals)


class _ProbabilityGate:
    """Retrieve when a token-probability signal of the draft is below ``theta``, when the
    engine gave no probabilities, or when the draft is no answer."""

    name = ""
    needs = frozenset({"logprobs"})
    signal = ""
    """The :class:`GateSignals` field compared with ``theta``."""

    def __init__(self, theta: float) -> None:
        self.theta = theta

    def decide(self, signals: GateSignals) -> GateDecision:
        value = getattr(signals, self.signal)
        if is_non_answer(signals.draft):
            retrieve, reason = True, "the draft is no answer"
        elif value is None:
            retrieve, reason = True, "the engine returned no token probabilities"
        else:
            retrieve = value < self.theta
            label = self.signal.removesuffix("_token_prob")
            reason = f"{label} token prob {value:.3f} {'<' if retrieve else '>='} theta {self.theta}"
        return GateDecision(retrieve=retrieve, gate=self.name, reason=reason, signals=signals)


class TokenConfidenceGate(_ProbabilityGate):
    """FLARE's rule: a draft with any token below ``theta`` probability needs evidence."""

    name = "token-confidence"
    signal = "min_token_prob"

    def __init__(self, theta: float = 0.4) -> None:
        super().__init__(theta)


class MeanConfidenceGate(_ProbabilityGate):
    """Like FLARE's rule, on the mean token probability: one unsure token in a long, otherwise
    confident answer (a middle initial, a second word of a name) does not force retrieval."""

    name = "mean-confidence"
    signal = "mean_token_prob"

    def __init__(self, theta: float = 0.5) -> None:
        super().__init__(theta)


class RecordSignalsGate:
    """Never retrieves, and asks for every draft signal: a run with it records what any gate
    would have seen, so thresholds can be tuned offline against an always-retrieve run."""

    name = "record"
    needs = frozenset({"logprobs", "samples"})

    def decide(self, signals: GateSignals) -> GateDecision:
        return GateDecision(retrieve=False, gate=self.name, reason="records signals only", signals=signals)


class DraftAgreementGate:
    """Self-consistency: drafts that disagree mean the model is guessing."""

    name = "agreement"
    needs = frozenset({"samples"})

    def __init__(self, min_agreement: float = 0.6) -> None:
        self.min_agreement = min_agreement

    def decide(self, signals: GateSignals) -> GateDecision:
        share = signals.agreement or 0.0
        retrieve = share < self.min_agreement or is_non_answer(signals.draft)
        reason = f"{share:.2f} of {len(signals.samples)} drafts agree (need {self.min_agreement})"
        return GateDecision(retrieve=retrieve, gate=self.name, reason=reason, signals=signals)


class ScoreMarginGate:
    """Use retrieved context only when the top hit stands out; a flat score list means
    the corpus has no clear match and the passages would only add noise."""

    name = "margin"
    needs = frozenset({"probe"})

    def __init__(self, min_margin: float = 0.1) -> None:
        self.min_margin = min_margin

    def decide(self, signals: GateSignals) -> GateDecision:
        margin = signals.score_margin
        if margin is None:
            retrieve, reason = False, "the probe search found fewer than two passages"
        else:
            retrieve = margin >= self.min_margin
            reason = f"top score margin {margin:.3f} {'>=' if retrieve else '<'} {self.min_margin}"
        return GateDecision(retrieve=retrieve, gate=self.name, reason=reason, signals=signals)


class AnyOfGate:
    """Retrieve if any of the combined gates says so."""

    name = "any"

    def __init__(self, gates: list[RetrievalGate]) -> None:
        self.gates = gates
        self.needs = frozenset().union(*(g.needs for g in gates))

    def decide(self, signals: GateSignals) -> GateDecision:
        decisions = [g.decide(signals) for g in self.gates]
        retrieve = any(d.retrieve for d in decisions)
        reason = "; ".join(f"{d.gate}: {d.reason}" for d in decisions)
        return GateDecision(retrieve=retrieve, gate=self.name, reason=reason, signals=signals)


class ClassifierGate:
    """A trained model over :meth:`GateSignals.features`: ``predict(features)`` returns the
    probability that retrieval helps."""

    def __init__(self, predict: Callable[[list[float]], float], *, threshold: float = 0.5,
                 needs: frozenset[str] = SIGNALS, name: str = "classifier") -> None:
        self.predict = predict
        self.threshold = threshold
        self.needs = needs
        self.name = name

    def decide(self, signals: GateSignals) -> GateDecision:
        p = float(self.predict(signals.features()))
        retrieve = p >= self.threshold
        reason = f"p(retrieval helps) = {p:.3f} {'>=' if retrieve else '<'} {self.threshold}"
        return GateDecision(retrieve=retrieve, gate=self.name, reason=reason, signals=signals)


GateFactory = Callable[[GateOptions], RetrievalGate]
_GATES: dict[str, GateFactory] = {
    "always": lambda o: AlwaysRetrieveGate(),
    "token-confidence": lambda o: TokenConfidenceGate(o.theta),
    "mean-confidence": lambda o: MeanConfidenceGate(o.mean_theta),
    "record": lambda o: RecordSignalsGate(),
    "agreement": lambda o: DraftAgreementGate(o.min_agreement),
    "margin": lambda o: ScoreMarginGate(o.min_margin),
}


def register_gate(name: str, factory: GateFactory) -> None:
    """Make a gate selectable as ``GateOptions(kind=name)``."""
    _GATES[name] = factory


def make_gate(options: GateOptions) -> RetrievalGate:
    """The gate ``options.kind`` names; ``ConfigError`` for an unknown name."""
    if options.kind == "any":
        parts = [make_gate(options.model_copy(update={"kind": k})) for k in options.combine if k != "any"]
        if not parts:
            raise ConfigError("gate 'any' needs at least one gate in 'combine'", hint="e.g. combine=['token-confidence']")
        return AnyOfGate(parts)
    factory = _GATES.get(options.kind)
    if factory is None:
        raise ConfigError(f"Unknown gate {options.kind!r}.",
                          hint=f"choose one of: {', '.join(sorted([*_GATES, 'any']))}", gate=options.kind)
    return factory(options)


def token_probs(response: GenerationResponse) -> list[float]:
    """Probabilities of the generated tokens that carry text (whitespace tokens skipped)."""
    return [math.exp(t.logprob) for t in response.logprobs or [] if t.token.strip()]


def score_margin(hits: list[SearchHit]) -> float | None:
    """``(top1 - top2) / |top1|``; ``None`` with fewer than two hits."""
    if len(hits) < 2:
        return None
    top, second = hits[0].score, hits[1].score
    return (top - second) / abs(top) if top else 0.0


class GateOutcome(StrictModel):
    decision: GateDecision
    probe_hits: list[SearchHit] = Field(default_factory=list)
    events: list[TraceEvent] = Field(default_factory=list)


class GateStep:
    """Collects the signals a gate needs for one draft, then asks the gate."""

    def __init__(self, recorder: StepRecorder, gate: RetrievalGate, options: GateOptions) -> None:
        self.recorder = recorder
        self.gate = gate
        self.opts = options

    async def run(self, request: GenerationRequest, usage: Usage, *, probe_query: str = "",
                  extract: Callable[[str], str] = extract_answer) -> GateOutcome:
        """Draft with ``request``; sample and probe as the gate needs; decide.

        The probe search uses ``probe_query``, or the draft itself when it is empty."""
        needs = self.gate.needs
        events: list[TraceEvent] = []
        first = request.model_copy(update={"logprobs": request.logprobs or "logprobs" in needs})
        response, elapsed = await self.recorder.generate(first, usage)
        events.append(think_event(response, elapsed))
        signals = GateSignals(draft=extract(response.text))
        probs = token_probs(response)
        if probs:
            signals.min_token_prob = min(probs)
            signals.mean_token_prob = sum(probs) / len(probs)
        if "samples" in needs:
            await self._sample(request, usage, signals, extract, events)
        hits: list[SearchHit] = []
        query = probe_query or signals.draft
        if "probe" in needs and query:
            hits, search_events = await self.recorder.search(query, self.opts.probe_k, usage)
            events.extend(search_events)
            signals.top_score = hits[0].score if hits else None
            signals.score_margin = score_margin(hits)
        decision = self.gate.decide(signals)
        events.append(NoteEvent(kind="gate", text=f"{'retrieve' if decision.retrieve else 'answer'}: "
                                f"{decision.reason}", data=decision.model_dump()))
        return GateOutcome(decision=decision, probe_hits=hits, events=events)

    async def _sample(self, request: GenerationRequest, usage: Usage, signals: GateSignals,
                      extract: Callable[[str], str], events: list[TraceEvent]) -> None:
        drafts = [signals.draft]
        base_seed = request.seed or 0
        for i in range(1, self.opts.samples):
            sample = request.model_copy(update={"temperature": self.opts.sample_temperature,
                                                "seed": base_seed + 1000 + i, "logprobs": False})
            response, elapsed = await self.recorder.generate(sample, usage)
            events.append(think_event(response, elapsed))
            drafts.append(extract(response.text))
        best, share = majority(drafts)
        signals.samples = drafts
        signals.agreement = share
        if best and is_non_answer(signals.draft):
            signals.draft = best


def retrievals_saved(trace: list[TraceEvent]) -> int:
    """How many gate decisions in ``trace`` answered without retrieved context."""
    return sum(1 for e in trace if e.type == "note" and e.kind == "gate" and not e.data.get("retrieve"))


__all__ = [
    "AlwaysRetrieveGate",
    "AnyOfGate",
    "ClassifierGate",
    "DraftAgreementGate",
    "GateDecision",
    "GateOptions",
    "GateOutcome",
    "GateSignals",
    "GateStep",
    "MeanConfidenceGate",
    "RecordSignalsGate",
    "RetrievalGate",
    "ScoreMarginGate",
    "TokenConfidenceGate",
    "make_gate",
    "register_gate",
    "retrievals_saved",
    "score_margin",
    "token_probs",
]
