"""What a retrieve-or-answer gate saved and what it cost, from run directories.

A run whose traces hold gate decisions (``NoteEvent(kind="gate")``) is compared with an
always-retrieve reference run over the same questions (``standard-rag`` without a gate, when
the report has one):

* **measured**: searches per question and F1 of both runs on their shared questions;
* **sweep** (token-confidence gates): each decision records the draft and its minimum token
  probability, and the reference recorded the answer with retrieval, so the F1 and the
  searches at any other threshold theta follow without rerunning a model: retrieve when
  ``min_token_prob < theta`` (reference answer), else keep the draft. Picking theta from
  this sweep on the reported questions is optimistic; tune it on a tuning split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sleuth.evals.metrics import f1_score

THETAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def gate_decisions(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate decisions in one result row's trace, in order."""
    return [e.get("data", {}) for e in row.get("trace", [])
            if e.get("type") == "note" and e.get("kind") == "gate"]


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


def theta_sweep(rows: list[dict[str, Any]], reference: list[dict[str, Any]],
                thetas: tuple[float, ...] = THETAS) -> list[tuple[float, float, float]]:
    """``(theta, share of questions retrieving, F1)`` for a token-confidence gate at each theta,
    over the questions where the run recorded a draft probability and the reference answered."""
    ref = {r["id"]: r for r in reference}
    cases = []
    for row in rows:
        decisions = gate_decisions(row)
        if not decisions or row["id"] not in ref:
            continue
        signals = decisions[0].get("signals", {})
        prob = signals.get("min_token_prob")
        if prob is None:
            continue
        draft_f1 = f1_score(signals.get("draft", ""), row["gold"])
        cases.append((float(prob), draft_f1, float(ref[row["id"]]["metrics"]["f1"])))
    if not cases:
        return []
    out = []
    for theta in thetas:
        retrieve = [p < theta for p, _, _ in cases]
        f1 = sum(rf if r else df for r, (_, df, rf) in zip(retrieve, cases, strict=True)) / len(cases)
        out.append((theta, sum(retrieve) / len(cases), f1))
    return out


@dataclass
class Table:
    intro: str
    header: list[str]
    rows: list[list[str]]


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
    for run in gated:
        sweep = theta_sweep(run.rows, reference.rows) if reference is not None else []
        if sweep:
            tables.append(Table(
                f"Token-confidence threshold sweep for {run.label}, computed from its recorded drafts "
                "and the reference's answers (retrieve when the draft's minimum token probability < "
                "theta; choosing theta here is optimistic).",
                ["theta", "retrieves", "F1"],
                [[f"{t:g}", f"{100 * share:.0f}%", f"{100 * f1:.1f}"] for t, share, f1 in sweep]))
    return tables


def gate_markdown(runs: list[Any]) -> str:
    """The gate section of a Markdown report ("" when no run has a gate)."""
    tables = gate_tables(runs)
    if not tables:
        return ""
    lines = ["## Retrieve-or-answer gate"]
    for table in tables:
        lines += ["", table.intro, "", "| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines)


__all__ = ["GateSummary", "Table", "gate_decisions", "gate_markdown", "gate_tables", "has_gate", "summarize_gate", "theta_sweep"]
