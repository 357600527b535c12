"""``sleuth bench agents``: scheduling policies for many concurrent agents, side by side."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

EPILOG = """examples:
  sleuth bench agents --engine simulated --questions 500 --json
  sleuth bench agents --questions 500 --rate 4
  sleuth bench agents --engine embedded --questions 8

policies: fifo-blocking, priority, non-stall, priority+non-stall (with prefix reuse);
ablations fifo+prefix, priority+prefix, fifo+non-stall+prefix via --policies."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agents",
        help="agent scheduling benchmark: FIFO vs priority vs non-stall retrieval",
        description=(
            "Run N multi-hop questions through the Search-R1 graph under four scheduling "
            "policies and print throughput, p50/p95/p99 latency, LLM idle time, retrieval wait, "
            "recomputed prompt tokens and answer F1 side by side. The simulated engine models a "
            "7B model on one A100 on a virtual clock; the embedded engine runs the real model."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--engine", choices=["simulated", "embedded"], default="simulated")
    parser.add_argument("--questions", type=int, default=500, help="questions in the workload")
    arrival = parser.add_mutually_exclusive_group()
    arrival.add_argument("--rate", type=float, help="Poisson arrivals per second")
    arrival.add_argument("--offline", action="store_true", help="all questions at once (default)")
    parser.add_argument("--policies", help="comma-separated policies (default: the four)")
    parser.add_argument("--profile", default="llama2-7b-a100",
                        help="simulated GPU profile: llama2-7b-a100, qwen2.5-7b-a100")
    parser.add_argument("--concurrency", type=int, default=1024, help="agents running at once")
    parser.add_argument("--max-in-flight", type=int, help="LLM calls in flight for bounded policies")
    parser.add_argument("--max-in-flight-tokens", type=int,
                        help="prompt tokens in flight for bounded policies (default: the KV capacity)")
    parser.add_argument("--top-k", type=int, help="passages per search (default 3; SearchAgent-X used 5)")
    parser.add_argument("--ef-max", type=int, default=512,
                        help="simulated HNSW efSearch at full effort (SearchAgent-X used 10000)")
    parser.add_argument("--recall-floor", type=float, default=0.98,
                        help="adaptive ANN effort never drops below this recall")
    parser.add_argument("--max-turns", type=int, default=6, help="Search-R1 turns per question")
    parser.add_argument("--max-tokens", type=int, help="token budget of one turn")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="embedded model")
    parser.add_argument("--data-dir", type=Path, help="shared data folder")
    parser.add_argument("--workload", choices=["hotpotqa", "musique"], default="hotpotqa",
                        help="simulated agents' hops and accuracy: HotpotQA (1-4 searches) or "
                        "MuSiQue (2-4 hops, SearchAgent-X's request set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON row per policy")
    parser.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from sleuth.evals.bench_agents import (
        AgentBenchConfig,
        floor_note,
        iter_agent_bench,
        table_header,
        table_row,
    )

    values: dict[str, Any] = {
        "engine": args.engine,
        "questions": args.questions,
        "rate": args.rate,
        "profile": args.profile,
        "concurrency": args.concurrency,
        "max_in_flight": args.max_in_flight,
        "max_in_flight_tokens": args.max_in_flight_tokens,
        "top_k": args.top_k,
        "ef_max": args.ef_max,
        "max_turns": args.max_turns,
        "recall_floor": args.recall_floor,
        "max_tokens": args.max_tokens,
        "model": args.model,
        "data_dir": args.data_dir,
        "seed": args.seed,
        "workload": args.workload,
        "progress": not args.json,
    }
    if args.policies:
        values["policies"] = [p.strip() for p in args.policies.split(",") if p.strip()]
    config = AgentBenchConfig.model_validate(values)
    results = iter_agent_bench(config)
    if not args.json:
        print(table_header(config), flush=True)
    rows = []
    for result in results:  # each row as soon as its policy has run
        rows.append(result)
        if args.json:
            print(json.dumps({k: _finite(v) for k, v in result.model_dump().items()}), flush=True)
        else:
            print(table_row(result), flush=True)
    note = None if args.json else floor_note(rows, config)
    if note:
        print(note)
    return 0


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value
