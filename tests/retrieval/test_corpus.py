"""Corpus ingestion: every supported format, and every kind of bad line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sleuth.errors import CorpusFormatError
from sleuth.retrieval.corpus import CorpusReader, load_corpus, split_contents


def write_lines(path: Path, lines: list[bytes]) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def jl(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_jsonl_and_gzip_give_the_same_passages(tmp_path: Path) -> None:
    lines = [jl({"id": "a", "title": "A", "text": "alpha", "extra": [1]}), jl({"id": 7, "text": "b"})]
    plain = load_corpus(write_lines(tmp_path / "c.jsonl", lines))
    gz = load_corpus(write_lines(tmp_path / "c.jsonl.gz", lines))
    assert plain == gz
    assert [(p.id, p.title, p.text) for p in plain] == [("a", "A", "alpha"), ("7", "", "b")]


def test_gzip_is_sniffed_not_guessed_from_the_name(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(gzip.compress(jl({"id": "x", "title": "T", "text": "t"}) + b"\n"))
    assert load_corpus(path)[0].id == "x"


def test_flashrag_contents_split_into_title_and_text(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "f.jsonl", [jl({"id": "0", "contents": '"Aaron"\nAaron is a prophet.'})])
    passage = load_corpus(path)[0]
    assert (passage.title, passage.text) == ("Aaron", "Aaron is a prophet.")
    assert passage.contents() == '"Aaron"\nAaron is a prophet.'


def test_split_contents_without_a_newline_is_all_text() -> None:
    assert split_contents("no title here") == ("", "no title here")
    assert split_contents('"Multi\nline"') == ('"Multi', 'line"')


def test_dpr_tsv_with_quoted_text(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "psgs_w100.tsv", [
        b"id\ttext\ttitle",
        b'1\t"Aaron Aaron ( or ; ""Ah\xc3\xa4r\xc3\xb4n"") is a prophet"\tAaron',
        b"2\tplain text\tSecond",
    ])
    passages = load_corpus(path)
    assert [p.id for p in passages] == ["1", "2"]
    assert passages[0].text == 'Aaron Aaron ( or ; "Ahärôn") is a prophet'
    assert passages[0].title == "Aaron"


BAD_LINES = [
    (b"{not json", "not valid JSON"),
    (jl([1, 2]), "expected a JSON object"),
    (jl({"title": "t", "text": "x"}), "missing field 'id'"),
    (jl({"id": "b", "title": "t"}), "missing field 'text'"),
    (jl({"id": "b", "text": "   "}), "empty text"),
    (jl({"id": "b", "text": 3.5}), "must be a string"),
    (b'{"id": "b", "text": "caf\xe9"}', "invalid UTF-8"),
    (jl({"id": "a", "text": "again"}), "duplicate id 'a'"),
]


@pytest.mark.parametrize(("line", "why"), BAD_LINES, ids=[w for _, w in BAD_LINES])
def test_bad_line_fails_with_file_and_line(tmp_path: Path, line: bytes, why: str) -> None:
    path = write_lines(tmp_path / "c.jsonl", [jl({"id": "a", "text": "ok"}), line])
    with pytest.raises(CorpusFormatError) as info:
        load_corpus(path)
    assert f"{path}:2: " in str(info.value)
    assert why in str(info.value)
    assert info.value.details["line"] == 2


def test_skip_drops_and_counts_bad_lines(tmp_path: Path) -> None:
    lines = [jl({"id": "a", "text": "ok"})] + [line for line, _ in BAD_LINES] + [jl({"id": "z", "text": "end"})]
    reader = CorpusReader(write_lines(tmp_path / "c.jsonl", lines), on_error="skip")
    assert [p.id for p in reader] == ["a", "z"]
    assert reader.skipped == len(BAD_LINES)
    assert reader.first_errors[0].endswith(":2: not valid JSON (Expecting property name enclosed in double quotes at column 2)")


def test_tsv_row_with_wrong_field_count(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "p.tsv", [b"id\ttext\ttitle", b"1\tonly two"])
    with pytest.raises(CorpusFormatError, match=r"p\.tsv:2: expected 3 tab-separated fields"):
        load_corpus(path)


def test_missing_corpus_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusFormatError, match="not found"):
        load_corpus(tmp_path / "nope.jsonl")


def test_real_sandbox_corpus_streams(hotpot_corpus: Path) -> None:
    reader = CorpusReader(hotpot_corpus)
    first = next(iter(reader))
    assert first.id == "hp000000" and first.title == "$1,000 a Touchdown"
