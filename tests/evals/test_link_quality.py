"""Following links on the real HotpotQA sandbox: more two-hop questions get both gold
paragraphs than with more plain hits (BM25 only; the dense rows are in the slow table)."""

from __future__ import annotations

from pathlib import Path

from sleuth.evals.link_quality import format_link_markdown, run_link_quality
from sleuth.retrieval.bm25 import BM25Retriever
from sleuth.retrieval.corpus import load_corpus
from sleuth.retrieval.memory_store import MemoryPassageStore
from sleuth.retrieval.quality import sandbox_corpus
from sleuth.sandboxes.links import store_links
from sleuth.types import Passage


def test_a_link_opens_the_first_paragraph_of_its_page() -> None:
    rows = [Passage(id="a1", title="A", text="x"), Passage(id="b1", title="B", text="y"),
            Passage(id="a2", title="A", text="z")]
    linker, first_paragraph = store_links(MemoryPassageStore(rows))
    assert {t: first_paragraph(t).id for t in ("A", "B")} == {"A": "a1", "B": "b1"}  # type: ignore[union-attr]
    assert len(linker) == 2 and first_paragraph("C") is None


def test_two_links_find_both_gold_paragraphs_more_often_than_three_more_hits(shared_data: Path) -> None:
    bm25 = BM25Retriever.from_passages(load_corpus(sandbox_corpus(shared_data)))
    rows = {r.search: r for r in run_link_quality(shared_data, {"BM25": bm25}, links=(2,), plain=(5, 8))}
    top5, top8, linked = rows["top 5"], rows["top 8"], rows["top 5 + 2 links"]
    assert 5 < linked.passages <= 7
    assert linked.all_found > top8.all_found > top5.all_found
    assert linked.recall > top5.recall
    assert "| BM25 | top 5 + 2 links |" in format_link_markdown(list(rows.values()))
