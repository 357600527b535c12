"""Question names and whether the passages read mention them (EvidenceLoop's coverage check)."""

from __future__ import annotations

import pytest

from sleuth.agents.coverage import (
    demonyms,
    echoes_question,
    fold,
    is_covered,
    is_demonym,
    missing_query,
    names_page,
    passage_texts,
    question_names,
    title_keys,
    unconnected_names,
    uncovered_names,
    unpaged_names,
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
    ("One of Fingerprint File's key ingredients is jazz.", ["Fingerprint File"]),  # not "One of ..."
    ("Some of the Beatles sang.", ["Beatles"]),
    ("May of Teck married whom?", ["May of Teck"]),  # a month may be a name
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
    # "&" joins a title: its halves are not two names that any "Simon" covers
    assert not is_covered(("Simon", "&", "Simon"), _texts("Simon Woods is an actor."))


def _page(title: str, text: str = "") -> Passage:
    return Passage(id=title, title=title, text=text)


def test_a_shortened_name_counts_only_as_a_page_of_that_name() -> None:
    airport = ("Aberdeen", "Regional", "Airport")
    mentions = [_page("Braden Airpark", "Like any regional airport, it has one runway.")]
    assert is_covered(airport, passage_texts(mentions))  # without page names: the old leniency
    assert not is_covered(airport, passage_texts(mentions), title_keys(mentions))
    rank = ("Lieutenant", "Colonel", "Donald", "Swain", "Lewis")
    colonel = [_page("Lieutenant colonel", "A lieutenant colonel ranks above a major.")]
    assert not is_covered(rank, passage_texts(colonel), title_keys(colonel))  # a rank is not the man
    lewis = [_page("Donald Swain Lewis", "He flew in the First World War.")]
    assert is_covered(rank, passage_texts(lewis), title_keys(lewis))
    american = ("George", "Archainbaud", "American")  # "Are both ... George Archainbaud American?"
    assert is_covered(american, passage_texts([_page("George Archainbaud (director)")]),
                      title_keys([_page("George Archainbaud (director)")]))
    assert uncovered_names("Which is further north, Aberdeen Regional Airport or Lehigh Valley Airport?",
                           [*mentions, _page("Lehigh Valley Airport")]) == ["Aberdeen Regional Airport"]


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
    # a shorter page must keep the name's last word; a one-word name must be the whole page
    assert names_page("Donald Swain Lewis", "Lieutenant Colonel Donald Swain Lewis")
    assert not names_page("Lieutenant colonel", "Lieutenant Colonel Donald Swain Lewis")
    assert not names_page("Joe Gander", "Gander")
    assert names_page("John R. Rogers High School", "Rogers High School")


def test_an_answer_that_repeats_the_questions_one_name_answers_nothing() -> None:
    dish = "Where did this dish emerge in the late 1950s that is a long-standing tradition in New Jersey?"
    assert echoes_question(dish, "New Jersey") and echoes_question(dish, "new jersey")
    assert not echoes_question(dish, "Centre-du-Québec")
    which = "Between Amazing Stories and Aquarium Fish International, which magazine is about hobbies?"
    assert not echoes_question(which, "Aquarium Fish International")  # a choice between the names it gives
    assert not echoes_question("Was Tenet directed by Christopher Nolan?", "yes")


BERGL_Q = "What series was Emily Bergl in that is set in Chicago?"


def test_every_name_must_be_mentioned_near_the_answer() -> None:
    film = _page("Happy Campers (2001 film)", "Happy Campers is a comedy starring Emily Bergl.")
    book = _page("Chicago: City on the Make", "An essay on Chicago by Nelson Algren.")
    assert uncovered_names(BERGL_Q, [film, book]) == []  # each name is mentioned somewhere...
    assert unconnected_names(BERGL_Q, "Happy Campers", [film, book]) == ["Chicago"]  # ...but not near it
    bergl = _page("Emily Bergl", "Emily Bergl plays Sammi in Shameless.")
    show = _page("Shameless (American TV series)", "Shameless is a comedy-drama set in Chicago.")
    assert unconnected_names(BERGL_Q, "Shameless", [bergl, show, book]) == []  # linked by the page title
    assert unconnected_names(BERGL_Q, "Shameless", [bergl, book]) == ["Chicago"]  # the essay is not about the show
    assert unconnected_names(BERGL_Q, "Shameless", [_page("Emily Bergl", "Emily Bergl is an actress."),
                                                    show, book]) == ["Emily Bergl"]


def test_comparisons_and_yes_no_answers_are_not_held_to_nearness() -> None:
    question = "Which airport is further north, Valley International Airport or Aberdeen Regional Airport?"
    pages = [_page("Valley International Airport", "It is in Harlingen, Texas."),
             _page("Aberdeen Regional Airport", "It is in South Dakota.")]
    assert unconnected_names(question, "Aberdeen Regional Airport", pages) == []
    assert unconnected_names("Are Ian Brown and Dee Snider both singers?", "yes",
                             [_page("Ian Brown", "A singer."), _page("Dee Snider", "A singer.")]) == []
    # the answer nowhere in what was read: the string check's business
    assert unconnected_names(BERGL_Q, "Shameless", [_page("Emily Bergl", "An actress from Chicago.")]) == []


def test_a_name_known_only_from_mentions_has_no_page() -> None:
    question = "In what school district is Governor John R. Rogers High School, named after John Rankin Rogers, located?"
    spokane = _page("John R. Rogers High School", "A school in Spokane, named after John Rankin Rogers.")
    # the shortened school name is a page read; the governor is only mentioned in its text
    assert uncovered_names(question, [spokane]) == []
    assert unpaged_names(question, [spokane]) == ["John Rankin Rogers"]
    assert unpaged_names(question, [spokane, _page("John Rankin Rogers (politician)")]) == []
    # a name that is two names needs a page for each; a page named after only one is not enough
    pair = "Are Ian Brown and Dee Snider both actors?"
    assert unpaged_names(pair, [_page("Ian Brown"), _page("Twisted Sister", "Dee Snider sang.")]) == \
        ["Ian Brown and Dee Snider"]
    assert unpaged_names(pair, [_page("Ian Brown"), _page("Dee Snider")]) == []
    assert unpaged_names("who directed the film?", []) == []


def test_a_place_is_covered_by_its_adjective() -> None:
    # "Were both Eugene Dynkin and Vladimir Voevodsky mathematicians from Russia?": the pages
    # say "a Russian mathematician", and no page is named "Russia"
    voevodsky = _texts("Vladimir Voevodsky was a Russian mathematician.")
    assert is_covered(("Russia",), voevodsky)
    assert uncovered_names("Were both Eugene Dynkin and Vladimir Voevodsky mathematicians from Russia?",
                           [_page("Eugene Dynkin", "a Soviet and American mathematician"),
                            _page("Vladimir Voevodsky", "was a Russian mathematician")]) == []
    assert is_covered(("France",), _texts("a French painter"))
    assert is_covered(("South", "Korea"), _texts("a South Korean singer"))
    assert demonyms(("Soviet", "Union")) == ["soviet"]
    # only places: other names are not covered by a longer word
    assert not is_covered(("Bria",), _texts("Brian Eno"))
    assert not is_covered(("Russia",), _texts("a Prussian general"))  # whole words only
    assert demonyms(("Morris", "Canal")) == []


def test_a_middle_initial_stands_for_the_name_it_begins() -> None:
    # "... a Rock singer Robert C Seger born may 6 1945": his page says "Robert Clark Seger"
    seger = _texts("Robert Clark Seger (born May 6, 1945) is an American singer-songwriter.")
    assert is_covered(("Robert", "C", "Seger"), seger)
    assert is_covered(("Robert", "C.", "Seger"), seger)
    assert not is_covered(("Robert", "D", "Seger"), seger)  # the letter must begin the word
    assert not is_covered(("Robert", "C", "Seger"), _texts("Robert Seger"))  # a middle name is needed


def test_a_final_s_may_be_an_apostrophes() -> None:
    # "J.B. Scotts located on this 11 mile stretch in Albany ...": the page says "J.B. Scott's"
    scotts = _texts("J.B. Scott's was a music venue on Central Avenue in Albany, New York.")
    assert is_covered(("J.B.", "Scotts"), scotts)
    assert not is_covered(("J.B.", "Scotts"), _texts("J.B. Scott was a farmer."))  # the "s" is needed
    assert not is_covered(("Gus",), _texts("Gu's"))  # too short a word to vary
    assert is_covered(("Robert", "C", "Seagers"), _texts("Robert Clark Seager's band"))  # both variants


def test_a_places_adjective_needs_no_page() -> None:
    question = "Which Australian television producer created the soap opera Neighbours?"
    neighbours = _page("Neighbours", "An Australian soap opera created by Reg Watson.")
    assert unpaged_names(question, [neighbours]) == []
    assert unpaged_names("Which Irish band recorded Zooropa?", [_page("Zooropa")]) == []
    assert unpaged_names("Which South Korean city hosted it?", []) == []
    # a person's name that happens to end like one is still a name
    assert unpaged_names("What film did Brian direct?", []) == ["Brian"]
    assert unpaged_names("Who founded Australian Airlines?", []) == ["Australian Airlines"]
    assert is_demonym("australian") and is_demonym("irish") and not is_demonym("australia")
