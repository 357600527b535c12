"""Following links by title: the linker on its own, then searches that follow links inside
a real sandbox (logged, masked, and absent where pages have no titles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleuth.errors import SandboxError
from sleuth.sandboxes import Sandbox
from sleuth.sandboxes.links import LinkedRetriever, TitleLinker, store_links

TITLES = ["Morris", "Morris Canal", "New Jersey", "Christopher Nolan", "Winner (band)",
          "Mercury (planet)", "Mercury (element)", "Up", "Inception"]


def test_longest_title_at_a_position_wins_and_words_must_stand_whole() -> None:
    linker = TitleLinker(TITLES)
    assert linker.mentions("New Jersey's Morris Canal was long.") == ["New Jersey", "Morris Canal"]
    assert linker.mentions("Morrison and Morrisey met Morris.") == ["Morris"]
    assert linker.mentions("Inceptions are not Inception") == ["Inception"]


def test_mentions_come_once_each_in_the_order_of_first_appearance() -> None:
    linker = TitleLinker(TITLES)
    text = "Inception was directed by Christopher Nolan. Nolan's Inception came first."
    assert linker.mentions(text) == ["Inception", "Christopher Nolan"]
    assert linker.mentions("Christopher Nolan's film") == ["Christopher Nolan"]


def test_a_unique_short_name_links_to_its_disambiguated_page() -> None:
    linker = TitleLinker(TITLES)
    assert linker.mentions("a song by Winner") == ["Winner (band)"]
    assert linker.mentions("the planet Mercury") == []  # two pages share the name
    assert linker.mentions("Winner (band) released it") == ["Winner (band)"]


def test_short_titles_and_case_changes_do_not_link() -> None:
    linker = TitleLinker(TITLES)
    assert linker.mentions("Up in the air, morris canal") == []
    assert len(TitleLinker(TITLES, min_chars=2)) == len(TITLES)
    assert TitleLinker(TITLES, min_chars=2).mentions("Up we go") == ["Up"]


# A bridge question of the mini corpus: the season's page names the player the answer is about.
SEASON, PLAYER = "2002–03 Inter Milan season", "Hernán Crespo"


async def test_search_follows_the_links_its_hits_name(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view()
    plain = await view.retriever().search([SEASON], k=1)
    linked = await view.retriever(follow_links=1).search([SEASON], k=1)
    player = mini_sandbox.pages.page(PLAYER)[0]
    assert [h.passage.title for h in plain[0]] == [SEASON]
    assert [h.passage.title for h in linked[0]] == [SEASON, PLAYER]
    assert linked[0][1].passage == player and linked[0][1].rank == 1
    assert linked[0][1].score == linked[0][0].score  # ranked after the hits, never above them
    assert [h.linked for h in linked[0]] == [False, True]
    last = view.log.actions[-1]
    assert last.args == {"query": SEASON, "k": 1, "follow_links": 1}
    assert last.ids == [linked[0][0].passage.id, player.id]  # the log shows what the agent saw


async def test_linked_pages_skip_the_hits_and_respect_the_limit(mini_sandbox: Sandbox) -> None:
    song = "Quando m'innamoro"  # its page names two others, the first twice
    view = mini_sandbox.view()
    hits = (await view.retriever(follow_links=10).search([song], k=1))[0]
    assert [h.passage.title for h in hits] == [song, "A Man Without Love", "Engelbert Humperdinck (singer)"]
    assert [h.rank for h in hits] == [0, 1, 2]
    few = (await view.retriever(follow_links=1).search([song], k=1))[0]
    assert [h.passage.title for h in few] == [song, "A Man Without Love"]


async def test_masked_pages_are_not_reached_through_links(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view(hide_titles=[PLAYER])
    hits = (await view.retriever(follow_links=3).search([SEASON], k=1))[0]
    assert PLAYER not in [h.passage.title for h in hits]
    assert all(not view.is_hidden(h.passage) for h in hits)


async def test_an_index_follows_links_from_its_own_titles(mini_corpus: Path, mini_sandbox: Sandbox,
                                                          tmp_path: Path) -> None:
    from sleuth.retrieval.index import build_index, load_index

    build_index(mini_corpus, tmp_path / "idx", progress=False)
    index = load_index(tmp_path / "idx")
    linker, first_paragraph = store_links(index.store)
    linked = LinkedRetriever(index, linker, first_paragraph, 2)
    try:
        assert len(linker) == mini_sandbox.manifest.n_pages
        hits = (await linked.search([SEASON, "Quando m'innamoro"], k=1))
        via_sandbox = await mini_sandbox.view().retriever(follow_links=2).search([SEASON, "Quando m'innamoro"], k=1)
        assert [[h.passage for h in q] for q in hits] == [[h.passage for h in q] for q in via_sandbox]
        assert [h.passage.title for h in hits[0]] == [SEASON, PLAYER]
    finally:
        await linked.aclose()


async def test_a_bare_index_has_no_titles_to_follow(mini_corpus: Path, tmp_path: Path) -> None:
    from sleuth.retrieval.index import build_index

    build_index(mini_corpus, tmp_path / "idx", progress=False)
    sandbox = Sandbox.load(tmp_path / "idx")
    try:
        hits = (await sandbox.view().retriever(follow_links=2).search([SEASON], k=1))[0]
        assert len(hits) == 1
    finally:
        await sandbox.aclose()


def test_negative_follow_links_is_refused(mini_sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="follow_links"):
        mini_sandbox.view().retriever(follow_links=-1)
