"""What a retrieve-or-answer gate saved and what it cost, from run directories.

A run whose traces hold gate decisions (``NoteEvent(kind="gate")``) is compared with an
always-retrieve reference run over the same questions (``standard-rag`` without a gate, when
the report has one):

* **measured**: searches per question and F1 of both runs on their shared questions;
* **other gates**: each decision records the draft and its signals, and the reference
  recorded the answer with retrieval, so every built-in gate and threshold those signals
  support is scored without rerunning a model (:mod:`sleuth.evals.gate_tune`). The table
  keeps the gates no other beats on both searches cut and F1. Picking one from it on the
  reported questions is optimistic; ``sleuth eval tune-gate`` picks on a tuning split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sleuth.errors import EvalError
from sleuth.evals.gate_tune import (
    candidate_gates,
    describe,
    gate_decisions,
    load_cases,
    pareto,
    score_gate,
)
from sleuth.evals.tables import Table, table_markdown


def has_gate(rows: list[dict[str, Any]]) -> bool:
    return any(gate_decisions(r) for r in rows)


def is_reference(method: str, options: dict[str, Any]) -> bool:
    """An always-retrieve run: standard-rag without a gate."""
    return method == "standard-rag" and not options.get("gate")


@dataclass
class GateSummary:
    questions: int
    """Shared with the reference (all the run's questions without one)."""
    answered_alone: int
    """First gate decision said answer: the retrieval it saved."""
    searches: float
    f1: float
    ref_searches: float | None = None
    ref_f1: float | None = None

    @property
    def searches_cut(self) -> float | None:
        if not self.ref_searches:
            return None
        return 1.0 - self.searches / self.ref_searches


def summarize_gate(rows: list[dict[str, Any]], reference: list[dict[str, Any]] | None) -> GateSummary:
    ref = {r["id"]: r for r in reference or []}
    shared = [r for r in rows if r["id"] in ref] if ref else rows
    n = len(shared) or 1
    alone = sum(1 for r in shared if (d := gate_decisions(r)) and not d[0].get("retrieve", True))
    summary = GateSummary(
        questions=len(shared), answered_alone=alone,
        searches=sum(r["usage"]["searches"] for r in shared) / n,
        f1=sum(r["metrics"]["f1"] for r in shared) / n,
    )
    if ref:
        summary.ref_searches = sum(ref[r["id"]]["usage"]["searches"] for r in shared) / n
        summary.ref_f1 = sum(ref[r["id"]]["metrics"]["f1"] for r in shared) / n
    return summary


def gate_tables(runs: list[Any]) -> list[Table]:
    """The gate tables of a report (none when no run has a gate): measured savings and cost,
    then a theta sweep per gated run when there is a reference."""
    gated = [r for r in runs if has_gate(r.rows)]
    if not gated:
        return []
    reference = next((r for r in runs if is_reference(r.manifest.config.method, r.manifest.config.options)
                      and not r.manifest.config.mask_gold), None)
    intro = (f"Against always retrieving ({reference.label}), on the questions both runs answered."
             if reference is not None else "No always-retrieve reference (standard-rag) in this report.")
    measured = Table(intro, ["Method", "n", "answered without retrieval", "searches / q",
                             "reference searches / q", "searches cut", "F1", "reference F1", "F1 change"], [])
    for run in gated:
        s = summarize_gate(run.rows, reference.rows if reference else None)
        measured.rows.append([
            run.label, str(s.questions),
            f"{s.answered_alone} ({100 * s.answered_alone / max(s.questions, 1):.0f}%)", f"{s.searches:.2f}",
            "–" if s.ref_searches is None else f"{s.ref_searches:.2f}",
            "–" if s.searches_cut is None else f"{100 * s.searches_cut:.0f}%",
            f"{100 * s.f1:.1f}", "–" if s.ref_f1 is None else f"{100 * s.ref_f1:.1f}",
            "–" if s.ref_f1 is None else f"{100 * (s.f1 - s.ref_f1):+.1f}",
        ])
    tables = [measured]
    if reference is None:
        return tables
    for run in gated:
        try:
            cases = load_cases(run.rows, reference.rows)
        except EvalError:
            continue
        front = pareto([score_gate(o, cases) for o in candidate_gates(cases)])
        rows = [[describe(score.options), f"{100 * score.retrieves:.0f}%", f"{100 * score.searches_cut:.0f}%",
                 f"{100 * score.f1:.1f}", score.f1_change_text(), str(score.llm_calls)] for score in front]
        tables.append(Table(
            f"Other gates and thresholds on {run.label}'s {len(cases)} questions, scored from its "
            "recorded drafts and signals and the reference's answers; only gates no other beats on "
            "both searches cut and F1. Choosing one here is optimistic: `sleuth eval tune-gate` "
            "chooses on a tuning split.",
            ["gate", "retrieves", "searches cut", "F1", "F1 change [95% CI]", "gate calls"], rows))
    return tables


def gate_markdown(runs: list[Any]) -> str:
    """The gate section of a Markdown report ("" when no run has a gate)."""
    tables = gate_tables(runs)
    if not tables:
        return ""
    lines = ["## Retrieve-or-answer gate"]
    for table in tables:
        lines += ["", *table_markdown(table)]
    return "\n".join(lines)


__all__ = ["GateSummary", "gate_decisions", "gate_markdown", "gate_tables", "has_gate", "summarize_gate"]
