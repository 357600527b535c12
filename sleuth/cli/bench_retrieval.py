"""``sleuth bench retrieval``: BM25 and FAISS build time, memory, latency and QPS side by side."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retrieval",
        help="retrieval benchmark: BM25 backends, FAISS indices, sandbox recall",
        description="Benchmark retrieval on synthetic Zipf corpora (about 100 words per passage, "
        "fixed seed) and clustered 384-d vectors, and on the real HotpotQA sandbox: build time, "
        "peak memory, p50 single-query latency, batch-64 QPS and ANN recall@10 against exact "
        "search. Ratios are against rank-bm25 (BM25 rows) and FAISS Flat (ANN rows) of the same "
        "run. --quality instead reports recall@{2,5,10,20} of the sandbox's gold paragraphs "
        "for BM25, dense and hybrid retrieval, what following links adds to a top-5 search, and "
        "how often EvidenceLoop's coverage check flags questions with gold evidence present or masked.",
        epilog="examples:\n  sleuth bench retrieval --sizes 100000 --json\n"
        "  sleuth bench retrieval --sizes 1000000 --no-rank-bm25 --sandbox\n"
        "  sleuth bench retrieval --quality --out docs/retrieval-quality.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="10000,100000",
                        help="comma-separated synthetic corpus sizes (default 10000,100000)")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    parser.add_argument("--only", choices=["bm25", "dense"], help="run one family only")
    parser.add_argument("--rank-bm25-max", type=int, default=100_000,
                        help="largest corpus for rank-bm25 (slow; default 100000)")
    parser.add_argument("--bm25s-max", type=int, default=100_000,
                        help="largest corpus for bm25s-numba (default 100000)")
    parser.add_argument("--hnsw-max", type=int, default=100_000,
                        help="largest corpus for HNSW, whose build is slow on few cores")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for every method (default 1: comparable on a shared machine)")
    parser.add_argument("--sandbox", action="store_true",
                        help="also run on the real HotpotQA sandbox corpus (dense rows use the "
                        "cached MiniLM embeddings, encoding them first if needed)")
    parser.add_argument("--data", type=Path, default=None,
                        help="shared data directory (default: ../shared/data)")
    parser.add_argument("--quality", action="store_true",
                        help="recall@k of gold paragraphs on the sandbox instead of speed")
    parser.add_argument("--out", type=Path, default=None, help="with --quality: write a markdown table")
    parser.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from sleuth.retrieval.bench import BenchSettings, format_table, run_synthetic

    if args.quality:
        return _quality(args)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    settings = BenchSettings(sizes=sizes, rank_bm25_max=args.rank_bm25_max,
                             bm25s_max=args.bm25s_max, hnsw_max=args.hnsw_max,
                             threads=args.threads,
                             bm25=args.only in (None, "bm25"), dense=args.only in (None, "dense"))

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rows = run_synthetic(settings, say)
    if args.sandbox:
        rows += _sandbox_rows(args, settings, say)
    if args.json:
        print(json.dumps([r.model_dump() for r in rows], indent=1))
    else:
        print(format_table(rows))
    return 0


def _data_dir(args: argparse.Namespace) -> Path:
    from sleuth.errors import ConfigError

    data = args.data or Path.cwd().parent / "shared" / "data"
    if not (data / "hotpotqa_sandbox" / "corpus.jsonl.gz").is_file():
        raise ConfigError(f"HotpotQA sandbox not found under {data}", hint="pass --data DIR")
    return data


def _sandbox_rows(args: argparse.Namespace, settings: Any, say: Any) -> list[Any]:
    from sleuth.retrieval.bench import run_sandbox
    from sleuth.retrieval.quality import load_questions, sandbox_embeddings

    data = _data_dir(args)
    say("sandbox: HotpotQA corpus")
    questions = [q.question for q in load_questions(data)]
    vectors = queries = None
    if settings.dense:
        vectors, encoder = sandbox_embeddings(data)
        queries = encoder.encode_queries(questions[:200])
    rows: list[Any] = run_sandbox(data / "hotpotqa_sandbox" / "corpus.jsonl.gz", questions,
                                  settings, vectors, queries)
    return rows


def _quality(args: argparse.Namespace) -> int:
    from sleuth.atomic import write_text_atomic
    from sleuth.evals.coverage_quality import (
        format_coverage_markdown,
        run_answer_checks,
        run_coverage_quality,
    )
    from sleuth.evals.link_quality import format_link_markdown, run_link_quality
    from sleuth.retrieval.quality import format_markdown, quality_retrievers, run_quality

    data = _data_dir(args)
    retrievers = quality_retrievers(data)
    table = run_quality(data, retrievers=retrievers)
    links = run_link_quality(data, {name: retrievers[name] for name in ("BM25", "hybrid weighted (0.5)")})
    coverage = run_coverage_quality(data, {"BM25": retrievers["BM25"]})
    checks = run_answer_checks(data, retrievers["BM25"])
    text = (format_markdown(table) + "\n" + format_link_markdown(links) + "\n"
            + format_coverage_markdown(coverage, checks))
    if args.out:
        write_text_atomic(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps({"recall": table, "links": [r.model_dump() for r in links],
                          "coverage": [r.model_dump() for r in coverage],
                          "answer_checks": [c.model_dump() for c in checks]}, indent=1))
    else:
        print(text)
    return 0
