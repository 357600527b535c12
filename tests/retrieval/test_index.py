"""Index directories: atomic builds, the manifest, and refusing broken indices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sleuth
from sleuth.errors import CorpusFormatError, IndexCorruptError, IndexNotFoundError, UserError
from sleuth.retrieval import build_index, load_index, read_manifest
from sleuth.retrieval.bm25 import BM25Arrays
from sleuth.retrieval.manifest import sha256_file


def make_corpus(path: Path, n: int = 30, bad_at: int | None = None) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            if i == bad_at:
                fh.write("{broken\n")
                continue
            fh.write(json.dumps({"id": f"p{i}", "title": f"Title {i}", "text": f"word{i % 7} text {i}"}) + "\n")
    return path


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


async def test_build_then_load_and_search(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "c.jsonl")
    out = build_index(corpus, tmp_path / "idx", progress=False)
    retriever = load_index(out)
    hits = (await retriever.search(["word3 Title"], k=4))[0]
    assert len(hits) == 4 and all("word3" in h.passage.text for h in hits)
    assert retriever.store.get("p5") is not None and retriever.store.get("p5").title == "Title 5"
    assert retriever.store.get("nope") is None
    await retriever.aclose()


def test_manifest_records_corpus_params_and_files(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "c.jsonl", bad_at=3)
    out = build_index(corpus, tmp_path / "idx", on_error="skip", progress=False)
    manifest = read_manifest(out)
    assert manifest.kind == "bm25"
    assert manifest.sleuth_version == sleuth.__version__
    assert manifest.corpus.sha256 == sha256_file(corpus)
    assert (manifest.corpus.passages, manifest.corpus.skipped_lines) == (29, 1)
    assert manifest.bm25 is not None and manifest.bm25.k1 == 0.9
    assert {"passages.jsonl", "bm25/data.npy", "bm25/vocab.json"} <= set(manifest.files)
    assert "manifest.json" not in manifest.files


def test_bad_line_aborts_the_build_and_leaves_nothing(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "c.jsonl", bad_at=20)
    with pytest.raises(CorpusFormatError, match=r"c\.jsonl:21"):
        build_index(corpus, tmp_path / "idx", progress=False)
    assert not (tmp_path / "idx").exists()
    assert leftovers(tmp_path) == []


def test_failure_while_writing_keeps_the_old_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = make_corpus(tmp_path / "c.jsonl")
    out = build_index(corpus, tmp_path / "idx", progress=False)
    before = read_manifest(out).created

    def fail(self: BM25Arrays, directory: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(BM25Arrays, "save", fail)
    with pytest.raises(KeyboardInterrupt):
        build_index(make_corpus(tmp_path / "d.jsonl", n=5), out, overwrite=True, progress=False)
    assert read_manifest(out).created == before and len(load_index(out).store) == 30
    assert leftovers(tmp_path) == []


KILL_BEFORE_MANIFEST = """
import os, signal, sys
import sleuth.retrieval.index as index
index.write_manifest = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
index.build_index(sys.argv[1], sys.argv[2], progress=False)
"""


def test_killed_build_never_looks_complete(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "c.jsonl")
    out = tmp_path / "idx"
    proc = subprocess.run([sys.executable, "-c", KILL_BEFORE_MANIFEST, str(corpus), str(out)], check=False)
    assert proc.returncode == -9
    assert not out.exists()
    (partial,) = [p for p in tmp_path.iterdir() if p.name.startswith(".idx.building-")]
    assert (partial / "passages.jsonl").exists()
    with pytest.raises(IndexCorruptError, match="no manifest.json"):
        load_index(partial)


def test_existing_directory_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "idx").mkdir()
    with pytest.raises(UserError, match="already exists"):
        build_index(make_corpus(tmp_path / "c.jsonl"), tmp_path / "idx", progress=False)


def test_missing_and_corrupt_indices(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="No index at"):
        load_index(tmp_path / "nothing")
    out = build_index(make_corpus(tmp_path / "c.jsonl"), tmp_path / "idx", progress=False)
    with open(out / "bm25" / "data.npy", "r+b") as fh:  # same size, different bytes
        fh.seek(200)
        fh.write(b"\xff\xff")
    load_index(out)  # sizes still match: the quick check passes
    with pytest.raises(IndexCorruptError, match="sha256"):
        load_index(out, verify=True)
    (out / "bm25" / "indptr.npy").unlink()
    with pytest.raises(IndexCorruptError, match="missing bm25/indptr.npy"):
        load_index(out)
    (out / "manifest.json").write_text("{}")
    with pytest.raises(IndexCorruptError, match="Unreadable"):
        load_index(out)


def test_top_level_names_resolve() -> None:
    assert sleuth.build_index is build_index and sleuth.load_index is load_index
    assert sleuth.load_corpus.__module__ == "sleuth.retrieval.corpus"


def test_cli_build_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sleuth.cli import main

    corpus = make_corpus(tmp_path / "c.jsonl", bad_at=0)
    assert main(["index", "build", str(corpus), "--out", str(tmp_path / "i"), "--no-progress"]) == 2
    assert "c.jsonl:1" in capsys.readouterr().err
    assert main(["index", "build", str(corpus), "--out", str(tmp_path / "i"), "--on-error", "skip"]) == 0
    assert "29 passages" in capsys.readouterr().out
    assert main(["index", "info", str(tmp_path / "i"), "--json", "--verify"]) == 0
    assert json.loads(capsys.readouterr().out)["corpus"]["passages"] == 29


def test_sqlite_store_agrees_with_the_offset_store(tmp_path: Path) -> None:
    from sleuth.retrieval.corpus import load_corpus
    from sleuth.retrieval.sqlite_store import SQLitePassageStore, write_sqlite_store
    from sleuth.retrieval.store import OffsetPassageStore

    corpus = make_corpus(tmp_path / "c.jsonl", n=12)
    out = build_index(corpus, tmp_path / "idx", progress=False)
    passages = load_corpus(corpus)
    write_sqlite_store(tmp_path / "p.sqlite", passages)
    offsets, sqlite = OffsetPassageStore(out), SQLitePassageStore(tmp_path / "p.sqlite")
    assert len(offsets) == len(sqlite) == 12
    for row, passage in enumerate(passages):
        assert offsets.by_row(row) == sqlite.by_row(row) == passage
        assert offsets.row_of(passage.id) == sqlite.row_of(passage.id) == row
    assert offsets.get("missing") is None and sqlite.get("missing") is None
    with pytest.raises(IndexError):
        offsets.by_row(12)
    with pytest.raises(IndexError):
        sqlite.by_row(12)
    offsets.close()
    sqlite.close()
