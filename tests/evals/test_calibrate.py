"""Judge calibration: cases with the gold evidence visible and hidden, labelled pairs, the
threshold table, resuming, and the CLI."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

from sleuth.engines.base import GenerationRequest
from sleuth.engines.router import RoleRouter
from sleuth.engines.scripted import ScriptedEngine
from sleuth.evals.calibrate import (
    Pair,
    judge_separation,
    labelled_pairs,
    score_pairs,
    threshold_table,
    write_cases,
)
from sleuth.evals.datasets import load_dataset
from sleuth.sandboxes import Sandbox

_DOC = re.compile(r"Doc (\d+) \(Title: [^)]*\) ([^.]*\.)")


def reply(request: GenerationRequest) -> str:
    """Notes quote each document's first sentence; the draft says "documentary" when the facts do, else a wrong
    "Paris"; the judge says yes to "documentary" only."""
    messages = request.messages or []
    user, start = messages[-2].content, messages[-1].content
    if start.startswith("Key facts"):
        facts = [f"[Doc {n}] {sentence}" for n, sentence in _DOC.findall(user.rsplit("Documents:", 1)[-1])]
        return " " + "\n- ".join(facts) if facts else " No useful evidence."
    if start == "Answer:":
        facts = user.rsplit("Facts:", 1)[-1]
        return " documentary" if "documentary" in facts else " Paris"
    if start == "Supported:":
        return " yes" if user.rstrip().endswith("documentary") else " no"
    return " unknown"


def test_cases_pairs_and_thresholds(eval_sandbox_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    examples = load_dataset("hotpotqa-sandbox", data_dir=shared_data, limit=3).examples
    engine = ScriptedEngine(responder=reply)
    sandbox = Sandbox.load(eval_sandbox_dir)

    async def go() -> tuple[Path, int]:
        cases = await write_cases(engine, sandbox, examples, tmp_path, progress=False)
        calls = len(engine.requests)
        await write_cases(engine, sandbox, examples, tmp_path, progress=False)  # resumes: nothing to do
        assert len(engine.requests) == calls
        return cases, calls

    cases, calls = asyncio.run(go())
    rows = [json.loads(line) for line in cases.open()]
    assert [r["id"] for r in rows] == [e.id for e in examples] and calls >= 6
    for row, example in zip(rows, examples, strict=True):
        assert not set(row["hidden"]["ids"]) & set(example.gold_ids)  # gold never shown when hidden
    assert set(rows[0]["visible"]["ids"]) & set(examples[0].gold_ids)

    pairs = labelled_pairs(cases)
    correct = [p for p in pairs if p.correct]
    wrong = [p for p in pairs if not p.correct]
    assert [p.answer for p in correct] == ["documentary"] and wrong
    assert all(p.answer == "Paris" for p in wrong)

    scores = asyncio.run(score_pairs(ScriptedEngine(responder=reply), pairs, tmp_path))
    table = {row["threshold"]: row for row in threshold_table(pairs, scores)}
    assert table[0.5]["judge_accepts_correct"] == 1 and table[0.5]["judge_rejects_wrong"] == len(wrong)
    assert judge_separation(pairs, scores) == 1.0  # the judge says yes to the correct pair only
    # with the loop's string check too: "documentary" is in its facts, so the correct pair passes
    assert table[0.5]["both_accepts_correct"] == 1 and table[0.5]["both_rejects_wrong"] == len(wrong)
    scored = [json.loads(line) for line in (tmp_path / "scores.jsonl").open()]
    assert len(scored) == len(pairs) and all(0.0 <= s["p_yes"] <= 1.0 for s in scored)
    asyncio.run(sandbox.aclose())


def test_cli_refuses_a_dataset_without_gold_evidence(tmp_path: Path, shared_data: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sleuth", "eval", "calibrate-judge", "--dataset", "popqa", "--limit", "2",
         "--engine", "scripted", "--data-dir", str(shared_data), "--out", str(tmp_path / "out")],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0 and "no gold evidence ids" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_another_judge_scores_the_same_cases(eval_sandbox_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    """Through a RoleRouter (``--judge-model``), the drafter writes the cases and only the judge
    engine scores them: a judge that always says yes accepts every wrong pair."""
    examples = load_dataset("hotpotqa-sandbox", data_dir=shared_data, limit=3).examples
    drafter, judge = ScriptedEngine(responder=reply), ScriptedEngine([" yes"], repeat_last=True)
    engine = RoleRouter(drafter, {"judge": judge})
    sandbox = Sandbox.load(eval_sandbox_dir)

    async def go() -> tuple[list[Pair], list[float]]:
        try:
            pairs = labelled_pairs(await write_cases(engine, sandbox, examples, tmp_path, progress=False))
            assert not judge.requests and drafter.requests
            return pairs, await score_pairs(engine, pairs, tmp_path)
        finally:
            await sandbox.aclose()

    pairs, scores = asyncio.run(go())
    assert len(judge.requests) == len(pairs) and all(r.role == "judge" for r in judge.requests)
    assert not any(r.role for r in drafter.requests)
    table = {row["threshold"]: row for row in threshold_table(pairs, scores)}
    assert table[0.5]["judge_rejects_wrong"] == 0 and table[0.5]["wrong"] > 0
    assert judge_separation(pairs, scores) == 0.5  # the same P(yes) for every pair: a coin
