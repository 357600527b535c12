"""Offline gate tuning scores each gate as a run with it would, and picks the one that saves
the most searches within the F1 budget."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest

from sleuth.agents.answers import is_non_answer
from sleuth.agents.gate import GateOptions
from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import EvalError
from sleuth.evals.gate_tune import (
    candidate_gates,
    choose,
    cross_validate,
    describe,
    load_cases,
    pareto,
    score_gate,
)
from sleuth.evals.report import load_run
from sleuth.evals.rundir import EngineConfig, RunConfig
from sleuth.evals.runner import run_eval
from sleuth.evals.scripted import scripted_reply


def _row(qid: str, gold: str, draft: str, p: float, samples: list[str], ref_f1: float) -> dict[str, Any]:
    signals = {"draft": draft, "min_token_prob": p, "mean_token_prob": p, "samples": samples,
               "agreement": max(samples.count(s) for s in samples) / len(samples)}
    return {"id": qid, "gold": [gold], "error": None, "usage": {"searches": 1},
            "metrics": {"f1": ref_f1},
            "trace": [{"type": "note", "kind": "gate", "data": {"retrieve": False, "signals": signals}}]}


# q1, q2: confident, right drafts; q3: confident, wrong draft whose retrieval was right;
# q4: unsure, wrong draft; retrieval wrong on q2 (the gate can beat always retrieving)
ROWS = [
    _row("q1", "Oslo", "Oslo", 0.95, ["Oslo", "Oslo"], 1.0),
    _row("q2", "Bern", "Bern", 0.9, ["Bern", "Bern"], 0.0),
    _row("q3", "Rome", "Milan", 0.7, ["Milan", "Turin"], 1.0),
    _row("q4", "Lima", "Quito", 0.2, ["Quito", "Bogota"], 1.0),
]


def test_scores_follow_the_gates_own_decisions() -> None:
    cases = load_cases(ROWS, ROWS)
    flare = score_gate(GateOptions(kind="token-confidence", theta=0.8), cases)
    assert flare.retrieves == 0.5 and flare.searches_cut == 0.5  # q3, q4 retrieve
    assert flare.f1 == 1.0 and flare.reference_f1 == 0.75 and flare.f1_change == pytest.approx(0.25)
    assert flare.llm_calls == 1 and flare.options == {"kind": "token-confidence", "theta": 0.8}
    either = score_gate(GateOptions(kind="any", samples=2), cases).options
    assert either == {"kind": "any", "combine": ["token-confidence", "agreement"], "theta": 0.4,
                      "min_agreement": 0.6, "samples": 2, "sample_temperature": 0.7}
    assert GateOptions(**either) == GateOptions(kind="any", samples=2)
    agreement = score_gate(GateOptions(kind="agreement", samples=2, min_agreement=1.0), cases)
    assert agreement.retrieves == 0.5 and agreement.llm_calls == 2
    loose = score_gate(GateOptions(kind="token-confidence", theta=0.5), cases)  # q3 answers wrong
    assert loose.f1 == pytest.approx(0.75) and loose.searches_cut == 0.75
    ci = loose.f1_change_ci
    assert ci.lo is not None and ci.hi is not None and ci.lo <= loose.f1_change <= ci.hi


def test_choose_cuts_the_most_searches_within_the_budget() -> None:
    cases = load_cases(ROWS, ROWS)
    scores = [score_gate(o, cases) for o in candidate_gates(cases)]
    assert {s.options["kind"] for s in scores} == {"token-confidence", "mean-confidence", "agreement", "any"}
    best = choose(scores, max_loss=0.0)
    assert best is not None and best.searches_cut == 0.75 and best.f1 == pytest.approx(0.75)
    assert best.llm_calls == 1  # ties go to the cheaper gate
    front = pareto(scores)
    assert [round(s.searches_cut, 2) for s in front] == sorted(round(s.searches_cut, 2) for s in front)
    assert all(not (o.searches_cut > s.searches_cut and o.f1 > s.f1) for s in front for o in scores)
    assert choose([score_gate(GateOptions(kind="token-confidence", theta=0.1), cases)], max_loss=0.0) is None


def test_max_calls_leaves_out_gates_that_sample() -> None:
    cases = load_cases(ROWS, ROWS)
    flare = score_gate(GateOptions(kind="token-confidence", theta=0.8), cases)  # cut 0.5, F1 +0.25
    sampled = score_gate(GateOptions(kind="agreement", samples=2, min_agreement=0.5), cases)
    assert sampled.searches_cut == 1.0 and sampled.llm_calls == 2
    assert sampled.f1_change == pytest.approx(-0.25)  # within a 0.5 budget, and cuts more than flare
    assert choose([flare, sampled], max_loss=0.5) is sampled
    assert choose([flare, sampled], max_loss=0.5, max_calls=1) is flare
    assert choose([sampled], max_loss=0.5, max_calls=1) is None


def test_cross_validation_scores_each_question_by_a_gate_chosen_without_it() -> None:
    # Four confident, right drafts and one equally confident wrong one that retrieval gets
    # right: no gate tells them apart, so on all five none may answer anything within a
    # zero-loss budget. The fold that holds out the wrong one learns to answer everything and
    # answers it; the estimate shows the loss that in-sample tuning hides.
    rows = [_row(f"a{i}", "Oslo", "Oslo", 0.9, ["Oslo", "Oslo"], 1.0) for i in range(4)]
    rows.append(_row("b", "Rome", "Milan", 0.9, ["Milan", "Milan"], 1.0))
    cases = load_cases(rows, rows)
    in_sample = choose([score_gate(o, cases) for o in candidate_gates(cases)], max_loss=0.0)
    assert in_sample is not None and in_sample.searches_cut == 0.0
    cv = cross_validate(cases, folds=5, max_loss=0.0)
    assert sorted(cv.fold_of.values()) == [0, 1, 2, 3, 4] and cv.held_out.questions == 5
    assert cv.held_out.searches_cut == pytest.approx(0.2) and cv.held_out.f1_change == pytest.approx(-0.2)
    cuts = {fold: score_gate(GateOptions(**options), cases).searches_cut
            for fold, options in enumerate(cv.chosen) if options is not None}
    assert cuts == {fold: 1.0 if fold == cv.fold_of["b"] else 0.0 for fold in range(5)}
    assert cv.held_out.options == {"kind": "cross-validated", "folds": 5}
    assert describe(cv.held_out.options) == "cross-validated (5 folds)"
    # shuffled folds: every question once, sizes within one
    two = cross_validate(cases, folds=2, max_loss=0.0, seed=3)
    assert sorted(list(two.fold_of.values()).count(f) for f in (0, 1)) == [2, 3]
    for folds in (1, 6):
        with pytest.raises(EvalError, match="folds"):
            cross_validate(cases, folds=folds, max_loss=0.0)


def test_describe_names_the_thresholds_that_matter() -> None:
    assert describe({"kind": "mean-confidence", "mean_theta": 0.5}) == "mean-confidence mean_theta=0.5"
    assert describe({"kind": "any", "samples": 8, "min_agreement": 0.7}) == (
        "token-confidence theta=0.4 or agreement min_agreement=0.7 samples=8")


def test_runs_without_shared_signals_are_an_error() -> None:
    with pytest.raises(EvalError, match="record"):
        load_cases(ROWS, [{**ROWS[0], "id": "other"}])
    no_gate = [{**r, "trace": []} for r in ROWS]
    with pytest.raises(EvalError):
        load_cases(no_gate, ROWS)


class ConfidentOnOne(ScriptedEngine):
    """Drafts the right answer with probability 0.9 for one question, "Paris" with 0.3 for the
    others; answers from documents like the scripted double."""

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        response = await super().generate(request)
        if not response.logprobs:
            return response
        p = 0.9 if "documentary" in response.text else 0.3
        return response.model_copy(update={"logprobs": [type(response.logprobs[0])(
            token=response.text, logprob=math.log(p))]})


def _reply(request: GenerationRequest) -> str:
    prompt = "\n".join(m.content for m in request.messages or [])
    if "Documents:" not in prompt:
        return " documentary" if "American Hardcore" in prompt.rsplit("Question:", 1)[-1] else " Paris"
    return scripted_reply(request)


def test_a_gate_scored_offline_does_what_a_run_with_it_does(
    eval_sandbox_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = {"reference": ("standard-rag", {}),
            "record": ("adaptive-rag", {"gate": {"kind": "record", "samples": 2}}),
            "gated": ("adaptive-rag", {"gate": {"kind": "token-confidence", "theta": 0.5}})}
    for name, (method, options) in runs.items():
        cfg = RunConfig(dataset="hotpotqa-sandbox", method=method, options=options, limit=6,
                        sandbox=str(eval_sandbox_dir), engine=EngineConfig(kind="scripted"))
        asyncio.run(run_eval(cfg, tmp_path / name, engine=ConfidentOnOne(responder=_reply), progress=False))
    record, reference, gated = (load_run(tmp_path / n).rows for n in ("record", "reference", "gated"))
    assert all(r["usage"]["searches"] == 0 for r in record)
    offline = score_gate(GateOptions(kind="token-confidence", theta=0.5), load_cases(record, reference))
    assert offline.searches == pytest.approx(sum(r["usage"]["searches"] for r in gated) / 6) == pytest.approx(5 / 6)
    assert offline.f1 == pytest.approx(sum(r["metrics"]["f1"] for r in gated) / 6)

    from sleuth.cli import main

    out = tmp_path / "tune.json"
    assert main(["eval", "tune-gate", "--signals", str(tmp_path / "record"), "--reference",
                 str(tmp_path / "reference"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Chosen" in printed and "--option gate=" in printed
    payload = json.loads(out.read_text())
    assert payload["chosen"]["kind"] and payload["check"] == [] and payload["max_calls"] is None
    assert "cross_validation" not in payload
    assert main(["eval", "tune-gate", "--signals", str(tmp_path / "record"), "--reference",
                 str(tmp_path / "reference"), "--folds", "3", "--out", str(out)]) == 0
    assert "Cross-validated (6 questions, 3 folds" in capsys.readouterr().out
    cv = json.loads(out.read_text())["cross_validation"]
    assert cv["folds"] == 3 and len(cv["chosen"]) == 3 and cv["held_out"]["questions"] == 6
    assert main(["eval", "tune-gate", "--signals", str(tmp_path / "record"), "--reference",
                 str(tmp_path / "reference"), "--max-calls", "1", "--out", str(out)]) == 0
    assert "and 1 engine calls" in capsys.readouterr().out
    payload = json.loads(out.read_text())
    chosen = GateOptions(**payload["chosen"])
    assert payload["max_calls"] == 1
    assert "agreement" not in {chosen.kind, *(chosen.combine if chosen.kind == "any" else [])}
    # checking on the tuning questions themselves is refused
    assert main(["eval", "tune-gate", "--signals", str(tmp_path / "record"), "--reference",
                 str(tmp_path / "reference"), "--check-signals", str(tmp_path / "record"),
                 "--check-reference", str(tmp_path / "reference")]) == 1
    assert "Every question of the check runs was used for tuning" in capsys.readouterr().err

    # tuned on the first 3 questions, checked on the other 3
    first3 = tmp_path / "record-3"
    cfg = RunConfig(dataset="hotpotqa-sandbox", method="adaptive-rag", limit=3,
                    options={"gate": {"kind": "record", "samples": 2}},
                    sandbox=str(eval_sandbox_dir), engine=EngineConfig(kind="scripted"))
    asyncio.run(run_eval(cfg, first3, engine=ConfidentOnOne(responder=_reply), progress=False))
    assert main(["eval", "tune-gate", "--signals", str(first3), "--reference", str(tmp_path / "reference"),
                 "--check-signals", str(tmp_path / "record"), "--check-reference", str(tmp_path / "reference"),
                 "--out", str(out)]) == 0
    assert "Held out (3 questions; 3 used for tuning left out)" in capsys.readouterr().out
    assert json.loads(out.read_text())["check"][0]["questions"] == 3
    # cross-validation pools the tuning questions with the held-out ones, each once
    assert main(["eval", "tune-gate", "--signals", str(first3), "--reference", str(tmp_path / "reference"),
                 "--check-signals", str(tmp_path / "record"), "--check-reference", str(tmp_path / "reference"),
                 "--folds", "2", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["cross_validation"]["held_out"]["questions"] == 6
    assert main(["eval", "tune-gate", "--signals", str(first3), "--reference", str(tmp_path / "reference"),
                 "--folds", "4"]) == 1
    assert "needs 2 to 3 folds" in capsys.readouterr().err
    assert main(["eval", "tune-gate", "--signals", str(tmp_path / "record"), "--reference",
                 str(tmp_path / "reference"), "--check-signals", str(tmp_path / "record")]) == 2


@pytest.mark.model
def test_record_gate_and_tuning_on_the_real_model(
    small_engine: Any, eval_sandbox_dir: Path, tmp_path: Path
) -> None:
    """The recording run and the offline scores on the real 0.5B model: llama.cpp's token
    probabilities and seeded samples reach the gate, nothing is retrieved, and the extremes
    of the scored gates are the draft-only and always-retrieve runs."""
    runs = {"record": ("adaptive-rag", {"gate": {"kind": "record", "samples": 3}}),
            "reference": ("standard-rag", {"top_k": 3})}
    for name, (method, options) in runs.items():
        cfg = RunConfig(dataset="hotpotqa-sandbox", method=method, options=options, limit=3,
                        sandbox=str(eval_sandbox_dir))
        asyncio.run(run_eval(cfg, tmp_path / name, engine=small_engine, progress=False))
    record, reference = (load_run(tmp_path / n).rows for n in ("record", "reference"))
    assert all(r["usage"]["searches"] == 0 and r["usage"]["llm_calls"] == 3 for r in record)
    cases = load_cases(record, reference)
    assert len(cases) == 3
    for case in cases:
        low, mean = case.signals.min_token_prob, case.signals.mean_token_prob
        assert low is not None and mean is not None and 0.0 < low <= mean <= 1.0
        assert len(case.signals.samples) == 3 and 0.0 <= (case.signals.agreement or 0.0) <= 1.0
    never = score_gate(GateOptions(kind="agreement", samples=3, min_agreement=0.01), cases)
    refusals = [c for c in cases if is_non_answer(c.signals.draft)]  # every gate retrieves for those
    assert never.retrieves == pytest.approx(len(refusals) / 3)
    always = score_gate(GateOptions(kind="token-confidence", theta=0.999), cases)
    assert always.retrieves == 1.0 and always.f1 == pytest.approx(always.reference_f1)
    assert always.reference_f1 == pytest.approx(sum(r["metrics"]["f1"] for r in reference) / 3)
