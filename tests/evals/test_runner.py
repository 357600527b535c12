"""The eval runner in-process: results, masking, crashes, timeouts, resume and concurrency."""

from __future__ import annotations

import asyncio
import json
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.engines.router import RoleRouter
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import ConfigError, DatasetError, EvalError, ResumeMismatchError
from sleuth.evals.report import load_runs, write_report
from sleuth.evals.rundir import (
    RESULTS_FILE,
    RUN_FILE,
    EngineConfig,
    ResultsFile,
    RunConfig,
    read_manifest,
)
from sleuth.evals.runner import is_masked, make_engine, run_eval
from sleuth.evals.scripted import scripted_reply
from sleuth.graphs.registry import MethodSpec, register_method
from sleuth.types import Answer, SearchEvent, StrictModel, TraceEvent


class _State(TypedDict, total=False):
    question: str
    trace: Annotated[list[TraceEvent], operator.add]
    answer: Answer


class _Options(StrictModel):
    sleep_s: float = 0.0


def _crashing_graph(engine: Any, retriever: Any, options: _Options) -> Any:
    """Searches once, then crashes on the 'Black Maverick' question, sleeps when asked."""

    async def search(state: _State) -> dict[str, Any]:
        hits = (await retriever.search([state["question"]], 2))[0]
        return {"trace": [SearchEvent(query=state["question"], ids=[h.passage.id for h in hits])]}

    async def answer(state: _State) -> dict[str, Any]:
        if "Black Maverick" in state["question"]:
            raise RuntimeError("the agent fell over")
        await asyncio.sleep(options.sleep_s)
        reply = await engine.generate(GenerationRequest(prompt=state["question"], max_tokens=8))
        return {"answer": Answer(question=state["question"], text=reply.text)}

    graph = StateGraph(_State)
    graph.add_node("search", search)
    graph.add_node("answer", answer)
    graph.add_edge(START, "search")
    graph.add_edge("search", "answer")
    graph.add_edge("answer", END)
    return graph.compile()


register_method(MethodSpec("test-crashing", _crashing_graph, _Options, "test double"))


def _config(sandbox: Path, **kw: Any) -> RunConfig:
    base: dict[str, Any] = {"dataset": "hotpotqa-sandbox", "method": "search-r1", "limit": 4,
                            "sandbox": str(sandbox), "engine": EngineConfig(kind="scripted")}
    return RunConfig(**{**base, **kw})


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / RESULTS_FILE).read_text().splitlines()]


def _engine() -> ScriptedEngine:
    return ScriptedEngine(responder=scripted_reply)


async def test_run_writes_one_result_per_question(eval_sandbox_dir: Path, tmp_path: Path,
                                                  shared_data: Path) -> None:
    out = tmp_path / "run"
    summary = await run_eval(_config(eval_sandbox_dir), out, engine=_engine(), progress=False)
    assert (summary.total, summary.ran, summary.skipped, summary.errors) == (4, 4, 0, 0)
    rows = _rows(out)
    assert [r["id"] for r in rows] == [
        "5ab72a025542992aa3b8c7b8", "5a888fe6554299206df2b2f7", "5ab85f555542992aa3b8c8ca",
        "5ae55a4e5542990ba0bbb285",
    ]
    for row in rows:
        searches = [e for e in row["trace"] if e["type"] == "search"]
        logged = [a for a in row["actions"] if a["tool"] == "search"]
        assert searches and [s["ids"] for s in searches] == [a["ids"] for a in logged]
        assert row["usage"]["llm_calls"] == 2 and row["usage"]["searches"] == len(logged)
        assert row["usage"]["prompt_tokens"] > 0 and row["usage"]["wall_s"] > 0
        seen = {i for a in row["actions"] for i in a["ids"]}
        assert row["metrics"]["recall"] == len(seen & set(row["gold_ids"])) / len(row["gold_ids"])
    manifest = json.loads((out / RUN_FILE).read_text())
    assert manifest["dataset"]["n_selected"] == 4 and len(manifest["dataset"]["sha256"]) == 64
    assert manifest["sandbox"]["n_paragraphs"] > 0 and "langgraph" in manifest["versions"]


@pytest.mark.parametrize("follow_links", [0, 3])
async def test_masked_gold_never_reaches_the_agent(eval_sandbox_dir: Path, tmp_path: Path,
                                                   follow_links: int) -> None:
    out = tmp_path / "masked"
    await run_eval(_config(eval_sandbox_dir, mask_gold=1.0, limit=6, follow_links=follow_links), out,
                   engine=_engine(), progress=False)
    for row in _rows(out):
        assert row["masked"] and row["hidden_ids"] == row["gold_ids"]
        shown = {i for a in row["actions"] for i in a["ids"]}
        shown |= {i for e in row["trace"] for i in e.get("ids", [])}
        assert shown and not shown & set(row["gold_ids"])
        assert row["metrics"]["sufficient"] is False and row["metrics"]["refusal"] is not None
        assert row["metrics"]["over_refusal"] is None


async def test_following_links_is_recorded_and_finds_more_gold(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    runs = {}
    for links in (0, 2):
        out = tmp_path / f"links{links}"
        await run_eval(_config(eval_sandbox_dir, method="standard-rag", limit=8, follow_links=links), out,
                       engine=_engine(), progress=False)
        assert read_manifest(out).config.follow_links == links
        runs[links] = {r["id"]: r for r in _rows(out)}
    for qid, row in runs[2].items():
        search = next(a for a in row["actions"] if a["tool"] == "search")
        assert search["args"]["follow_links"] == 2
        plain = next(a for a in runs[0][qid]["actions"] if a["tool"] == "search")
        assert search["ids"][: len(plain["ids"])] == plain["ids"]  # the same hits, then the links
        assert row["metrics"]["recall"] >= runs[0][qid]["metrics"]["recall"]
    found = [sum(r["metrics"]["sufficient"] for r in runs[n].values()) for n in (0, 2)]
    assert found[1] > found[0]


@pytest.mark.parametrize("method", ["standard-rag", "ircot", "search-r1", "evidence-loop"])
async def test_methods_read_the_pages_their_searches_followed_links_to(
        eval_sandbox_dir: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / method
    await run_eval(_config(eval_sandbox_dir, method=method, limit=3, follow_links=2), out,
                   engine=_engine(), progress=False)
    linked = 0
    for row in _rows(out):
        shown = [a["ids"][a["args"]["k"]:] for a in row["actions"] if a["tool"] == "search"]
        read = {i for e in row["trace"] if e["type"] == "information" for i in e["ids"]}
        assert {i for ids in shown for i in ids} <= read, row["id"]
        linked += sum(map(len, shown))
    assert linked > 0


def test_mask_draw_is_stable_and_close_to_the_fraction() -> None:
    ids = [f"q{i}" for i in range(4000)]
    share = sum(is_masked(i, 0.3, 0) for i in ids) / len(ids)
    assert abs(share - 0.3) < 0.03
    assert [is_masked(i, 0.3, 0) for i in ids[:50]] == [is_masked(i, 0.3, 0) for i in ids[:50]]
    assert [is_masked(i, 0.3, 0) for i in ids] != [is_masked(i, 0.3, 1) for i in ids]
    assert not any(is_masked(i, 0.0, 0) for i in ids)


async def test_a_crashing_agent_is_recorded_and_the_run_goes_on(
    eval_sandbox_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "crash"
    cfg = _config(eval_sandbox_dir, method="test-crashing")
    summary = await run_eval(cfg, out, engine=ScriptedEngine(["a", "b", "c"]), progress=False)
    rows = {r["id"]: r for r in _rows(out)}
    assert summary.errors == 1 and len(rows) == 4
    crashed = rows["5a888fe6554299206df2b2f7"]
    assert crashed["error"]["type"] == "RuntimeError"
    assert crashed["error"]["message"] == "the agent fell over"
    assert "the agent fell over" in crashed["error"]["traceback"]
    assert [e["type"] for e in crashed["trace"]] == ["search", "error"]  # the trace so far
    assert crashed["actions"][0]["tool"] == "search" and crashed["metrics"]["error"] is True
    assert sum(r["error"] is None for r in rows.values()) == 3


async def test_a_slow_agent_times_out_with_its_trace(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "slow"
    cfg = _config(eval_sandbox_dir, method="test-crashing", options={"sleep_s": 5.0},
                  timeout_s=0.5, limit=1, concurrency=1)
    summary = await run_eval(cfg, out, engine=_engine(), progress=False)
    (row,) = _rows(out)
    assert summary.errors == 1 and row["error"]["code"] == "timeout"
    assert [e["type"] for e in row["trace"]] == ["search", "error"]
    assert row["usage"]["wall_s"] < 3


async def test_resume_skips_done_questions_and_drops_a_torn_line(
    eval_sandbox_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "resume"
    await run_eval(_config(eval_sandbox_dir), out, engine=_engine(), progress=False)
    lines = (out / RESULTS_FILE).read_bytes().splitlines(keepends=True)
    (out / RESULTS_FILE).write_bytes(b"".join(lines[:2]) + lines[2][:57])  # killed mid-write
    engine = _engine()
    summary = await run_eval(_config(eval_sandbox_dir, concurrency=3), out, resume=True,
                             engine=engine, progress=False)
    assert (summary.skipped, summary.ran) == (2, 2) and len(engine.requests) == 4
    data = (out / RESULTS_FILE).read_bytes()
    assert data.startswith(b"".join(lines[:2])) and data.endswith(b"\n")
    ids = [r["id"] for r in _rows(out)]
    assert len(ids) == len(set(ids)) == 4
    again = await run_eval(_config(eval_sandbox_dir), out, resume=True, engine=_engine(),
                           progress=False)
    assert (again.ran, again.skipped) == (0, 4)


class _DownOnce(ScriptedEngine):
    """An LLM server that is down for its first call (and only that one)."""

    failed = False

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        if not self.failed:
            self.failed = True
            raise ConnectionError("server down")
        return await super().generate(request)


async def test_retry_errors_reruns_only_failed_questions_and_keeps_the_error_line(
    eval_sandbox_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "retry"
    first = await run_eval(_config(eval_sandbox_dir), out, engine=_DownOnce(responder=scripted_reply),
                           progress=False)
    assert first.errors == 1
    failed = next(r["id"] for r in _rows(out) if r["error"])
    plain = await run_eval(_config(eval_sandbox_dir), out, resume=True, engine=_engine(), progress=False)
    assert plain.ran == 0  # a plain resume never repeats a finished question, errors included
    engine = _engine()
    retried = await run_eval(_config(eval_sandbox_dir), out, resume=True, retry_errors=True,
                             engine=engine, progress=False)
    assert (retried.ran, retried.skipped, retried.errors) == (1, 3, 0)
    rows = _rows(out)
    assert len(rows) == 5 and rows[-1]["id"] == failed and rows[-1]["error"] is None
    assert [r["id"] for r in rows if r["error"]] == [failed]  # the old line is kept
    current = ResultsFile(out / RESULTS_FILE).current()
    assert len(current) == 4 and not any(r["error"] for r in current)
    (run,) = load_runs([out], resamples=20)
    assert len(run.rows) == 4 and run.errors == 0


async def test_resume_with_another_config_is_refused_with_the_diff(
    eval_sandbox_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mismatch"
    await run_eval(_config(eval_sandbox_dir, limit=1), out, engine=_engine(), progress=False)
    with pytest.raises(EvalError, match="--resume"):
        await run_eval(_config(eval_sandbox_dir, limit=1), out, engine=_engine(), progress=False)
    with pytest.raises(ResumeMismatchError) as err:
        await run_eval(_config(eval_sandbox_dir, limit=1, mask_gold=0.5,
                               options={"top_k": 5}), out, resume=True, engine=_engine(),
                       progress=False)
    message = str(err.value)
    assert "config.mask_gold: 0.0 -> 0.5" in message and "config.options.top_k" in message
    assert len(_rows(out)) == 1


async def test_a_judge_engine_is_part_of_the_run_config(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    """The run builds the router from its config, records the judge's engine in the manifest
    and the report, and a resume with another judge is refused."""
    out = tmp_path / "judged"

    def judged(model: str) -> RunConfig:
        judge = EngineConfig(kind="scripted", model=model)
        return _config(eval_sandbox_dir, limit=1, method="evidence-loop", options={"verify": "both"},
                       engine=EngineConfig(kind="scripted", roles={"judge": judge}))

    routed = make_engine(judged("judge-a").engine)
    assert isinstance(routed, RoleRouter) and routed.routes["judge"] is not routed.default
    await routed.aclose()
    summary = await run_eval(judged("judge-a"), out, progress=False)
    assert (summary.ran, summary.errors) == (1, 0)
    manifest = json.loads((out / RUN_FILE).read_text())
    assert manifest["config"]["engine"]["roles"]["judge"]["model"] == "judge-a"
    assert "(judge: judge-a)" in load_runs([out], resamples=10)[0].label
    with pytest.raises(ResumeMismatchError, match="config.engine.roles.judge.model"):
        await run_eval(judged("judge-b"), out, resume=True, progress=False)
    with pytest.raises(ValueError, match="roles of its own"):
        EngineConfig(roles={"judge": EngineConfig(roles={"judge": EngineConfig()})})


async def test_resume_with_a_larger_limit_grows_the_run(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "grow"
    await run_eval(_config(eval_sandbox_dir, limit=1), out, engine=_engine(), progress=False)
    first = _rows(out)
    summary = await run_eval(_config(eval_sandbox_dir, limit=3), out, resume=True, engine=_engine(),
                             progress=False)
    assert (summary.skipped, summary.ran) == (1, 2)
    rows = _rows(out)
    assert rows[0] == first[0] and len({r["id"] for r in rows}) == 3
    manifest = read_manifest(out)
    assert manifest.config.limit == 3 and manifest.dataset.n_selected == 3
    assert manifest.extended[0]["limit"] == [1, 3]
    # shrinking, or growing together with another change, is still refused
    with pytest.raises(ResumeMismatchError, match="config.limit: 3 -> 2"):
        await run_eval(_config(eval_sandbox_dir, limit=2), out, resume=True, engine=_engine(),
                       progress=False)
    with pytest.raises(ResumeMismatchError, match="mask_gold"):
        await run_eval(_config(eval_sandbox_dir, limit=4, mask_gold=0.5), out, resume=True,
                       engine=_engine(), progress=False)
    assert len(_rows(out)) == 3


async def test_slices_of_one_dataset_join_into_the_whole_run(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    await run_eval(_config(eval_sandbox_dir, limit=4), tmp_path / "whole", engine=_engine(), progress=False)
    await run_eval(_config(eval_sandbox_dir, limit=2), tmp_path / "q1", engine=_engine(), progress=False)
    await run_eval(_config(eval_sandbox_dir, skip=2, limit=2), tmp_path / "q3", engine=_engine(),
                   progress=False)
    assert [r["id"] for r in _rows(tmp_path / "q3")] == [r["id"] for r in _rows(tmp_path / "whole")][2:]
    joined, whole = load_runs([Path(f"{tmp_path / 'q1'}+{tmp_path / 'q3'}"), tmp_path / "whole"], resamples=20)
    assert [r["id"] for r in joined.rows] == [r["id"] for r in whole.rows]
    assert [r["prediction"] for r in joined.rows] == [r["prediction"] for r in whole.rows]
    assert read_manifest(tmp_path / "q3").config.skip == 2
    md, _ = write_report([Path(f"{tmp_path / 'q1'}+{tmp_path / 'q3'}")], tmp_path / "report", resamples=20)
    text = md.read_text()
    assert "dataset hotpotqa-sandbox (2 of 2 questions" in text
    assert "dataset hotpotqa-sandbox (questions 3-4, 2 of 2 questions" in text
    with pytest.raises(ResumeMismatchError, match="config.skip: 2 -> 3"):
        await run_eval(_config(eval_sandbox_dir, skip=3, limit=2), tmp_path / "q3", resume=True,
                       engine=_engine(), progress=False)
    assert len(_rows(tmp_path / "q3")) == 2


async def test_unknown_names_fail_before_anything_is_written(
    eval_sandbox_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="search-r1"):
        await run_eval(_config(eval_sandbox_dir, method="nope"), tmp_path / "a", engine=_engine())
    with pytest.raises(DatasetError, match="hotpotqa-sandbox"):
        await run_eval(_config(eval_sandbox_dir, dataset="nope"), tmp_path / "b", engine=_engine())
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


class _CountingEngine:
    name = "counting"

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        self.now += 1
        self.peak = max(self.peak, self.now)
        await asyncio.sleep(0.05)
        self.now -= 1
        return GenerationResponse(text=scripted_reply(request), finish_reason="stop")

    async def aclose(self) -> None:
        return None


async def test_concurrency_bounds_questions_in_flight(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    engine = _CountingEngine()
    await run_eval(_config(eval_sandbox_dir, limit=8, concurrency=3), tmp_path / "c",
                   engine=engine, progress=False)  # type: ignore[arg-type]
    assert engine.peak == 3
    rows = _rows(tmp_path / "c")
    assert len(rows) == 8
    for row in rows:  # questions ran side by side, yet each has its own log and usage
        searches = [e["ids"] for e in row["trace"] if e["type"] == "search"]
        assert searches == [a["ids"] for a in row["actions"] if a["tool"] == "search"]
        assert row["usage"]["llm_calls"] == 2 and row["usage"]["searches"] == len(searches)


async def test_a_cancelled_run_keeps_finished_lines_and_resumes_the_rest(
    eval_sandbox_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cancelled"
    before = asyncio.all_tasks()
    run = asyncio.ensure_future(run_eval(_config(eval_sandbox_dir, limit=8, concurrency=2), out,
                                         engine=_CountingEngine(), progress=False))  # type: ignore[arg-type]
    while not (out / RESULTS_FILE).exists() or not _rows(out):
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
    finished = [r["id"] for r in _rows(out)]  # every line whole: json.loads would fail otherwise
    assert 1 <= len(finished) < 8
    summary = await run_eval(_config(eval_sandbox_dir, limit=8, concurrency=2), out, resume=True,
                             engine=_engine(), progress=False)
    assert (summary.skipped, summary.ran) == (len(finished), 8 - len(finished))
    ids = [r["id"] for r in _rows(out)]
    assert ids[: len(finished)] == finished and len(ids) == len(set(ids)) == 8


async def test_a_forced_answer_is_counted(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    """Search-R1 out of turns answers anyway: the row says so (a rate over the answered questions)."""
    for turns, expect in ((1, 1.0), (4, 0.0)):
        out = tmp_path / f"turns{turns}"
        await run_eval(_config(eval_sandbox_dir, limit=2, options={"max_turns": turns}), out, engine=_engine(),
                       progress=False)
        rows = _rows(out)
        assert rows and all(not r["abstained"] and r["metrics"]["forced"] == expect for r in rows), turns
        assert all(r["trace"][-1]["forced"] == bool(expect) for r in rows)
