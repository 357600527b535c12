"""Which check rejects a draft: what EvidenceLoop's verification reports as the reason."""

from __future__ import annotations

from sleuth.agents.evidence_steps import EvidenceLoopOptions, Judgement, check_draft
from sleuth.agents.ledger import Claim, EvidenceLedger, EvidenceNote
from sleuth.types import Passage

_CANAL = Passage(id="c", title="Morris Canal", text="The Morris Canal ran across northern New Jersey to Jersey City.")
_HOOK = Passage(id="h", title="Sandy Hook", text="Sandy Hook is a barrier spit in Monmouth County.")
_CANALS = Passage(id="n", title="Canals of New Jersey",
                  text="The Erie Canal was longer than the Morris Canal, which ran to Jersey City.")


def _failed(question: str, answer: str, read: list[Passage], mode: str = "both", judge: Judgement = "no",
            **options: object) -> str | None:
    ledger = EvidenceLedger()
    ledger.add(EvidenceNote(hop=1, text="", claims=[Claim(text=p.text, passage_ids=[p.id]) for p in read]), read)
    opts = EvidenceLoopOptions.model_validate({"verify": mode, **options})
    checks = check_draft(question, answer, ledger, read, [], opts)
    verdict = checks.verification(mode, judge if checks.needs_judge(mode) else "skipped")
    return None if verdict.supported else verdict.failed_check(mode)


def test_each_rejection_names_the_check_that_made_it() -> None:
    where = "Which city did the Morris Canal reach?"
    assert _failed(where, "Jersey City", [_CANAL], judge="yes") is None  # supported: nothing failed
    assert _failed(where, "unknown", [_CANAL]) == "no answer"
    assert _failed(where, "Morris Canal", [_CANAL]) == "echo"  # repeats the question's one name
    assert _failed(where, "Paris", [_CANAL]) == "string check"  # in no cited passage; the judge is not asked
    assert _failed(where, "Paris", [_CANAL], mode="judge") == "judge"  # the string check does not count there
    assert _failed(where, "Jersey City", [_CANAL]) == "judge"  # found, and the judge said no
    assert _failed("Which city did the Morris Canal reach, north of Sandy Hook?", "Jersey City",
                   [_CANAL]) == "name missing"  # no passage read mentions Sandy Hook
    assert _failed("Which city did the Morris Canal reach, north of Sandy Hook?", "Jersey City",
                   [_CANAL, _HOOK], connect=True) == "name unlinked"  # mentioned, but nowhere near the answer
    assert _failed("Which was longer, the Morris Canal or the Erie Canal?", "Erie Canal", [_CANALS],
                   mode="hybrid") == "answer unpaged"  # the answer is a name the question gives, with no page read
