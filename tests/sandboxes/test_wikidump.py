"""A sandbox built from a (small, hand-written) MediaWiki XML dump in the real export format."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

from sleuth.errors import CorpusFormatError
from sleuth.sandboxes import Sandbox, build_sandbox
from sleuth.sandboxes.wikidump import iter_dump_pages, wikitext_paragraphs

ADA = """{{Infobox person|name=Ada Lovelace|birth_date=1815}}
'''Augusta Ada King, Countess of Lovelace''' (10 December 1815 – 27 November 1852) was an \
English [[mathematician]] and writer.<ref>{{cite book|title=Ada}}</ref> She is chiefly known \
for her work on [[Charles Babbage]]'s proposed [[Analytical Engine|mechanical computer]].

[[File:Ada Lovelace portrait.jpg|thumb|Portrait of Ada]]
== Early life ==
Lovelace was the only legitimate child of the poet [[Lord Byron]] and [[Anne Isabella \
Milbanke|Lady Byron]].<!-- hidden comment --> Her mother promoted her interest in mathematics.

{| class="wikitable"
| cell one || cell two
|}

=== Education ===
She was tutored by [[Mary Somerville]], who introduced her to Babbage in 1833.

== References ==
{{reflist}}
* Some book about Lovelace, published somewhere, with a long enough reference line.

[[Category:1815 births]]
"""

BABBAGE = """'''Charles Babbage''' (1791–1871) was an English polymath who originated the \
concept of a digital programmable computer.

== Analytical Engine ==
The Analytical Engine was a proposed mechanical general-purpose computer designed by Babbage."""

DUMP = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">
  <siteinfo><sitename>Wikipedia</sitename></siteinfo>
  <page>
    <title>Ada Lovelace</title><ns>0</ns><id>974</id>
    <revision><id>11</id><text bytes="1" xml:space="preserve">{ada}</text></revision>
  </page>
  <page>
    <title>Lady Lovelace</title><ns>0</ns><id>975</id><redirect title="Ada Lovelace" />
    <revision><id>12</id><text xml:space="preserve">#REDIRECT [[Ada Lovelace]]</text></revision>
  </page>
  <page>
    <title>Talk:Ada Lovelace</title><ns>1</ns><id>976</id>
    <revision><id>13</id><text xml:space="preserve">A talk page that must not be indexed at all.</text></revision>
  </page>
  <page>
    <title>Charles Babbage</title><ns>0</ns><id>5</id>
    <revision><id>14</id><text xml:space="preserve">{babbage}</text></revision>
  </page>
</mediawiki>
"""


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    path = tmp_path / "enwiki-test-pages-articles.xml.bz2"
    xml = DUMP.format(ada=_xml_escape(ADA), babbage=_xml_escape(BABBAGE))
    path.write_bytes(bz2.compress(xml.encode("utf-8")))
    return path


def test_wikitext_becomes_clean_paragraphs() -> None:
    paras = wikitext_paragraphs(ADA)
    assert paras[0].startswith("Augusta Ada King, Countess of Lovelace (10 December 1815")
    assert "mechanical computer" in paras[0] and "[[" not in paras[0]
    joined = "\n".join(paras)
    for junk in ("Infobox", "cite book", "thumb", "hidden comment", "cell one", "Category",
                 "Some book", "Early life", "=="):
        assert junk not in joined
    assert any(p.startswith("She was tutored by Mary Somerville") for p in paras)


def test_dump_pages_skip_redirects_and_other_namespaces(dump: Path) -> None:
    pages = list(iter_dump_pages(dump, progress=False))
    assert [(pid, title) for pid, title, _ in pages] == [
        ("974", "Ada Lovelace"), ("5", "Charles Babbage"),
    ]


async def test_sandbox_from_dump_searches_opens_and_finds(dump: Path, tmp_path: Path) -> None:
    manifest = build_sandbox(dump, tmp_path / "wiki", progress=False)
    assert manifest.source_kind == "wikidump" and manifest.n_pages == 2
    sandbox = Sandbox.load(tmp_path / "wiki")
    try:
        view = sandbox.view()
        result = await view.search("Somerville tutored", 3)
        assert result.hits[0].title == "Ada Lovelace" and result.hits[0].id.startswith("wp974-")
        page = await view.open("Ada Lovelace")
        assert page.ids == [f"wp974-{i}" for i in range(len(page.ids))] and len(page.ids) == 3
        found = await view.find("Charles Babbage", "analytical engine")
        assert [m.id for m in found.matches] == ["wp5-1"]
        assert (await view.call("open", {"title_or_id": "Lady Lovelace"})).error is not None
    finally:
        await sandbox.aclose()


def test_corrupt_dump_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml.bz2"
    path.write_bytes(bz2.compress(b"<mediawiki><page><title>A</title>"))
    with pytest.raises(CorpusFormatError, match="not a readable MediaWiki XML dump"):
        build_sandbox(path, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
