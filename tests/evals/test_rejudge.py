"""Re-asking EvidenceLoop's judge about recorded drafts (sleuth.evals.rejudge)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sleuth.agents.evidence_steps import judge_note
from sleuth.cli import main
from sleuth.engines.base import GenerationRequest
from sleuth.engines.scripted import ScriptedEngine
from sleuth.evals.rejudge import (
    Rejudged,
    judge_input,
    judged_drafts,
    pending,
    rejudge,
    scores,
    separation,
)
from sleuth.evals.rundir import EngineConfig, RunConfig
from sleuth.evals.runner import run_eval

from .test_replay_verify import _PAGES, _recorded_both_run, scripted_run


async def _judged_row() -> dict[str, object]:
    """The recorded verify=both run, as an engine with log-probabilities records it: the judge
    said no to "Christopher Nolan" at P(yes) 0.20 and yes to "London" at 0.40."""
    row = await _recorded_both_run()
    shown = iter([judge_note("no", 0.20), judge_note("yes", 0.40)])
    for event in row["trace"]:  # type: ignore[attr-defined]
        if event["type"] == "think" and event["text"].startswith("[judge]"):
            event["text"] = next(shown)
    return row


def _judge_says_yes_to(answer: str) -> ScriptedEngine:
    """A judge that says yes, sure of it (P 0.95), only to ``answer``, and no to all else."""
    def respond(request: GenerationRequest) -> str:
        prompt = request.messages[1].content  # type: ignore[index]
        return " yes" if prompt.rstrip().endswith(f"Proposed answer: {answer}") else " no"

    return ScriptedEngine(responder=respond)


async def test_judged_drafts_are_rebuilt_with_what_the_judge_was_shown() -> None:
    drafts = judged_drafts([await _judged_row()], _PAGES.get, run="r")
    assert [(d.answer, d.recorded_p_yes, d.right) for d in drafts] == [("Christopher Nolan", 0.2, False),
                                                                        ("London", 0.4, True)]
    london = drafts[1]
    assert "Christopher Nolan was born in London." in london.facts
    assert {p.id for p in london.cited} == {"p1", "p2"}
    facts, answer = judge_input(london, "passages")
    assert answer == "London" and "(Christopher Nolan) Christopher Nolan was born in London." in facts
    assert judge_input(london, "notes") == (london.facts, "London")
    assert judge_input(london, "null-answer") == (london.facts, "N/A")


async def test_rejudge_asks_once_per_draft_and_input_and_scores_the_separation() -> None:
    drafts = judged_drafts([await _judged_row()], _PAGES.get, run="r")
    got: list[Rejudged] = []
    todo = pending(drafts, ["notes", "null-answer"], set())
    assert len(todo) == 4
    await rejudge(_judge_says_yes_to("London"), todo, got.append)
    assert len(got) == 4
    by = {(r.answer, r.input): r.p_yes for r in got}
    assert by[("London", "notes")] == pytest.approx(0.95, abs=0.01)
    assert by[("Christopher Nolan", "notes")] == pytest.approx(0.05, abs=0.01)
    assert by[("London", "null-answer")] == pytest.approx(0.05, abs=0.01)  # "N/A" is not London
    # resuming: what is done is not asked again
    assert pending(drafts, ["notes", "null-answer"], {r.key for r in got}) == []
    assert pending(drafts, iter(["notes", "passages"]), {r.key for r in got}) == [(d, "passages") for d in drafts]
    table = scores(got)
    assert separation((r, s) for r, _, s in table["notes"]) == 1.0
    assert separation((r, s) for r, _, s in table["recorded"]) == 1.0  # 0.40 for London, 0.20 for the other
    assert [round(s, 2) for _, _, s in table["notes - null-answer"]] == [0.15, 0.35]


def test_separation_is_the_chance_a_right_draft_scores_higher() -> None:
    assert separation([(True, 0.4), (False, 0.2), (False, 0.5)]) == 0.5
    assert separation([(True, 0.3), (False, 0.3)]) == 0.5  # a tie counts half
    assert separation([(True, 0.3)]) is None  # nothing to separate from


def test_the_cli_rejudges_a_recorded_run_and_resumes(eval_sandbox_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    scripted_run(eval_sandbox_dir, run, limit=3)
    out = tmp_path / "rejudged.jsonl"
    assert main(["eval", "rejudge", str(run), "--engine", "scripted", "--input", "notes", "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # the run's judge said no, then yes, to each question's drafts (P(yes) 0.05 and 0.95)
    assert len(lines) == 2 * len({line["id"] for line in lines}) and all(line["input"] == "notes" for line in lines)
    assert sorted(line["recorded_p_yes"] for line in lines) == [0.05] * (len(lines) // 2) + [0.95] * (len(lines) // 2)
    printed = capsys.readouterr()
    assert f"{len(lines)} judged drafts; {len(lines)} judgements to ask" in printed.err
    assert f"| recorded | {len(lines)} |" in printed.out
    # a second run asks nothing new, and a new input only its own judgements
    assert main(["eval", "rejudge", str(run), "--engine", "scripted", "--input", "notes", "--out", str(out)]) == 0
    assert "0 judgements to ask" in capsys.readouterr().err
    assert main(["eval", "rejudge", str(run), "--engine", "scripted", "--input", "hunch", "--out", str(out)]) == 2
    assert "Unknown judge input 'hunch'" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == len(lines)


def test_only_evidence_loop_runs_are_replayed_or_rejudged(eval_sandbox_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "rag"
    config = RunConfig(dataset="hotpotqa-sandbox", method="standard-rag", limit=1, sandbox=str(eval_sandbox_dir),
                       engine=EngineConfig(kind="scripted"))
    asyncio.run(run_eval(config, run, progress=False))
    for command in (["rejudge", str(run), "--engine", "scripted", "--out", str(tmp_path / "r.jsonl")],
                    ["replay-verify", str(run)]):
        assert main(["eval", *command]) == 2
        assert "is a standard-rag run; only evidence-loop runs can be replayed or rejudged" in capsys.readouterr().err
    assert not (tmp_path / "r.jsonl").exists()
