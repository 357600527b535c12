"""Evidence notes are parsed into grounded claims; the ledger and the cheap string check."""

from __future__ import annotations

import math

import pytest

from sleuth.agents.evidence_steps import combine, p_yes, read_judgement
from sleuth.agents.ledger import EvidenceLedger, answer_in_passage, parse_note, string_check
from sleuth.engines.base import GenerationResponse, TokenLogprob
from sleuth.types import Passage

DOCS = [
    Passage(id="p1", title="Inception", text="Inception is a 2010 film directed by Christopher Nolan."),
    Passage(id="p2", title="Christopher Nolan", text="Christopher Nolan was born in London, England."),
]


def test_note_claims_map_doc_numbers_to_passage_ids() -> None:
    note = parse_note(
        "Key facts:\n- [Doc 1] Inception was directed by Christopher Nolan.\n"
        "- (Doc 2): Nolan was born in London.\nUncertain:\n- none",
        DOCS, hop=1,
    )
    assert [(c.text, c.passage_ids, c.certain) for c in note.claims] == [
        ("Inception was directed by Christopher Nolan.", ["p1"], True),
        ("Nolan was born in London.", ["p2"], True),
    ]
    assert note.useful and note.dropped == []


def test_uncertain_section_and_uncited_claims_grounded_by_overlap() -> None:
    note = parse_note("Key facts:\n- none\nUncertain:\n- Christopher Nolan born London", DOCS, hop=2)
    assert len(note.claims) == 1 and not note.claims[0].certain
    assert note.claims[0].passage_ids == ["p2"] and not note.useful


@pytest.mark.parametrize(
    "text",
    [
        "Key facts:\n- No useful evidence.",
        "No useful information found.",
        "",
        "Key facts:\n-<information>\nDoc 1 (Title: Inception) Inception was directed by Christopher Nolan.",
    ],
)
def test_no_useful_evidence(text: str) -> None:
    note = parse_note(text, DOCS, hop=1)
    assert note.claims == [] and not note.useful


def test_invented_citations_are_dropped() -> None:
    note = parse_note("Key facts:\n- [Doc 1] Nolan was born in Paris, France in 1850.\n"
                      "- [Doc 7] Inception won eleven Oscars.", DOCS, hop=1)
    assert note.claims == []
    assert len(note.dropped) == 2


def test_a_miscounted_citation_moves_to_the_document_that_backs_the_claim() -> None:
    note = parse_note("Key facts:\n- [Doc 1] Nolan was born in London, England.", DOCS, hop=1)
    assert [(c.text, c.passage_ids) for c in note.claims] == [("Nolan was born in London, England.", ["p2"])]
    assert note.dropped == []


def test_ledger_skips_repeats_and_keeps_cited_passages() -> None:
    ledger = EvidenceLedger()
    note = parse_note("Key facts:\n- [Doc 2] Nolan was born in London.", DOCS, hop=1)
    ledger.add(note, DOCS)
    ledger.add(note, DOCS)
    assert len(ledger.claims) == 1 and list(ledger.passages) == ["p2"]
    assert ledger.facts_text() == "1. Nolan was born in London."
    assert [p.id for p in ledger.supporting("London")] == ["p2"]


@pytest.mark.parametrize(
    ("answer", "found"),
    [("London", True), ("london.", True), ("London, England", True), ("Paris", False),
     ("Lond", False), ("England London", True), ("", False),
     ("England's London", True), ("England’s capital London", False), ("Paris's London", False)],
)
def test_answer_in_passage(answer: str, found: bool) -> None:
    assert answer_in_passage(answer, DOCS[1]) is found


@pytest.mark.parametrize(("answer", "found"), [("3", True), ("three", True), ("3 years", True), ("4", False),
                                               ("thirty", False)])
def test_number_words_match_their_digits(answer: str, found: bool) -> None:
    farmer = Passage(id="f", title="Tony Martin (farmer)", text="He served three years of a life sentence.")
    assert answer_in_passage(answer, farmer) is found


def test_string_check_is_not_applicable_to_yes_no() -> None:
    ledger = EvidenceLedger(passages={"p2": DOCS[1]})
    assert string_check("yes", ledger) is None
    assert string_check("London", ledger) is True
    assert string_check("Paris", ledger) is False


@pytest.mark.parametrize(
    ("mode", "judge", "found", "supported"),
    [
        ("both", "yes", True, True), ("both", "yes", None, True), ("both", "yes", False, False),
        ("both", "no", True, False), ("judge", "yes", False, True), ("string", "no", True, True),
        ("string", "yes", None, True), ("either", "no", True, True), ("either", "no", False, False),
    ],
)
def test_verification_modes(mode: str, judge: str, found: bool | None, supported: bool) -> None:
    assert combine(mode, judge, found) is supported  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("judge", "found", "unpaged", "supported"),
    [
        ("skipped", True, False, True),  # every name has a page read: the string check decides
        ("no", True, True, False), ("yes", True, True, True),  # a name only mentioned: the judge too
        ("yes", False, False, False), ("yes", False, True, False),  # no passage holds it
        ("yes", None, False, True), ("no", None, False, False),  # yes/no: the judge alone
    ],
)
def test_hybrid_asks_the_judge_when_a_name_has_no_page(judge: str, found: bool | None, unpaged: bool,
                                                       supported: bool) -> None:
    assert combine("hybrid", judge, found, unpaged) is supported  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "judge"), [(" yes", "yes"), (" No.", "no"), (" maybe", "unclear"), ("", "unclear")])
def test_read_judgement(text: str, judge: str) -> None:
    assert read_judgement(text) == judge


@pytest.mark.parametrize(
    ("text", "logprob", "expected"),
    [(" yes", math.log(0.9), 0.9), (" no", math.log(0.7), 0.3), (" No.", math.log(0.55), 0.45),
     (" maybe", -0.1, None), (" yes", None, None)],
)
def test_judge_probability_of_yes(text: str, logprob: float | None, expected: float | None) -> None:
    logprobs = None if logprob is None else [TokenLogprob(token=text.split()[0], logprob=logprob)]
    got = p_yes(GenerationResponse(text=text, finish_reason="stop", logprobs=logprobs))
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_cutting_hits_to_k_keeps_the_pages_a_search_followed_links_to() -> None:
    from sleuth.agents.evidence import top_hits
    from sleuth.types import SearchHit

    hits = [SearchHit(passage=Passage(id=f"p{i}", title=f"T{i}", text="x"), score=5.0 - i, rank=i,
                      linked=i >= 4) for i in range(6)]
    assert [h.passage.id for h in top_hits(hits, 2)] == ["p0", "p1", "p4", "p5"]
    assert [h.passage.id for h in top_hits(hits, 10)] == [h.passage.id for h in hits]
    assert top_hits(hits, 0) == []
