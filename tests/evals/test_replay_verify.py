"""Replaying EvidenceLoop runs under another verify setting: a run replayed under its own
setting answers exactly as it did, and other settings stop where their checks say."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from sleuth.agents.evidence_steps import (
    EvidenceLoopOptions,
    judge_note,
    noted_judge,
)
from sleuth.cli import main
from sleuth.engines.base import GenerationRequest
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import ConfigError, EvalError
from sleuth.evals.datasets import load_dataset
from sleuth.evals.refusals import Refusal, recorded_acceptance, recorded_refusal, refusal_tables
from sleuth.evals.replay_verify import (
    format_refusals,
    format_summaries,
    load_rerun,
    replay_rows,
    replay_run,
    replayed_result,
    rethreshold,
    summarize,
)
from sleuth.evals.report import load_runs, markdown_report
from sleuth.evals.rundir import EngineConfig, RunConfig, read_manifest
from sleuth.evals.runner import run_eval
from sleuth.graphs.registry import ask
from sleuth.sandboxes.pages import SqlitePageStore
from sleuth.sandboxes.sandbox import open_pages
from sleuth.types import Passage, SearchHit

_DOC = re.compile(r"Doc (\d+) \(Title: ([^)]*(?:\([^)]*\))?[^)]*)\) ([^\n]*)")


def _responder() -> tuple[ScriptedEngine, list[str]]:
    """Notes restate each shown document's first sentence; the draft is the first document's
    title; the judge says no to each question's first draft and yes afterwards."""
    judged: list[str] = []

    def respond(request: GenerationRequest) -> str:
        start = request.messages[-1].content  # type: ignore[index]
        prompt = request.messages[1].content.split("Now the real question.")[-1]  # type: ignore[index]
        docs = _DOC.findall(prompt)
        question = prompt.rsplit("Question:", 1)[-1].strip().splitlines()[0] if "Question:" in prompt else ""
        if start.startswith("Key facts"):
            return "".join(f" [Doc {n}] {text.split('. ')[0]}.\n-" for n, _, text in docs[:2]).rstrip("-")
        if start == "Answer:":
            return f" {docs[0][1]}" if docs else " unknown"
        if start == "Supported:":
            first = question not in judged
            judged.append(question)
            return " no" if first else " yes"
        return " more about it"

    return ScriptedEngine(responder=respond), judged


class _Shelf:
    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        return [[SearchHit(passage=p, score=1.0 - i / 10, rank=i) for i, p in enumerate(self.passages[:k])]
                for _ in queries]


def _row(question: str, gold: str, answer: object) -> dict[str, object]:
    return {"id": question, "question": question, "gold": [gold], "masked": False,
            "prediction": answer.text, "abstained": answer.abstained,  # type: ignore[attr-defined]
            "trace": [json.loads(e.model_dump_json()) for e in answer.trace]}  # type: ignore[attr-defined]


_INCEPTION = Passage(id="p1", title="Inception", text="Inception is a 2010 film directed by Christopher Nolan.")
_NOLAN = Passage(id="p2", title="Christopher Nolan", text="Christopher Nolan was born in London.")
_PAGES = {p.id: p for p in (_INCEPTION, _NOLAN)}


def _queued(replies: dict[str, list[str]]) -> ScriptedEngine:
    """Reply to each step (by its assistant pre-fill) from its own queue; a queue's last reply repeats."""

    def respond(request: GenerationRequest) -> str:
        queue = replies[request.messages[-1].content]  # type: ignore[index]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return ScriptedEngine(responder=respond)


async def _recorded_both_run() -> dict[str, object]:
    """A verify=both run, recorded: the judge says no to the first draft, "Christopher Nolan"
    (in a cited passage), and yes to the second, "London"."""
    question = "Where was the director of Inception born?"
    note = " [Doc 1] Inception is a 2010 film directed by Christopher Nolan.\n- [Doc 2] Christopher Nolan was born in London."
    replies = {"Key facts:\n-": [note],
               "Answer:": [" Christopher Nolan", " London"], "Supported:": [" no", " yes"],
               "Next search query:": [" Christopher Nolan birthplace"]}

    answer = await ask(question, engine=_queued(replies), retriever=_Shelf([_INCEPTION, _NOLAN]),
                       method="evidence-loop", options={"verify": "both", "top_k": 2, "max_searches": 3})
    assert answer.text == "London"
    return _row(question, "London", answer)


async def test_each_setting_stops_at_the_first_draft_it_accepts() -> None:
    row = await _recorded_both_run()

    def replay(mode: str) -> tuple[str | None, bool, bool]:
        out = replay_rows([row], EvidenceLoopOptions(verify=mode), _PAGES.get)[0]  # type: ignore[arg-type]
        return out.replayed, out.truncated, out.undecided

    assert replay("both") == ("London", False, False)  # its own setting: the same answer
    assert recorded_acceptance(row) == ("string check and judge", True)  # what the run's own verification said
    assert recorded_acceptance({**row, "gold": ["Paris"]}) == ("string check and judge", False)
    assert recorded_acceptance({**row, "abstained": True}) is None
    assert replay("judge") == ("London", False, False)
    # the string check alone accepts the first draft, as does hybrid: "Inception" is a page read
    assert replay("string") == ("Christopher Nolan", False, False)
    assert replay("hybrid") == ("Christopher Nolan", False, False)
    row_string = {**row, "trace": [e for e in row["trace"] if e.get("kind") != "verification"  # type: ignore[attr-defined]
                                   or e["data"]["answer"] != "London"]}
    cut = replay_rows([row_string], EvidenceLoopOptions(verify="both"), _PAGES.get)[0]
    assert cut.replayed is None and cut.truncated  # the recorded run answered; the trace ends first


async def test_another_judge_threshold_rereads_the_recorded_p_yes() -> None:
    row = await _recorded_both_run()
    # as an engine with log-probabilities records them: the first verdict at P(yes) 0.20, the second at 0.40
    shown = iter([judge_note("no", 0.20), judge_note("yes", 0.40)])
    for event in row["trace"]:  # type: ignore[attr-defined]
        if event["type"] == "think" and event["text"].startswith("[judge]"):
            event["text"] = next(shown)

    def replay(threshold: float) -> tuple[str | None, bool]:
        out = replay_rows([row], EvidenceLoopOptions(verify="both", judge_min_p_yes=threshold), _PAGES.get,  # type: ignore[arg-type]
                          recorded_min_p_yes=0.25)[0]
        return out.replayed, out.undecided

    assert replay(0.25) == ("London", False)  # the recorded threshold: the recorded verdicts
    assert replay(0.15) == ("Christopher Nolan", False)  # 0.20 now passes
    assert replay(0.5) == (None, False)  # 0.40 no longer does
    assert replay(0.4) == (None, True)  # 0.40 is P(yes) rounded: too close to call
    assert noted_judge(judge_note("yes", 0.291)) == (0.29, None) and noted_judge(judge_note("yes", None)) is None
    assert rethreshold("yes", None, 0.9, 0.25) == "yes"  # no P(yes) recorded: a greedy verdict stands
    assert rethreshold(None, 0.3, 0.2, 0.25) is None  # never asked


async def test_why_names_the_check_that_refused_the_last_draft_and_a_right_draft_refused() -> None:
    question = "Where was the director of Inception born?"
    note = " [Doc 1] Inception is a 2010 film directed by Christopher Nolan.\n- [Doc 2] Christopher Nolan was born in London."
    replies = {"Key facts:\n-": [note], "Answer:": [" Christopher Nolan", " Paris"], "Supported:": [" no"],
               "Next search query:": [" Christopher Nolan birthplace"]}
    answer = await ask(question, engine=_queued(replies), retriever=_Shelf([_INCEPTION, _NOLAN]),
                       method="evidence-loop", options={"verify": "both", "top_k": 2, "max_searches": 2})
    assert answer.abstained  # the judge refused "Christopher Nolan"; no passage holds "Paris"

    def why(gold: str, mode: str) -> tuple[str | None, bool]:
        out = replay_rows([_row(question, gold, answer)], EvidenceLoopOptions(verify=mode), _PAGES.get)[0]  # type: ignore[arg-type]
        return out.refused_by, out.right_refused

    assert why("Paris", "both") == ("string check", True)  # its own setting: the last draft's failed check
    assert why("London", "both") == ("string check", False)  # no draft was right
    assert why("Christopher Nolan", "both") == ("string check", True)  # the first one was
    assert why("Paris", "judge") == ("judge undecided", True)  # never asked about "Paris"
    assert why("Paris", "either") == (None, False)  # accepts "Christopher Nolan", found in a cited passage
    rows = replay_rows([_row(question, "Christopher Nolan", answer)], EvidenceLoopOptions(verify="both"), _PAGES.get)
    table = format_refusals([("both", rows)])
    assert "| both | present | 1 | 1 | 1 | 0 | string check 1 |" in table  # no metrics on the row: gold read unknown
    # the run as made, read from its recorded verifications, says the same
    assert recorded_refusal(_row(question, "Paris", answer), "both") == Refusal("string check", True, None)
    assert recorded_refusal(_row(question, "London", answer), "both") == Refusal("string check", False, None)
    old = _row(question, "Paris", answer)  # a trace from before verification notes had their fields
    for event in old["trace"]:  # type: ignore[attr-defined]
        if event.get("kind") == "verification":
            event["data"] = {"answer": event["data"]["answer"], "supported": False}
    assert recorded_refusal(old, "both") == Refusal("not recorded", False, None)


def scripted_run(sandbox_dir: Path, out: Path, limit: int | None, verify: str = "both",
                 dataset: str = "hotpotqa-sandbox") -> None:
    """An evidence-loop run (verify=both) on the scripted :func:`_responder`, recorded in ``out``."""
    engine, judged = _responder()
    config = RunConfig(dataset=dataset, method="evidence-loop", limit=limit, sandbox=str(sandbox_dir),
                       engine=EngineConfig(kind="scripted"), options={"verify": verify, "max_searches": 2})
    asyncio.run(run_eval(config, out, engine=engine, progress=False))
    assert bool(judged) is (verify != "string")  # the judge was asked, and said no to each first draft


def test_a_run_replayed_under_its_own_setting_answers_as_it_did(eval_sandbox_dir: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    scripted_run(eval_sandbox_dir, out, limit=4)
    with open_pages(eval_sandbox_dir) as pages:  # the page store alone, no search index
        assert isinstance(pages, SqlitePageStore)
        same = replay_run(out, "both", pages.get)
        string = replay_run(out, "string", pages.get)
    assert len(same) == 4 and any(r.recorded for r in same)
    assert all(r.replayed == r.recorded and not r.truncated and not r.undecided for r in same)
    assert len(string) == 4 and not any(r.undecided for r in string)  # string mode needs no new verdicts
    table = format_summaries(summarize(same, "both"))
    assert "| both | present | 4 |" in table and table.rstrip().endswith("| 0 | 0 | 0 |")

    assert main(["eval", "replay-verify", str(out), "--verify", "both", "--verify", "string"]) == 0
    printed = capsys.readouterr().out
    assert "| both (run) | present | 4 |" in printed and "| string (run) | present | 4 |" in printed
    assert main(["eval", "replay-verify", str(out), "--verify", "both", "--why"]) == 0
    why = capsys.readouterr().out.split("\n\n")[1].splitlines()[2:]
    refused = [r for r in same if r.refused_by is not None]
    assert refused and all(r.refused_by == "echo" for r in refused)  # the scripted draft, a page title, repeats the question's name
    why_table, accepted_table = refusal_tables(load_runs([out]))  # the report reads the same from the recorded traces
    assert [row[2:] for row in why_table.rows] == [
        ["4", str(len(refused)), "0", str(sum(r.sufficient is True for r in refused)), f"echo {len(refused)}"]]
    verified = [r for r in same if r.refused_by is None and r.replayed is not None]
    right = sum(r.f1 >= 0.5 for r in verified)
    [[_, _, n_verified, n_right, right_by, wrong_by]] = accepted_table.rows
    assert (n_verified, n_right) == (str(len(verified)), str(right)) and len(verified) + len(refused) == 4
    by_count = [int(part.rsplit(" ", 1)[1]) for cell in (right_by, wrong_by) if cell != "-" for part in cell.split(", ")]
    assert sum(by_count) == len(verified) and "string check and judge" in right_by + wrong_by  # verify=both: both
    assert "## Verification" in markdown_report(load_runs([out]), "r.html")
    assert len(why) == 1 and why[0].startswith(f"| both (run) | present | 4 | {len(refused)} |")
    assert all(r.replayed is None or r.unverified for r in refused)  # only where no draft was accepted
    assert main(["eval", "replay-verify", str(out), "--verify", "hybird"]) == 2
    assert "Unknown verify setting 'hybird'" in capsys.readouterr().err


def _lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_a_replay_written_with_out_is_a_run_the_report_reads(eval_sandbox_dir: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    scripted_run(eval_sandbox_dir, run, limit=4)
    same, string = tmp_path / "same", tmp_path / "string"
    assert main(["eval", "replay-verify", str(run), "--verify", "both", "--out", str(same)]) == 0
    assert main(["eval", "replay-verify", str(run), "--verify", "string", "--out", str(string)]) == 0
    assert f"wrote {string}" in capsys.readouterr().out
    recorded = _lines(run)
    # replayed under its own setting, every row and metric is the recorded one
    for old, new in zip(recorded, _lines(same), strict=True):
        assert new["prediction"] == old["prediction"] and new["abstained"] == old["abstained"]
        assert new["metrics"] == old["metrics"] and new["citations"] == old["citations"]
        assert new["trace"] == old["trace"] and new["replay"]["verify"] == "both"
    # under another setting, the answers and F1 are replay_run's, the evidence metrics the run's
    with open_pages(eval_sandbox_dir) as pages:
        expected = {r.id: r for r in replay_run(run, "string", pages.get)}
    for old, new in zip(recorded, _lines(string), strict=True):
        want = expected[new["id"]]
        assert new["prediction"] == (want.replayed or "") and new["abstained"] == (want.replayed is None)
        assert new["metrics"]["f1"] == want.f1 and new["metrics"]["recall"] == old["metrics"]["recall"]
        assert new["replay"]["recorded"] == want.recorded and new["replay"]["truncated"] == want.truncated
        assert new["replay"]["refused_by"] == want.refused_by
        assert (want.refused_by is not None) == (new["abstained"] and not want.truncated)  # why each abstained
    assert stat.S_IMODE(string.stat().st_mode) == 0o755  # shared like a run directory, not private
    manifest = read_manifest(string)
    assert manifest.replayed_from == str(run) and manifest.config.options["verify"] == "string"
    assert manifest.config.options["max_searches"] == 2
    runs = load_runs([run, string], resamples=20)
    assert runs[1].label == "evidence-loop [max_searches=2, verify=string] (replayed)"
    assert runs[1].stats["f1"].mean == pytest.approx(sum(r.f1 for r in expected.values()) / 4)
    # the report's Verification tables read the replay's verdicts, not the notes of the trace it replayed
    refused_table, accepted_table = refusal_tables(runs[1:])
    assert refused_table.rows[0][3] == str(sum(r.abstained for r in expected.values()))
    verified = [r for r in expected.values() if r.accepted_by is not None]
    assert verified and all(r.accepted_by == "string check" for r in verified)  # the judge's no no longer counts
    [[_, _, n_verified, _, right_by, wrong_by]] = accepted_table.rows
    assert n_verified == str(len(verified)) and "judge" not in right_by + wrong_by
    _, run_accepted = refusal_tables(runs[:1])
    assert "string check and judge" in run_accepted.rows[0][4] + run_accepted.rows[0][5]  # as recorded under both


def test_a_failed_question_replays_as_the_failure_it_was() -> None:
    row = {"id": "q1", "question": "Where?", "gold": ["London"], "masked": False, "prediction": "",
           "abstained": False, "citations": [], "error": {"code": "timeout"},
           "metrics": {"recall": 1.0, "sufficient": True}}
    replay = replay_rows([row], EvidenceLoopOptions(), lambda _: None)[0]
    assert replay.error and replay.replayed is None and not replay.truncated
    out = replayed_result(row, replay, "hybrid")
    assert out["abstained"] is False and out["error"] == {"code": "timeout"}
    assert out["metrics"]["error"] is True and out["metrics"]["over_refusal"] == 0.0 and out["metrics"]["f1"] == 0.0
    [summary] = summarize([replay], "hybrid")
    assert summary.abstained == 0.0 and summary.questions == 1


def test_a_replay_is_never_written_over_work_nor_resumed(eval_sandbox_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run, out = tmp_path / "run", tmp_path / "replayed"
    scripted_run(eval_sandbox_dir, run, limit=2)
    assert main(["eval", "replay-verify", str(run), "--verify", "both", "--verify", "string", "--out", str(out)]) == 2
    assert "one run and one --verify setting" in capsys.readouterr().err and not out.exists()
    assert main(["eval", "replay-verify", str(run), "--verify", "string", "--out", str(out)]) == 0
    before = (out / "results.jsonl").read_bytes()
    assert main(["eval", "replay-verify", str(run), "--verify", "both", "--out", str(out)]) != 0
    assert "already exists" in capsys.readouterr().err
    assert (out / "results.jsonl").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no half-written replay left
    config = RunConfig(dataset="hotpotqa-sandbox", method="evidence-loop", limit=2, sandbox=str(eval_sandbox_dir),
                       engine=EngineConfig(kind="scripted"), options={"verify": "string", "max_searches": 2})
    with pytest.raises(EvalError, match="is a replay of .*cannot be resumed"):
        asyncio.run(run_eval(config, out, resume=True, engine=_responder()[0], progress=False))
    assert (out / "results.jsonl").read_bytes() == before


async def test_a_verdict_is_replayed_from_the_threshold_its_trace_line_states() -> None:
    row = await _recorded_both_run()
    # recorded at 0.35 (the trace says so): "Christopher Nolan" refused at P(yes) 0.30, "London"
    # accepted at 0.35, right at the threshold: only the recorded verdict can settle that one
    shown = iter([judge_note("no", 0.30, 0.35), judge_note("yes", 0.35, 0.35)])
    for event in row["trace"]:  # type: ignore[attr-defined]
        if event["type"] == "think" and event["text"].startswith("[judge]"):
            event["text"] = next(shown)
    assert noted_judge(judge_note("no", 0.30, 0.35)) == (0.3, 0.35)
    assert noted_judge(judge_note("no", 0.30)) == (0.3, None)

    def replay(threshold: float) -> tuple[str | None, bool]:
        out = replay_rows([row], EvidenceLoopOptions(verify="both", judge_min_p_yes=threshold), _PAGES.get,  # type: ignore[arg-type]
                          recorded_min_p_yes=0.9)[0]  # a wrong recorded_min_p_yes: the trace wins
        return out.replayed, out.undecided

    assert replay(0.35) == ("London", False)  # the recorded verdicts stand, P(yes) 0.35 included
    assert replay(0.25) == ("Christopher Nolan", False)  # 0.30 passes a lower threshold
    stated = [e for e in row["trace"] if e["type"] == "think" and e["text"].startswith("[judge]")]  # type: ignore[attr-defined]
    for event in stated:  # the same trace without the stated threshold: the wrong one is believed
        event["text"] = event["text"].replace(", min 0.35", "")
    assert replay(0.35) == (None, True)  # 0.35 is then a new threshold, too close to P(yes) 0.35 to call


async def test_best_draft_is_replayed_from_the_drafts_and_a_best_draft_run_replays_as_it_was() -> None:
    question = "Where was the director of Inception born?"
    note = " [Doc 1] Inception is a 2010 film directed by Christopher Nolan.\n- [Doc 2] Christopher Nolan was born in London."
    replies = {"Key facts:\n-": [note], "Answer:": [" Christopher Nolan", " London", " London"],
               "Supported:": [" no"], "Next search query:": [" q1", " q2", " q3"]}

    options = {"verify": "both", "top_k": 2, "max_searches": 3, "on_unsupported": "best-draft"}
    answer = await ask(question, engine=_queued(replies), retriever=_Shelf([_INCEPTION, _NOLAN]),
                       method="evidence-loop", options=options)
    assert answer.text == "London" and not answer.abstained  # the judge refused all three drafts
    row = _row(question, "London", answer)

    def replay(**opts: object) -> tuple[str | None, bool, bool]:
        out = replay_rows([row], EvidenceLoopOptions(**opts), _PAGES.get)[0]  # type: ignore[arg-type]
        return out.replayed, out.unverified, out.truncated

    assert replay(verify="both", on_unsupported="best-draft") == ("London", True, False)  # as it was
    # abstaining instead is exact too: the run's unverified answer came after its last search
    assert replay(verify="both") == (None, False, False)
    assert replay(verify="string", on_unsupported="best-draft") == ("Christopher Nolan", False, False)
    summary = summarize(replay_rows([row], EvidenceLoopOptions(verify="both", on_unsupported="best-draft"),
                                    _PAGES.get), "both")
    assert summary[0].unverified == 1 and summary[0].abstained == 0.0


async def test_best_draft_replay_gives_no_vote_to_a_yes_that_answers_a_wh_question() -> None:
    question = "Where was the director of Inception born?"
    note = " [Doc 1] Inception is a 2010 film directed by Christopher Nolan."
    replies = {"Key facts:\n-": [note], "Answer:": [" Yes", " Christopher Nolan", " yes"],
               "Supported:": [" no"], "Next search query:": [" q1", " q2", " q3"]}

    options = {"verify": "both", "top_k": 2, "max_searches": 3, "on_unsupported": "best-draft"}
    answer = await ask(question, engine=_queued(replies), retriever=_Shelf([_INCEPTION, _NOLAN]),
                       method="evidence-loop", options=options)
    assert answer.text == "Christopher Nolan"
    out = replay_rows([_row(question, "London", answer)], EvidenceLoopOptions(verify="both", on_unsupported="best-draft"),
                      _PAGES.get)[0]
    assert (out.replayed, out.unverified, out.truncated) == ("Christopher Nolan", True, False)


def test_a_rerun_of_the_questions_a_replay_cannot_decide_makes_it_exact(
        eval_sandbox_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, rerun, dataset = tmp_path / "string", tmp_path / "rerun", tmp_path / "rerun.jsonl"
    scripted_run(eval_sandbox_dir, run, limit=4, verify="string")
    with open_pages(eval_sandbox_dir) as pages:
        partial = replay_run(run, "both", pages.get)
    # the string check accepted drafts the judge was never asked about, so "both" cannot tell
    open_ids = [r.id for r in partial if r.undecided or r.truncated]
    assert open_ids and summarize(partial, "both")[0].rerun == 0

    assert main(["eval", "replay-verify", str(run), "--verify", "both", "--rerun-dataset", str(dataset)]) == 0
    printed = capsys.readouterr().out
    assert f"({len(open_ids)} questions to rerun)" in printed and "--option verify=both" in printed
    examples = load_dataset(str(dataset)).examples
    whole = {e.id: e for e in load_dataset("hotpotqa-sandbox", limit=4).examples}
    assert [e.id for e in examples] == open_ids  # in the run's order
    assert all(e == whole[e.id] for e in examples)  # gold titles and metadata too: masking hides the same pages

    with open_pages(eval_sandbox_dir) as pages, pytest.raises(ConfigError, match=r"not run as the replay asks \(verify"):
        replay_run(run, "both", pages.get, reruns=[load_rerun(run)])  # made with string, not both
    assert main(["eval", "replay-verify", str(run), "--verify", "both", "--rerun", str(tmp_path / "nowhere")]) == 1
    assert "is not a run directory" in capsys.readouterr().err
    scripted_run(eval_sandbox_dir, rerun, limit=None, dataset=str(dataset))
    results = rerun / "results.jsonl"
    written = results.read_bytes()
    results.write_bytes(b"")  # a rerun that has only just started answers nothing yet
    with open_pages(eval_sandbox_dir) as pages:
        assert replay_run(run, "both", pages.get, reruns=[load_rerun(rerun)]) == partial
    results.write_bytes(written + b'{"id": "half a line')  # one still being written is left out
    answered = {row["id"]: row for row in map(json.loads, written.decode().splitlines())}
    with open_pages(eval_sandbox_dir) as pages:
        exact = replay_run(run, "both", pages.get, reruns=[load_rerun(rerun)])
    for before, after in zip(partial, exact, strict=True):
        if before.id not in open_ids:
            assert after == before
            continue
        got = answered[after.id]
        assert after.rerun and not after.undecided and not after.truncated
        assert after.replayed == (None if got["abstained"] else got["prediction"])
        assert after.recorded == before.recorded  # "changed" still compares with the replayed run
    assert summarize(exact, "both")[0].rerun == len(open_ids)
    # written out, the rerun's own line stands for its questions: its trace and costs
    out = tmp_path / "exact"
    assert main(["eval", "replay-verify", str(run), "--verify", "both", "--rerun", str(rerun), "--out", str(out)]) == 0
    assert "| both (string) | present | 4 |" in capsys.readouterr().out
    assert read_manifest(out).reruns == [str(rerun)]  # where the replay's exact answers came from
    for line in _lines(out):
        assert line["replay"]["rerun"] is (line["id"] in open_ids)
        if line["id"] in open_ids:
            got = answered[line["id"]]
            assert line["trace"] == got["trace"] and line["usage"] == got["usage"]
            assert line["citations"] == (got["citations"] if line["prediction"] == got["prediction"] else [])
    assert main(["eval", "replay-verify", str(run), "--rerun", str(rerun)]) == 2  # three settings, one rerun
    assert "give one --verify" in capsys.readouterr().err


async def test_a_replay_stops_where_the_setting_would_search_for_something_else() -> None:
    """connect=true rejects "Westminster" as the run did, but would then search for it with the
    question's name; the run asked the model instead, so the trace cannot say what comes next."""
    big_ben = Passage(id="p3", title="Big Ben", text="Big Ben is a clock tower in Westminster.")
    question = "Where was the director of Inception born?"
    note = (" [Doc 1] Inception is a 2010 film directed by Christopher Nolan.\n- [Doc 2] Christopher Nolan was born"
            " in London.\n- [Doc 3] Big Ben is a clock tower in Westminster.")
    replies = {"Key facts:\n-": [note], "Answer:": [" Westminster", " London"], "Supported:": [" no", " yes"],
               "Next search query:": [" Christopher Nolan birthplace"]}
    answer = await ask(question, engine=_queued(replies), retriever=_Shelf([_INCEPTION, _NOLAN, big_ben]),
                       method="evidence-loop", options={"verify": "both", "top_k": 3, "max_searches": 3})
    assert answer.text == "London"
    row = _row(question, "London", answer)
    pages = {**_PAGES, big_ben.id: big_ben}.get

    def replay(**opts: object) -> tuple[str | None, bool]:
        out = replay_rows([row], EvidenceLoopOptions(**opts), pages)[0]  # type: ignore[arg-type]
        return out.replayed, out.truncated

    assert replay(verify="both") == ("London", False)  # its own path
    assert replay(verify="judge") == ("London", False)  # rejects as the run did, then plans as it did
    assert replay(verify="both", connect=True) == (None, True)  # would search "Westminster Inception" next
    assert replay(verify="string", connect=True) == (None, True)  # the same, though the string is found
