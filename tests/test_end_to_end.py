"""End to end: the real CLI, the real embedded 0.5B model and a BM25 index of the HotpotQA
sandbox answer a HotpotQA question. The answer itself is not asserted (a 0.5B model is often
wrong); the shape of the run is."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def hotpot_index(tmp_path_factory: pytest.TempPathFactory, hotpot_corpus: Path) -> Path:
    from sleuth.retrieval.index import build_index

    out = tmp_path_factory.mktemp("e2e") / "hotpot-bm25"
    build_index(hotpot_corpus, out, kind="bm25")
    return out


def _first_bridge_question(path: Path) -> dict[str, object]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["type"] == "bridge":
                return row
    raise AssertionError("no bridge question")


def test_sleuth_ask_json_on_the_embedded_model(hotpot_index: Path, hotpot_questions: Path,
                                               hotpot_corpus: Path) -> None:
    question = _first_bridge_question(hotpot_questions)
    env = {**os.environ, "SLEUTH_ENGINE__N_CTX": "4096"}
    proc = subprocess.run(
        [sys.executable, "-m", "sleuth", "ask", str(question["question"]), "--index", str(hotpot_index),
         "--engine", "embedded", "--model", "qwen2.5-coder-0.5b", "--max-turns", "3",
         "--top-k", "3", "--json"],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert {"question", "answer", "abstained", "citations", "trace", "usage"} <= set(result)
    assert result["question"] == question["question"]
    searches = [e for e in result["trace"] if e["type"] == "search"]
    assert searches, "the agent never searched"
    titles = set()
    with gzip.open(hotpot_corpus, "rt", encoding="utf-8") as fh:
        by_id = {}
        for line in fh:
            row = json.loads(line)
            by_id[row["id"]] = row["title"]
            titles.add(row["title"])
    for event in searches:
        assert event["query"].strip()
        assert event["ids"] and all(i in by_id for i in event["ids"])
    assert result["trace"][-1]["type"] == "answer"
    if not result["abstained"]:
        assert result["answer"].strip()
        assert result["citations"], "a non-abstained answer must cite a passage"
        for c in result["citations"]:
            assert by_id[c["id"]] == c["title"]
    usage = result["usage"]
    assert usage["llm_calls"] >= 2 and usage["searches"] == len(searches)
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0 and usage["wall_s"] > 0
