"""Question names and whether the passages read mention them (EvidenceLoop's coverage check)."""

from __future__ import annotations

import pytest

from sleuth.agents.coverage import (
    fold,
    is_covered,
    missing_query,
    names_page,
    passage_texts,
    question_names,
    uncovered_names,
)
from sleuth.types import Passage


def _names(question: str) -> list[str]:
    return [" ".join(n) for n in question_names(question)]


@pytest.mark.parametrize(("question", "names"), [
    ("Which 18th-century canal was longer, the Sandy and Beaver Canal in Ohio or New Jersey's Morris Canal?",
     ["Sandy and Beaver Canal in Ohio", "New Jersey", "Morris Canal"]),
    ("Are Ian Brown and Dee Snider both actors?", ["Ian Brown and Dee Snider"]),
    ('What screenwriter with credits for "Evolution" co-wrote a film starring Nicolas Cage?',
     ["Evolution", "Nicolas Cage"]),
    ("In 1991 Euromarché was bought by a chain that operated how many hypermarkets?", ["Euromarché"]),
    ("Where was the director of Inception born?", ["Inception"]),
    ("who directed the film?", []),
    ("Simon & Simon starred which actor from the US?", ["Simon & Simon"]),  # "US": pages say "American"
    ("WHICH GROUP NICKNAMED THE US ARMYS REGIMENT BUFFALO SOLDIERS?", []),  # all capitals: no names to read
])
def test_question_names(question: str, names: list[str]) -> None:
    assert _names(question) == names


def _texts(*texts: str) -> list[str]:
    return passage_texts([Passage(id=str(i), title="", text=t) for i, t in enumerate(texts)])


def test_a_name_is_covered_whole_or_in_parts_but_not_by_a_different_name() -> None:
    texts = _texts("Ian Brown is an English singer.", "Dee Snider fronted Twisted Sister.")
    assert is_covered(("Ian", "Brown", "and", "Dee", "Snider"), texts)
    assert not is_covered(("Ian", "Brown", "and", "Dee", "Snider"), texts[:1])
    assert not is_covered(("Morris", "Canal"), _texts("The Morris County canal is long."))
    # a rank or demonym at the edge may go; the name itself may not
    lewis = _texts("Donald Swain Lewis was a pilot.")
    assert is_covered(("Lieutenant", "Colonel", "Donald", "Swain", "Lewis"), lewis)
    assert not is_covered(("Donald", "Lewis"), lewis)


def test_matching_ignores_case_accents_and_punctuation_on_whole_words() -> None:
    assert fold("Kaspars Astašenko's") == "kaspars astasenko s"
    assert is_covered(("Kaspars", "Astasenko"), _texts("KASPARS ASTAŠENKO (born 1975)"))
    assert not is_covered(("Art",), _texts("Arthur's Magazine"))


def test_missing_query_searches_for_the_part_not_yet_seen() -> None:
    texts = _texts("Dee Snider fronted Twisted Sister.")
    assert missing_query(("Ian", "Brown", "and", "Dee", "Snider"), texts) == "Ian Brown"
    question = "Which canal was longer, the Sandy and Beaver Canal or the Morris Canal?"
    read = [Passage(id="1", title="Morris Canal", text="The Morris Canal ran 102 miles.")]
    assert uncovered_names(question, read) == ["Sandy Beaver Canal"]
    read.append(Passage(id="2", title="Sandy and Beaver Canal", text="The Sandy and Beaver Canal was 73 miles."))
    assert uncovered_names(question, read) == []


def test_a_page_is_about_a_name_when_one_holds_all_the_words_of_the_other() -> None:
    assert names_page("Tenet (film)", "Tenet")
    assert names_page("Sandy and Beaver Canal", "Sandy Beaver Canal")
    assert not names_page("Cinema club", "Tenet")
    assert not names_page("U.S. Route 19 Truck (Pittsburgh)", "Route 66")
    assert not names_page("", "Tenet") and not names_page("Tenet", "")
