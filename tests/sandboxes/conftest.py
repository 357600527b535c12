"""A small real sandbox: the context paragraphs of 20 HotpotQA sandbox questions, plus one
long page made of several real paragraphs so that paging and find have work to do."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sleuth.sandboxes import Sandbox, build_sandbox

LONG_TITLE = "Compilation of films"


def mini_corpus_rows(shared_data: Path, n_questions: int = 20) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus rows, question rows) restricted to the questions' context paragraphs."""
    base = shared_data / "hotpotqa_sandbox"
    with gzip.open(base / "questions.jsonl.gz", "rt", encoding="utf-8") as f:
        questions = [json.loads(next(f)) for _ in range(n_questions)]
    wanted = {t for q in questions for t in q["context_titles"]} | {
        t for q in questions for t in q["gold_titles"]
    }
    with gzip.open(base / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [r for r in map(json.loads, f) if r["title"] in wanted]
    extra = rows[:8]
    rows += [
        {"id": f"long{i}", "title": LONG_TITLE, "text": r["text"]} for i, r in enumerate(extra)
    ]
    return [{"id": r["id"], "title": r["title"], "text": r["text"]} for r in rows], questions


@pytest.fixture(scope="session")
def mini_corpus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows, _ = mini_corpus_rows(shared_data)
    path = tmp_path_factory.mktemp("corpus") / "mini.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def mini_sandbox_dir(mini_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sandboxes") / "mini"
    build_sandbox(mini_corpus, out, progress=False)
    return out


@pytest.fixture(scope="session")
def mini_sandbox(mini_sandbox_dir: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox.load(mini_sandbox_dir)
    yield sandbox
    asyncio.run(sandbox.aclose())
