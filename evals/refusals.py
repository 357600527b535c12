"""Why EvidenceLoop gave no verified answer (the check that refused the last draft), and what accepted the ones it gave.

A refusal is only as good as its reason. A masked question refused because a name of the
question is on no page read is the loop working; an answerable one refused by the judge after
a right draft is a lost answer. For every question that got no verified answer (it abstained,
or gave its best draft unverified) this module reads the last verification its trace recorded
(:meth:`sleuth.agents.evidence_steps.Verification.failed_check`) and counts the questions by
that check, together with how many had a right draft among those refused and how many had read
all the gold evidence. The other side is counted too: each verified answer by what accepted it
(the string check, the judge, or both), right and wrong apart, since a wrong answer, or a
masked question's, got through exactly those checks. ``sleuth eval report`` shows both tables
for evidence-loop runs as made; ``sleuth eval replay-verify --why`` shows the first for a
replayed setting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from sleuth.agents.evidence_steps import UNVERIFIED_NOTE, EvidenceLoopOptions, Verification
from sleuth.evals.metrics import f1_score
from sleuth.evals.tables import Table

T = TypeVar("T")

RIGHT_F1 = 0.5
"""A refused draft counts as right from this F1 against the gold answer on."""

NO_DRAFT = "no draft"
"""The reason of a question that never drafted an answer."""

JUDGE_UNDECIDED = "judge undecided"
"""The reason of a replayed draft that needs a judge verdict the run never asked for."""

UNRECORDED = "not recorded"
"""The reason of a question whose trace predates the verification fields (older runs)."""

REPLAY_TRUNCATED = "replay truncated"
"""The reason of a replayed row whose setting rejected a draft the run accepted: what a new
search would have found is not in the trace (see :mod:`sleuth.evals.replay_verify`)."""


@dataclass
class Refusal:
    """One question that got no verified answer."""

    check: str
    """The check that refused its last draft (``failed_check``), :data:`NO_DRAFT`,
    :data:`UNRECORDED`, or in a replay :data:`JUDGE_UNDECIDED` or :data:`REPLAY_TRUNCATED`."""
    right_refused: bool
    """A refused draft was right (F1 >= :data:`RIGHT_F1`)."""
    sufficient: bool | None
    """All the gold evidence had been read (the row's ``sufficient`` metric)."""


def right_draft(answer: str, gold: Sequence[str]) -> bool:
    """Whether ``answer`` counts as right: F1 >= :data:`RIGHT_F1` against the gold answers."""
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


def _replay(row: dict[str, Any]) -> dict[str, Any] | None:
    """The ``replay`` record of a line ``sleuth eval replay-verify --out`` wrote: its verdicts
    are the replayed setting's, not the ones the trace's notes record."""
    replay = row.get("replay")
    return replay if isinstance(replay, dict) else None


def gave_unverified(row: dict[str, Any]) -> bool:
    """Whether an evidence-loop result row's trace ends with its best draft given unverified."""
    return any(e.get("type") == "note" and e.get("kind") == UNVERIFIED_NOTE for e in row.get("trace") or [])


def _verified(row: dict[str, Any]) -> bool:
    """Whether a result row that did not fail gave an answer the loop verified: it neither
    abstained nor gave its best draft unverified."""
    replay = _replay(row)
    unverified = replay.get("unverified") if replay is not None else gave_unverified(row)
    return not (row.get("abstained") or unverified)


def by_evidence(items: Iterable[T], masked: Callable[[T], bool]) -> Iterator[tuple[str, list[T]]]:
    """``items`` split into ("present", ...) and ("masked", ...), leaving out an empty part."""
    found = list(items)
    for hidden in (False, True):
        if part := [item for item in found if masked(item) is hidden]:
            yield ("masked" if hidden else "present"), part


def recorded_refusal(row: dict[str, Any], verify: str) -> Refusal | None:
    """Why an evidence-loop result row got no verified answer, from its trace (from the replay's
    own record on a replayed line); None when it has a verified answer or failed (a timeout, a
    crash). ``verify``: the run's setting."""
    if row.get("error") or _verified(row):
        return None
    sufficient = (row.get("metrics") or {}).get("sufficient")
    if (replay := _replay(row)) is not None:
        check = replay.get("refused_by") or (REPLAY_TRUNCATED if replay.get("truncated") else UNRECORDED)
        return Refusal(check=check, right_refused=bool(replay.get("right_refused")), sufficient=sufficient)
    found = _verifications(row)
    refused = [v for v in found or [] if not v.supported]
    gold = [str(g) for g in row.get("gold") or []]
    check = UNRECORDED if found is None else refused[-1].failed_check(verify) if refused else NO_DRAFT
    return Refusal(check=check,
                   right_refused=any(not v.no_answer and right_draft(v.answer, gold) for v in refused),
                   sufficient=sufficient)


def refusal_cells(questions: int, refusals: Iterable[Refusal]) -> list[str]:
    """The counting cells of a row of the refusal table: questions, no verified answer, a right
    draft refused, gold evidence read, and the checks that refused, most frequent first."""
    found = list(refusals)
    return [str(questions), str(len(found)), str(sum(r.right_refused for r in found)),
            str(sum(r.sufficient is True for r in found)), _counts(r.check for r in found)]


REFUSAL_HEADER = ["n", "no verified answer", "a right draft refused", "gold evidence read", "refused by"]


def acceptance(verification: Verification) -> str:
    """What accepted a supported draft: "string check", "judge", or both ("string check and judge")."""
    parts = [*(["string check"] if verification.string_check else []),
             *(["judge"] if verification.judge == "yes" else [])]
    return " and ".join(parts) or "-"


def recorded_acceptance(row: dict[str, Any]) -> tuple[str, bool] | None:
    """What accepted the answer of an evidence-loop result row that has a verified one (its
    last supported verification, or the replay's own record on a replayed line), and whether
    the answer is right (F1 >= :data:`RIGHT_F1`); None for a row without a verified answer, or
    whose trace predates the verification fields."""
    if row.get("error") or not _verified(row):
        return None
    if (replay := _replay(row)) is not None:
        by = replay.get("accepted_by")
    else:
        found = [v for v in _verifications(row) or [] if v.supported]
        by = acceptance(found[-1]) if found else None
    if by is None:
        return None
    return str(by), right_draft(str(row.get("prediction") or ""), [str(g) for g in row.get("gold") or []])


def _counts(items: Iterable[str]) -> str:
    return ", ".join(f"{item} {n}" for item, n in Counter(items).most_common()) or "-"


def refusal_tables(runs: Sequence[Any]) -> list[Table]:
    """The report's verification tables for its evidence-loop runs (none when it has none), one
    line per run and evidence (present, masked): why questions got no verified answer, and what
    accepted the verified answers, wrong ones apart."""
    refused = Table(f"Questions without a verified answer (abstained, or answered unverified), by the "
                    f"check that refused the last draft; a right draft has F1 >= {RIGHT_F1:g}.",
                    ["Method", "evidence", *REFUSAL_HEADER], [])
    accepted = Table("Verified answers, by the checks that accepted them; a wrong answer (F1 < "
                     f"{RIGHT_F1:g}) got through them.",
                     ["Method", "evidence", "verified answers", "right", "right, accepted by", "wrong, accepted by"], [])
    for run in runs:
        config = run.manifest.config
        if config.method != "evidence-loop":
            continue
        verify = str(config.options.get("verify", EvidenceLoopOptions().verify))
        for evidence, rows in by_evidence(run.rows, lambda row: bool(row.get("masked"))):
            refusals = [f for r in rows if (f := recorded_refusal(r, verify)) is not None]
            refused.rows.append([run.label, evidence, *refusal_cells(len(rows), refusals)])
            verified = [a for r in rows if (a := recorded_acceptance(r)) is not None]
            accepted.rows.append([run.label, evidence, str(len(verified)), str(sum(right for _, right in verified)),
                                  _counts(by for by, right in verified if right),
                                  _counts(by for by, right in verified if not right)])
    return [refused, accepted] if refused.rows else []


__all__ = ["JUDGE_UNDECIDED", "NO_DRAFT", "REFUSAL_HEADER", "REPLAY_TRUNCATED", "RIGHT_F1", "UNRECORDED", "Refusal",
           "acceptance", "by_evidence", "gave_unverified", "recorded_acceptance", "recorded_refusal", "refusal_cells",
           "refusal_tables", "right_draft"]
