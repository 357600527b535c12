"""A small real sandbox for eval tests: the context paragraphs of the first HotpotQA
sandbox questions (gold paragraphs included), built once per session."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sleuth.sandboxes import Sandbox, build_sandbox

N_QUESTIONS = 8


@pytest.fixture(scope="session")
def eval_sandbox_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = shared_data / "hotpotqa_sandbox"
    with gzip.open(base / "questions.jsonl.gz", "rt", encoding="utf-8") as f:
        questions = [json.loads(next(f)) for _ in range(N_QUESTIONS)]
    wanted = {t for q in questions for t in q["context_titles"] + q["gold_titles"]}
    with gzip.open(base / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [r for r in map(json.loads, f) if r["title"] in wanted]
    tmp = tmp_path_factory.mktemp("eval-sandbox")
    corpus = tmp / "corpus.jsonl"
    corpus.write_text("".join(
        json.dumps({"id": r["id"], "title": r["title"], "text": r["text"]}) + "\n" for r in rows
    ))
    build_sandbox(corpus, tmp / "sandbox", progress=False)
    return tmp / "sandbox"


@pytest.fixture(scope="session")
def eval_sandbox(eval_sandbox_dir: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox.load(eval_sandbox_dir)
    yield sandbox
    asyncio.run(sandbox.aclose())
