"""Reading answers: which questions a yes or no cannot answer."""

from __future__ import annotations

import pytest

from sleuth.agents.answers import asks_for_a_thing, mismatched_yes_no


@pytest.mark.parametrize("question", [
    "What was needed to diverge from the ritual?",
    "In which city was the director of Inception born?",
    "who founded the company?",
    " Which is older, A or B?",
    "How many legs does a scorpion have?",
])
def test_wh_questions_ask_for_a_thing(question: str) -> None:
    assert asks_for_a_thing(question)


@pytest.mark.parametrize("question", [
    "Are Lee and Xu both American directors?",
    "Did Ajax play in the final?",
    "Chicagoland Sports Hall of Fame was founded by the company located in what Washington town?",
    "Whatever happened to Baby Jane, was it a film?",
    "",
])
def test_other_questions_may_want_a_yes_or_no(question: str) -> None:
    assert not asks_for_a_thing(question)


def test_a_yes_or_no_to_a_wh_question_is_mismatched() -> None:
    assert mismatched_yes_no("What was needed to diverge from the ritual?", "Yes.")
    assert mismatched_yes_no("Which is older, A or B?", "no")
    assert not mismatched_yes_no("Are A and B both films?", "yes")
    assert not mismatched_yes_no("What was founded in 1990?", "Yesterday")
