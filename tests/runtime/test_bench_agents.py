"""``sleuth bench agents`` on the simulated engine: rows, identical answers, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sleuth.cli import main
from sleuth.errors import ConfigError
from sleuth.evals.bench_agents import (
    AgentBenchConfig,
    PolicyResult,
    floor_note,
    format_table,
    run_agent_bench,
)


def test_four_policies_side_by_side_with_the_same_answers(shared_data: Path) -> None:
    config = AgentBenchConfig(questions=30, data_dir=shared_data)
    results = run_agent_bench(config)
    assert [r.policy for r in results] == ["fifo-blocking", "priority", "non-stall", "priority+non-stall"]
    assert all(r.completed == 30 and r.failed == 0 for r in results)
    assert all(r.same_answers for r in results)
    assert len({round(r.f1, 6) for r in results}) == 1
    baseline, best = results[0], results[-1]
    assert best.recomputed_prompt_tokens < baseline.recomputed_prompt_tokens / 2  # prefix reuse
    assert baseline.prompt_tokens == baseline.recomputed_prompt_tokens  # no reuse at all
    assert baseline.throughput_ratio == 1.0 and best.throughput_ratio == pytest.approx(
        best.throughput_qps / baseline.throughput_qps
    )
    # the engine floor bounds every policy's engine time, and prefix reuse gets closer to it
    for r in results:
        assert r.engine_floor_s is not None and 0 < r.engine_floor_s <= r.engine_busy_s <= r.makespan_s + 1e-9
    assert best.engine_busy_s / best.engine_floor_s < baseline.engine_busy_s / baseline.engine_floor_s
    for r in results:  # offline, every agent started at 0: no policy's p95 beats the floor
        assert r.p95_floor_s is not None and 0 < r.p95_floor_s <= r.p95_s
    table = format_table(results, config)
    assert "priority+non-stall" in table and "30 hotpotqa questions, offline" in table
    bound = baseline.makespan_s / baseline.engine_floor_s
    assert f"none sending them exceeds {bound:.2f}x its throughput" in table
    assert best.throughput_ratio <= bound  # no policy beats the floor of the requests it shares
    assert f"none gets its p95 below {baseline.p95_floor_s:.1f} s" in table


def test_musique_workload_draws_musique_questions_that_need_more_searches(shared_data: Path) -> None:
    runs = {w: run_agent_bench(AgentBenchConfig(questions=40, data_dir=shared_data, workload=w,
                                                policies=["priority+non-stall"]))[0]
            for w in ("hotpotqa", "musique")}
    assert all(r.completed == 40 for r in runs.values())
    # MuSiQue questions need 2-4 hops (mean ~2.65) against HotpotQA's 1-4 (mean ~2.05)
    assert runs["musique"].searches > 1.15 * runs["hotpotqa"].searches


def test_poisson_arrivals_spread_questions_and_leave_the_engine_idle_at_low_rate(shared_data: Path) -> None:
    config = AgentBenchConfig(questions=20, rate=0.2, data_dir=shared_data,
                              policies=["fifo-blocking", "priority+non-stall"])
    results = run_agent_bench(config)
    assert results[0].makespan_s > 60  # 20 arrivals at 0.2/s take ~100 s
    assert all(r.llm_idle_frac > 0.4 for r in results)
    assert all(r.p95_s < 20 for r in results)  # no queueing at this rate
    # arrivals, not engine work, bound an online run: no floors are claimed for it
    assert all(r.p95_floor_s is None for r in results) and floor_note(results, config) is None


def test_cli_json_rows_have_the_promised_keys(capsys: pytest.CaptureFixture[str], shared_data: Path) -> None:
    code = main(["bench", "agents", "--questions", "12", "--json", "--data-dir", str(shared_data),
                 "--policies", "fifo-blocking,priority+non-stall"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["policy"] for r in rows] == ["fifo-blocking", "priority+non-stall"]
    for row in rows:
        assert {"policy", "throughput_qps", "p50_s", "p95_s", "p99_s", "f1"} <= row.keys()


def test_unknown_policy_or_profile_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="fifo-blocking"):
        run_agent_bench(AgentBenchConfig(questions=2, policies=["lottery"]))
    assert main(["bench", "agents", "--questions", "2", "--profile", "h100-dreams"]) == 2
    assert "Unknown profile" in capsys.readouterr().err


def test_token_budget_keeps_long_prompts_inside_the_kv_cache(shared_data: Path) -> None:
    # 5 passages a search make prompts longer than the call-count bound assumes (1,024
    # tokens): on the count alone the engine preempts and evicts the agents' prefixes.
    def run(tokens: int | None) -> PolicyResult:
        config = AgentBenchConfig(questions=150, data_dir=shared_data, workload="musique", top_k=5,
                                  policies=["priority+non-stall"], max_in_flight_tokens=tokens)
        return run_agent_bench(config)[0]

    budget, count_only = run(None), run(10**9)
    assert budget.completed == count_only.completed == 150 and budget.f1 == count_only.f1
    assert budget.preemptions == 0 < count_only.preemptions
    assert budget.recomputed_prompt_tokens < 0.8 * count_only.recomputed_prompt_tokens
    assert budget.makespan_s < count_only.makespan_s
    assert budget.prompt_tokens > 1.3 * run_agent_bench(AgentBenchConfig(
        questions=150, data_dir=shared_data, workload="musique", policies=["priority+non-stall"]))[0].prompt_tokens


@pytest.mark.model
def test_embedded_bench_runs_the_real_model_under_two_policies(
    capsys: pytest.CaptureFixture[str], shared_data: Path, small_gguf_path: Path
) -> None:
    pytest.importorskip("llama_cpp", reason="pip install 'sleuth[embedded]'")
    code = main(["bench", "agents", "--engine", "embedded", "--model", "qwen2.5-coder-0.5b", "--questions", "2",
                 "--policies", "fifo-blocking,priority+non-stall", "--max-turns", "2", "--max-tokens", "48",
                 "--data-dir", str(shared_data), "--json"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["policy"] for r in rows] == ["fifo-blocking", "priority+non-stall"]
    for row in rows:
        assert row["completed"] == 2 and row["failed"] == 0
        assert row["searches"] >= 2 and row["prompt_tokens"] > 0
        assert row["engine_floor_s"] is None and row["p95_floor_s"] is None  # real time has no floor
        assert 0 < row["p50_s"] <= row["p95_s"] <= row["p99_s"]
    # the real engine reports the prompt it served from cache (a restored session or the
    # prefix llama.cpp still holds), so recomputed tokens are counted, not assumed; which
    # policy reuses more is left to the benchmark, since with two agents (a) can match (d)
    assert rows[1]["recomputed_prompt_tokens"] < rows[1]["prompt_tokens"]
