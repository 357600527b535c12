"""Pick a retrieve-or-answer gate offline, from recorded signals, on a tuning split.

A gate's choice on one question is pure: :meth:`RetrievalGate.decide` over the draft's
signals. So with two runs over the same questions,

* a **signals run**: the method behind ``gate={"kind": "record", "samples": n}``, which answers
  every question with its draft and records the draft, its token probabilities and ``n``
  sampled drafts (any gated run works for the signals it collected), and
* a **reference run** that always retrieves (``standard-rag``),

the searches and F1 of any gate follow without running a model: where the gate answers, the
question scores the draft; where it retrieves, it scores the reference's answer. The gates
are built with :func:`make_gate` and decide with their own code, so what is tuned here is
what a run does. (On the 1.5B model a gated ``adaptive-rag`` run reproduced the reference's
answer on 23 of 25 retrieved questions and the draft on 75 of 75 others.)

``sleuth eval tune-gate --signals runs/gate-tune --reference runs/rag-tune`` prints the best
gates within an F1 budget; ``--check-signals``/``--check-reference`` scores the chosen one on
held-out questions, which is the number to report. With a few hundred questions a single split
is noisy (on the 1.5B model the same gate lost 1.8 F1 on one split and gained 0.3 on the
other), so ``--folds K`` also runs :func:`cross_validate` over all of them: every question is
scored by the gate chosen on the other folds, and the pooled score estimates what tuning on
that many questions gives on unseen ones.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

from sleuth.agents.gate import GateOptions, GateSignals, make_gate
from sleuth.errors import EvalError
from sleuth.evals.metrics import Interval, bootstrap_ci, f1_score
from sleuth.evals.tables import change_text

THETAS = tuple(round(0.05 * i, 2) for i in range(1, 20))
"""0.05 to 0.95 in steps of 0.05: a draft's token probabilities cluster, and on the 1.5B
model a 0.1 grid jumped from 22% of searches cut to 34% between neighbours."""
AGREEMENTS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def gate_decisions(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate decisions in one result row's trace, in order."""
    return [e.get("data", {}) for e in row.get("trace", [])
            if e.get("type") == "note" and e.get("kind") == "gate"]


@dataclass(frozen=True)
class GateCase:
    id: str
    signals: GateSignals
    draft_f1: float
    """F1 of the draft: the question's score when the gate answers."""
    reference_f1: float
    """F1 of the always-retrieve answer: the score when the gate retrieves."""
    reference_searches: float


@dataclass(frozen=True)
class GateScore:
    options: dict[str, Any]
    """The ``gate`` option to pass (:func:`gate_option`)."""
    questions: int
    retrieves: float
    """Share of questions the gate sends to retrieval."""
    searches: float
    reference_searches: float
    f1: float
    reference_f1: float
    llm_calls: int
    """Engine calls the gate spends per question before answering or retrieving."""
    f1_change_ci: Interval
    """Paired 95% bootstrap interval of the per-question F1 change (same questions)."""

    @property
    def searches_cut(self) -> float:
        return 1.0 - self.searches / self.reference_searches if self.reference_searches else 0.0

    @property
    def f1_change(self) -> float:
        return self.f1 - self.reference_f1

    def f1_change_text(self) -> str:
        """``+1.2 [-3.0, +5.1]``: the change in F1 points with its 95% interval."""
        return change_text(self.f1_change, self.f1_change_ci.lo, self.f1_change_ci.hi)

    def as_json(self) -> dict[str, Any]:
        return {"options": self.options, "questions": self.questions, "retrieves": self.retrieves,
                "searches_cut": self.searches_cut, "f1": self.f1, "f1_change": self.f1_change,
                "f1_change_ci": [self.f1_change_ci.lo, self.f1_change_ci.hi], "llm_calls": self.llm_calls}


def load_cases(signals: list[dict[str, Any]], reference: list[dict[str, Any]]) -> list[GateCase]:
    """One case per question both runs answered without error, the first gate decision's
    signals against the reference's F1 and searches."""
    ref = {r["id"]: r for r in reference if not r.get("error")}
    cases = []
    for row in signals:
        decisions = gate_decisions(row)
        if row.get("error") or not decisions or row["id"] not in ref:
            continue
        sig = GateSignals.model_validate(decisions[0].get("signals", {}))
        other = ref[row["id"]]
        cases.append(GateCase(
            id=str(row["id"]), signals=sig, draft_f1=f1_score(sig.draft, row["gold"]),
            reference_f1=float(other["metrics"]["f1"]), reference_searches=float(other["usage"]["searches"]),
        ))
    if not cases:
        raise EvalError("The signals and reference runs share no question with gate signals.",
                        hint="run the method with --option gate='{\"kind\": \"record\"}' on the "
                        "reference run's dataset and --limit")
    return cases


def held_out(cases: list[GateCase], tuning: list[GateCase]) -> list[GateCase]:
    """``cases`` without the questions tuned on; ``EvalError`` when none is left."""
    seen = {c.id for c in tuning}
    left = [c for c in cases if c.id not in seen]
    if not left:
        raise EvalError("Every question of the check runs was used for tuning.",
                        hint="check on other questions (a larger --limit, or another split)")
    return left


def candidate_gates(cases: list[GateCase]) -> list[GateOptions]:
    """Every threshold of the built-in training-free gates the recorded signals support."""
    has_probs = any(c.signals.min_token_prob is not None for c in cases)
    n_samples = max((len(c.signals.samples) for c in cases), default=0)
    out: list[GateOptions] = []
    if has_probs:
        out += [GateOptions(kind="token-confidence", theta=t) for t in THETAS]
        out += [GateOptions(kind="mean-confidence", mean_theta=t) for t in THETAS]
    if n_samples >= 2:
        out += [GateOptions(kind="agreement", samples=n_samples, min_agreement=a) for a in AGREEMENTS]
        if has_probs:
            for first, (t, a) in itertools.product(("token-confidence", "mean-confidence"),
                                                   itertools.product(THETAS, AGREEMENTS)):
                base = GateOptions(kind="any", combine=[first, "agreement"], samples=n_samples, min_agreement=a)
                key = "theta" if first == "token-confidence" else "mean_theta"
                out.append(base.model_copy(update={key: t}))
    return out


def score_gate(options: GateOptions, cases: list[GateCase], *, resamples: int = 1000) -> GateScore:
    """What ``options``' gate would have done on ``cases``; ``resamples=0`` skips the interval."""
    gate = make_gate(options)
    if "probe" in gate.needs:
        raise EvalError(f"Gate {options.kind!r} needs a probe search, which a draft run does not record.")
    return _score(gate_option(options), [gate.decide(c.signals).retrieve for c in cases], cases,
                  llm_calls=options.samples if "samples" in gate.needs else 1, resamples=resamples)


def _score(options: dict[str, Any], retrieve: list[bool], cases: list[GateCase], *,
           llm_calls: int, resamples: int) -> GateScore:
    """The score of answering ``cases`` with their drafts except where ``retrieve`` says not to."""
    pairs = list(zip(retrieve, cases, strict=True))
    n = len(cases)
    change = [0.0 if r else c.draft_f1 - c.reference_f1 for r, c in pairs]
    ci = (bootstrap_ci(change, resamples=resamples) if resamples
          else Interval(mean=sum(change) / n, lo=None, hi=None, n=n))
    return GateScore(
        options=options, questions=n, retrieves=sum(retrieve) / n,
        searches=sum(c.reference_searches for r, c in pairs if r) / n,
        reference_searches=sum(c.reference_searches for c in cases) / n,
        f1=sum(c.reference_f1 if r else c.draft_f1 for r, c in pairs) / n,
        reference_f1=sum(c.reference_f1 for c in cases) / n,
        llm_calls=llm_calls, f1_change_ci=ci,
    )


@dataclass(frozen=True)
class CrossValidation:
    chosen: list[dict[str, Any] | None]
    """Per fold, the gate chosen on the other folds (``None``: none within the budget, so that
    fold always retrieves)."""
    fold_of: dict[str, int]
    """Each question's fold."""
    held_out: GateScore
    """Every question scored by its own fold's gate; ``options`` is
    ``{"kind": "cross-validated", "folds": K}``, which names no gate."""


def cross_validate(cases: list[GateCase], *, folds: int, max_loss: float, max_calls: int | None = None,
                   seed: int = 0, resamples: int = 1000) -> CrossValidation:
    """K-fold estimate of tuning with :func:`choose`: the questions are shuffled (seeded) into
    ``folds`` folds, a gate is chosen on all but one fold and decides for the questions of that
    one, and the decisions of all folds are scored together. ``folds=len(cases)`` leaves one out."""
    if not 2 <= folds <= len(cases):
        raise EvalError(f"Cross-validation needs 2 to {len(cases)} folds (at most one per question); got {folds}.")
    order = list(range(len(cases)))
    random.Random(seed).shuffle(order)
    fold_of = {cases[i].id: k % folds for k, i in enumerate(order)}
    chosen: list[dict[str, Any] | None] = []
    retrieve = [True] * len(cases)
    calls = 1
    for fold in range(folds):
        train = [c for c in cases if fold_of[c.id] != fold]
        best = choose([score_gate(o, train, resamples=0) for o in candidate_gates(train)], max_loss,
                      max_calls=max_calls)
        chosen.append(None if best is None else best.options)
        if best is None:
            continue
        gate = make_gate(GateOptions(**best.options))
        calls = max(calls, best.llm_calls)
        for i, case in enumerate(cases):
            if fold_of[case.id] == fold:
                retrieve[i] = gate.decide(case.signals).retrieve
    held_out = _score({"kind": "cross-validated", "folds": folds}, retrieve, cases,
                      llm_calls=calls, resamples=resamples)
    return CrossValidation(chosen=chosen, fold_of=fold_of, held_out=held_out)


def choose(scores: list[GateScore], max_loss: float, *, max_calls: int | None = None) -> GateScore | None:
    """The gate that cuts the most searches while losing at most ``max_loss`` F1 (a fraction:
    0.01 is one point) and, with ``max_calls``, spending at most that many engine calls on
    its draft; ties go to higher F1, then fewer engine calls, then the earlier gate in
    ``scores`` (:func:`candidate_gates` lists single signals before combinations).

    ``max_calls=1`` keeps the gates that read only the draft: a gate that samples 8 drafts
    to save a BM25 search spends more than it saves unless searches are the costly part."""
    within = [s for s in scores if s.f1_change >= -max_loss - 1e-12
              and (max_calls is None or s.llm_calls <= max_calls)]
    if not within:
        return None
    return max(within, key=lambda s: (round(s.searches_cut, 9), round(s.f1, 9), -s.llm_calls))


def pareto(scores: list[GateScore]) -> list[GateScore]:
    """The gates no other gate beats on both searches cut and F1, by searches cut."""
    front = [s for s in scores if not any(
        (o.searches_cut >= s.searches_cut and o.f1 >= s.f1) and
        (o.searches_cut > s.searches_cut or o.f1 > s.f1) for o in scores)]
    unique: dict[tuple[float, float], GateScore] = {}
    for score in sorted(front, key=lambda s: s.llm_calls):  # stable: the earlier gate wins ties, as in choose
        unique.setdefault((round(score.searches_cut, 9), round(score.f1, 9)), score)
    return sorted(unique.values(), key=lambda s: s.searches_cut)


PARAMETERS = {"token-confidence": ["theta"], "mean-confidence": ["mean_theta"],
              "agreement": ["min_agreement", "samples"]}
"""The options each built-in threshold gate reads."""


def gate_option(options: GateOptions) -> dict[str, Any]:
    """The ``gate`` option that selects this gate, with every field its rules read spelled
    out, so it means the same if a default changes."""
    names = options.combine if options.kind == "any" else [options.kind]
    out: dict[str, Any] = {"kind": options.kind}
    if options.kind == "any":
        out["combine"] = list(options.combine)
    for name in names:
        for key in PARAMETERS.get(name, []):
            out[key] = getattr(options, key)
    if "agreement" in names:
        out["sample_temperature"] = options.sample_temperature
    return out


def describe(options: dict[str, Any]) -> str:
    """A short name for a gate: ``token-confidence theta=0.5``."""
    if "folds" in options:  # a cross-validated score, not a gate
        return f"{options['kind']} ({options['folds']} folds)"
    full = {**GateOptions().model_dump(), **options}
    names = full["combine"] if full["kind"] == "any" else [full["kind"]]
    return " or ".join(name + "".join(f" {k}={full[k]:g}" for k in PARAMETERS.get(name, [])) for name in names)


def format_scores(scores: list[GateScore]) -> str:
    """A table: gate, share retrieving, searches cut, F1, F1 change with its 95% interval, calls."""
    lines = [f"{'gate':<70} {'retrieves':>9} {'cut':>5} {'F1':>5} {'change [95% CI]':>20} {'calls':>5}"]
    for s in scores:
        lines.append(f"{describe(s.options):<70} {100 * s.retrieves:>8.0f}% {100 * s.searches_cut:>4.0f}% "
                     f"{100 * s.f1:>5.1f} {s.f1_change_text():>20} {s.llm_calls:>5}")
    return "\n".join(lines)


__all__ = ["CrossValidation", "GateCase", "GateScore", "candidate_gates", "choose", "cross_validate",
           "describe", "format_scores", "gate_decisions", "gate_option", "held_out", "load_cases", "pareto",
           "score_gate"]
