"""The retrieve-or-answer gates decide from signals; signal collection counts its cost."""

from __future__ import annotations

import pytest

from sleuth.agents.gate import (
    ClassifierGate,
    DraftAgreementGate,
    GateOptions,
    GateSignals,
    GateStep,
    MeanConfidenceGate,
    ScoreMarginGate,
    TokenConfidenceGate,
    make_gate,
    register_gate,
    retrievals_saved,
    score_margin,
    token_probs,
)
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import ChatMessage, GenerationRequest, GenerationResponse, TokenLogprob
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import ConfigError
from sleuth.types import NoteEvent, Passage, SearchHit, Usage


def _hits(*scores: float) -> list[SearchHit]:
    return [SearchHit(passage=Passage(id=f"p{i}", text="t"), score=s, rank=i) for i, s in enumerate(scores)]


def _request() -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage(role="user", content="Q?")], max_tokens=16, seed=7)


@pytest.mark.parametrize(("low", "retrieve"), [(0.05, True), (0.39, True), (0.4, False), (0.9, False)])
def test_token_confidence_follows_flare_threshold(low: float, retrieve: bool) -> None:
    decision = TokenConfidenceGate(theta=0.4).decide(GateSignals(draft="London", min_token_prob=low))
    assert decision.retrieve is retrieve


def test_token_confidence_retrieves_without_logprobs_or_answer() -> None:
    gate = TokenConfidenceGate()
    assert gate.decide(GateSignals(draft="London")).retrieve
    assert gate.decide(GateSignals(draft="unknown", min_token_prob=0.99)).retrieve


def test_mean_confidence_tolerates_one_unsure_token() -> None:
    gate = MeanConfidenceGate(theta=0.5)
    name = GateSignals(draft="Henry J. Kaiser", min_token_prob=0.2, mean_token_prob=0.8)
    assert not gate.decide(name).retrieve
    assert TokenConfidenceGate(theta=0.4).decide(name).retrieve  # FLARE's min rule does retrieve
    assert gate.decide(GateSignals(draft="Kaiser", min_token_prob=0.3, mean_token_prob=0.3)).retrieve
    assert gate.decide(GateSignals(draft="Kaiser")).retrieve  # no probabilities
    assert gate.decide(GateSignals(draft="unknown", mean_token_prob=0.99)).retrieve
    assert make_gate(GateOptions(kind="mean-confidence", mean_theta=0.9)).decide(name).retrieve


def test_agreement_gate() -> None:
    gate = DraftAgreementGate(min_agreement=0.6)
    assert not gate.decide(GateSignals(draft="Oslo", agreement=1.0, samples=["Oslo"] * 3)).retrieve
    assert gate.decide(GateSignals(draft="Oslo", agreement=1 / 3, samples=["Oslo", "Rome", "Bern"])).retrieve


def test_score_margin() -> None:
    assert score_margin(_hits(10.0, 5.0, 1.0)) == pytest.approx(0.5)
    assert score_margin(_hits(3.0)) is None
    gate = ScoreMarginGate(min_margin=0.2)
    assert gate.decide(GateSignals(score_margin=0.5)).retrieve
    assert not gate.decide(GateSignals(score_margin=0.05)).retrieve


def test_token_probs_skip_whitespace_tokens() -> None:
    response = GenerationResponse(
        text=" London\n", finish_reason="stop",
        logprobs=[TokenLogprob(token=" London", logprob=-0.1), TokenLogprob(token="\n", logprob=-5.0)],
    )
    assert token_probs(response) == pytest.approx([0.904837], rel=1e-4)


def test_unknown_gate_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Unknown gate"):
        make_gate(GateOptions(kind="nope"))
    with pytest.raises(ConfigError):
        make_gate(GateOptions(kind="any", combine=[]))


def test_any_of_gate_combines_needs_and_votes() -> None:
    gate = make_gate(GateOptions(kind="any", combine=["token-confidence", "margin"]))
    assert gate.needs == frozenset({"logprobs", "probe"})
    signals = GateSignals(draft="x", min_token_prob=0.9, score_margin=0.5)
    assert gate.decide(signals).retrieve  # margin says retrieve
    assert not gate.decide(signals.model_copy(update={"score_margin": 0.0})).retrieve


def test_a_trained_classifier_drops_in_by_name() -> None:
    seen: list[list[float]] = []

    def predict(features: list[float]) -> float:
        seen.append(features)
        return 0.9 if features[0] < 0.5 else 0.1

    register_gate("test-clf", lambda o: ClassifierGate(predict, needs=frozenset({"logprobs"})))
    gate = make_gate(GateOptions(kind="test-clf"))
    assert gate.decide(GateSignals(draft="x", min_token_prob=0.2)).retrieve
    assert not gate.decide(GateSignals(draft="x", min_token_prob=0.8)).retrieve
    assert len(seen[0]) == len(GateSignals().features())


async def test_gate_step_collects_only_the_signals_the_gate_needs() -> None:
    engine = ScriptedEngine([" London", " Paris", " London"])
    usage = Usage()
    step = GateStep(StepRecorder(engine, None), make_gate(GateOptions(kind="agreement")), GateOptions(samples=3))
    outcome = await step.run(_request(), usage)
    assert outcome.decision.signals.samples == ["London", "Paris", "London"]
    assert outcome.decision.signals.agreement == pytest.approx(2 / 3)
    assert not outcome.decision.retrieve
    assert usage.llm_calls == 3 and usage.searches == 0
    # samples differ from the greedy draft in temperature and seed
    assert [r.temperature for r in engine.requests] == [0.0, 0.7, 0.7]
    assert len({r.seed for r in engine.requests}) == 3
    assert not engine.requests[0].logprobs  # the agreement gate does not need logprobs
    note = outcome.events[-1]
    assert isinstance(note, NoteEvent) and note.kind == "gate"
    assert retrievals_saved(outcome.events) == 1


async def test_gate_step_asks_for_logprobs_for_flare() -> None:
    engine = ScriptedEngine([" London"], logprob=-2.5)
    step = GateStep(StepRecorder(engine, None), make_gate(GateOptions()), GateOptions())
    outcome = await step.run(_request(), Usage())
    assert engine.requests[0].logprobs
    assert outcome.decision.retrieve  # p = e^-2.5 = 0.08 < 0.4
    assert retrievals_saved(outcome.events) == 0


async def test_record_gate_never_retrieves_and_collects_every_draft_signal() -> None:
    engine = ScriptedEngine([" London", " Paris", " London"], logprob=-0.5)
    usage = Usage()
    step = GateStep(StepRecorder(engine, None), make_gate(GateOptions(kind="record")), GateOptions(samples=3))
    outcome = await step.run(_request(), usage)
    signals = outcome.decision.signals
    assert not outcome.decision.retrieve and usage.searches == 0
    assert engine.requests[0].logprobs and signals.min_token_prob == pytest.approx(0.6065, rel=1e-3)
    assert signals.samples == ["London", "Paris", "London"] and signals.agreement == pytest.approx(2 / 3)
