"""Why EvidenceLoop gave no verified answer: the check that refused each question's last draft.

A refusal is only as good as its reason. A masked question refused because a name of the
question is on no page read is the loop working; an answerable one refused by the judge after
a right draft is a lost answer. For every question that got no verified answer (it abstained,
or gave its best draft unverified) this module reads the last verification its trace recorded
(:meth:`sleuth.agents.evidence_steps.Verification.failed_check`) and counts the questions by
that check, together with how many had a right draft among those refused and how many had read
all the gold evidence. ``sleuth eval report`` shows the table for evidence-loop runs as made;
``sleuth eval replay-verify --why`` shows it for a replayed setting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sleuth.agents.evidence_steps import UNVERIFIED_NOTE, EvidenceLoopOptions, Verification
from sleuth.evals.metrics import f1_score
from sleuth.evals.tables import Table

RIGHT_F1 = 0.5
"""A refused draft counts as right from this F1 against the gold answer on."""

NO_DRAFT = "no draft"
"""The reason of a question that never drafted an answer."""

UNRECORDED = "not recorded"
"""The reason of a question whose trace predates the verification fields (runs before 2026-11-30)."""


@dataclass
class Refusal:
    """One question that got no verified answer."""

    check: str
    """The check that refused its last draft (``failed_check``), :data:`NO_DRAFT`, or another
    reason the caller knows ("judge undecided" in a replay)."""
    right_refused: bool
    """A refused draft was right (F1 >= :data:`RIGHT_F1`)."""
    sufficient: bool | None
    """All the gold evidence had been read (the row's ``sufficient`` metric)."""


def right_draft(answer: str, gold: Sequence[str]) -> bool:
    return bool(gold) and f1_score(answer, list(gold)) >= RIGHT_F1


def _verifications(row: dict[str, Any]) -> list[Verification] | None:
    """The row's recorded verifications, or None when a note predates their fields."""
    out = []
    for event in row.get("trace") or []:
        if event.get("type") == "note" and event.get("kind") == "verification":
            try:
                out.append(Verification.model_validate(event.get("data") or {}))
            except ValidationError:
                return None
    return out


def recorded_refusal(row: dict[str, Any], verify: str) -> Refusal | None:
    """Why an evidence-loop result row got no verified answer, from its trace; None when it
    has a verified answer or failed (a timeout, a crash). ``verify``: the run's setting."""
    if row.get("error"):
        return None
    unverified = any(e.get("type") == "note" and e.get("kind") == UNVERIFIED_NOTE for e in row.get("trace") or [])
    if not (row.get("abstained") or unverified):
        return None
    found = _verifications(row)
    refused = [v for v in found or [] if not v.supported]
    gold = [str(g) for g in row.get("gold") or []]
    check = UNRECORDED if found is None else refused[-1].failed_check(verify) if refused else NO_DRAFT
    return Refusal(check=check,
                   right_refused=any(not v.no_answer and right_draft(v.answer, gold) for v in refused),
                   sufficient=(row.get("metrics") or {}).get("sufficient"))


def refusal_cells(questions: int, refusals: Iterable[Refusal]) -> list[str]:
    """The counting cells of a row of the refusal table: questions, no verified answer, a right
    draft refused, gold evidence read, and the checks that refused, most frequent first."""
    found = list(refusals)
    checks = Counter(r.check for r in found).most_common()
    return [str(questions), str(len(found)), str(sum(r.right_refused for r in found)),
            str(sum(r.sufficient is True for r in found)), ", ".join(f"{c} {n}" for c, n in checks) or "-"]


REFUSAL_HEADER = ["n", "no verified answer", "a right draft refused", "gold evidence read", "refused by"]


def refusal_table(runs: Sequence[Any]) -> Table | None:
    """The report's table for its evidence-loop runs (None when it has none): one line per run
    and evidence (present, masked)."""
    table = Table(f"Questions without a verified answer (abstained, or answered unverified), by the "
                  f"check that refused the last draft; a right draft has F1 >= {RIGHT_F1:g}.",
                  ["Method", "evidence", *REFUSAL_HEADER], [])
    for run in runs:
        config = run.manifest.config
        if config.method != "evidence-loop":
            continue
        verify = str(config.options.get("verify", EvidenceLoopOptions().verify))
        for masked in (False, True):
            rows = [r for r in run.rows if bool(r.get("masked")) is masked]
            if rows:
                refusals = [f for r in rows if (f := recorded_refusal(r, verify)) is not None]
                table.rows.append([run.label, "masked" if masked else "present", *refusal_cells(len(rows), refusals)])
    return table if table.rows else None


__all__ = ["NO_DRAFT", "REFUSAL_HEADER", "RIGHT_F1", "UNRECORDED", "Refusal", "recorded_refusal", "refusal_cells", "refusal_table",
           "right_draft"]
