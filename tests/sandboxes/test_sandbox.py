"""The sandbox tools, its action log and evidence masking, on real HotpotQA paragraphs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sleuth.errors import CorpusFormatError, SandboxError, UserError
from sleuth.retrieval.base import Retriever
from sleuth.sandboxes import Sandbox, build_sandbox
from sleuth.sandboxes.sandbox import MANIFEST_FILE

GOLD_ID, GOLD_TITLE = "hp001589", "American Hardcore (film)"
LONG_TITLE = "Compilation of films"  # the long page of the mini corpus (conftest.py)
QUERY = "American Hardcore film 2006 documentary punk"


async def test_manifest_counts_pages_and_paragraphs(mini_sandbox: Sandbox) -> None:
    m = mini_sandbox.manifest
    assert m.source_kind == "jsonl" and len(m.source_sha256) == 64
    assert m.n_paragraphs == len(mini_sandbox.pages) == 208
    assert m.n_pages == 208 - 8 + 1  # eight paragraphs share the long page


async def test_search_returns_titles_ids_snippets(mini_sandbox: Sandbox) -> None:
    result = await mini_sandbox.view().search(QUERY, k=3)
    assert [h.rank for h in result.hits] == [0, 1, 2]
    assert result.hits[0].id == GOLD_ID and result.hits[0].title == GOLD_TITLE
    assert all(len(h.snippet) <= 202 for h in result.hits)
    assert result.hits[0].score >= result.hits[1].score >= result.hits[2].score
    assert GOLD_TITLE in result.render()


async def test_open_by_title_is_case_and_underscore_insensitive(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view()
    exact = await view.open(GOLD_TITLE)
    loose = await view.open("american_hardcore_(FILM)")
    assert exact == loose
    assert exact.ids == [GOLD_ID] and exact.n_pages == 1
    assert exact.text == mini_sandbox.pages.get(GOLD_ID).text  # type: ignore[union-attr]


async def test_long_page_is_paged_and_pages_cover_the_text(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view()
    view.page_chars = 600
    first = await view.open(LONG_TITLE)
    assert first.n_pages > 2
    pages = [await view.open(LONG_TITLE, page=i) for i in range(first.n_pages)]
    assert all(len(p.text) <= 600 + 4 for p in pages)
    shown = " ".join(p.text for p in pages).split()
    original = " ".join(p.text for p in mini_sandbox.pages.page(LONG_TITLE)).split()
    assert shown == original
    by_id = await view.open("long5")  # opening a paragraph id starts at the page holding it
    assert "long5" in by_id.ids and by_id.page > 0
    with pytest.raises(SandboxError, match="does not exist"):
        await view.open(LONG_TITLE, page=first.n_pages)


async def test_find_returns_matching_sentences(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view()
    found = await view.find(GOLD_TITLE, "HARDCORE")
    assert found.matches and all("hardcore" in m.sentence.lower() for m in found.matches)
    assert {m.id for m in found.matches} == {GOLD_ID}
    none = await view.find(GOLD_TITLE, "zzzz-not-there")
    assert none.matches == [] and "No sentence" in none.render()
    with pytest.raises(SandboxError, match="empty"):
        await view.find(GOLD_TITLE, "   ")


async def test_unknown_page_is_a_tool_error_not_a_crash(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view()
    result = await view.call("open", {"title_or_id": "No Such Page 123"})
    assert not result.ok and result.error is not None and result.error.code == "not_found"
    assert result.render().startswith("Error: No page or paragraph")
    bad = await view.call("find", {"title": "x"})
    assert bad.error is not None and bad.error.code == "bad_argument"
    ok = await view.call("search", {"query": "documentary", "k": 2})
    assert ok.ok and ok.search is not None and len(ok.search.hits) == 2
    with pytest.raises(SandboxError, match="Unknown tool"):
        await view.call("delete", {})


async def test_action_log_records_every_call_and_what_it_showed(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view()
    hits = await view.search(QUERY, k=4)
    page = await view.open(hits.hits[1].id)
    await view.find(GOLD_TITLE, "documentary")
    await view.call("open", {"title_or_id": "Missing"})
    await view.retriever().search(["Sampha Mercury Prize", "Chris Brown"], 2)
    log = view.log.actions
    assert [a.tool for a in log] == ["search", "open", "find", "open", "search", "search"]
    assert [a.seq for a in log] == list(range(6))
    assert log[0].ids == [h.id for h in hits.hits] and log[0].args == {"query": QUERY, "k": 4}
    assert log[1].ids == page.ids and log[1].titles == [page.title]
    assert log[3].error is not None and log[3].ids == []
    assert [a.via for a in log[4:]] == ["retriever", "retriever"]
    assert all(a.duration_s >= 0 and a.ts > 1.6e9 for a in log)
    assert view.log.seen_ids() == {i for a in log for i in a.ids}
    assert mini_sandbox.view().log.actions == []  # each view has its own log


async def test_masking_hides_evidence_from_search_open_and_find(mini_sandbox: Sandbox) -> None:
    masked = mini_sandbox.view(hide_ids=[GOLD_ID])
    result = await masked.search(QUERY, k=5)
    assert len(result.hits) == 5 and GOLD_ID not in {h.id for h in result.hits}
    hits = (await masked.retriever().search([QUERY], 5))[0]
    assert len(hits) == 5 and GOLD_ID not in {h.passage.id for h in hits}
    for target in (GOLD_ID, GOLD_TITLE):
        hidden = await masked.call("open", {"title_or_id": target})
        missing = await masked.call("open", {"title_or_id": "Never Existed"})
        # the agent cannot tell a hidden page from one that does not exist
        assert hidden.error is not None and missing.error is not None
        assert hidden.render().replace(target, "X") == missing.render().replace("Never Existed", "X")
        assert (await masked.call("find", {"title_or_id": target, "pattern": "film"})).error
    assert GOLD_ID not in masked.log.seen_ids()


async def test_masking_a_title_hides_all_its_paragraphs(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view(hide_titles=[LONG_TITLE.upper()])
    assert {f"long{i}" for i in range(8)} <= view.hidden_ids
    assert (await view.call("open", {"title_or_id": "long3"})).error is not None
    partial = mini_sandbox.view(hide_ids=["long0", "long1"])
    page = await partial.open(LONG_TITLE)
    assert "long0" not in page.ids and page.ids[0] == "long2"


async def test_bad_search_arguments(mini_sandbox: Sandbox) -> None:
    view = mini_sandbox.view()
    with pytest.raises(SandboxError, match="empty"):
        await view.search("  ")
    with pytest.raises(SandboxError, match="between 1 and 50"):
        await view.search("film", k=0)
    assert len(view.log) == 2 and all(a.error for a in view.log.actions)
    assert (await view.retriever().search([""], 3)) == [[]]


async def test_sandbox_retriever_follows_the_retriever_protocol(mini_sandbox: Sandbox) -> None:
    retriever = mini_sandbox.view().retriever()
    assert isinstance(retriever, Retriever)
    out = await retriever.search(["Sampha", "Chris Brown rapper", "documentary"], 2)
    assert len(out) == 3 and all(len(h) == 2 for h in out)
    assert all(h.passage.text and h.rank == i for hits in out for i, h in enumerate(hits))
    await retriever.aclose()
    assert (await retriever.search(["Sampha"], 1))[0]  # the shared index stays open


def test_build_refuses_existing_dir_and_cleans_up_after_failure(
    mini_corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sb"
    out.mkdir()
    with pytest.raises(UserError, match="already exists"):
        build_sandbox(mini_corpus, out, progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "title": "A", "text": "fine"}\n{"id": "b", "text"\n')
    with pytest.raises(CorpusFormatError, match=r"bad.jsonl:2"):
        build_sandbox(bad, tmp_path / "never", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "sb"]
    build_sandbox(bad, tmp_path / "skipped", on_error="skip", progress=False)
    assert Sandbox.load(tmp_path / "skipped").manifest.n_paragraphs == 1


def test_overwrite_replaces_a_sandbox(mini_corpus: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"id": "x1", "title": "X", "text": "Only one page here."}) + "\n")
    out = tmp_path / "sb"
    build_sandbox(mini_corpus, out, progress=False)
    build_sandbox(small, out, overwrite=True, progress=False)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["n_paragraphs"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


async def test_bare_retrieval_index_opens_as_a_sandbox(mini_corpus: Path, tmp_path: Path) -> None:
    from sleuth.retrieval.index import build_index

    build_index(mini_corpus, tmp_path / "index", progress=False)
    sandbox = Sandbox.load(tmp_path / "index")
    try:
        view = sandbox.view()
        hits = await view.search(QUERY, 2)
        assert hits.hits[0].id == GOLD_ID
        assert (await view.open(GOLD_ID)).title == GOLD_TITLE
        assert (await view.call("open", {"title_or_id": GOLD_TITLE})).error is not None
    finally:
        await sandbox.aclose()


def test_missing_sandbox_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="No sandbox"):
        Sandbox.load(tmp_path / "nope")


def test_cli_builds_a_sandbox(mini_corpus: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "sleuth", "sandbox", "build", str(mini_corpus),
           "--out", str(tmp_path / "sb")]
    first = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "built" in first.stdout and "201 pages, 208 paragraphs" in first.stdout
    again = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert Sandbox.load(tmp_path / "sb").manifest.n_paragraphs == 208
