"""``sleuth bench retrieval``: BM25 and FAISS build time, memory, latency and QPS side by side."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retrieval",
        help="retrieval benchmark: BM25 backends and FAISS indices",
        description="Benchmark retrieval backends on synthetic Zipf corpora and the sandbox.",
        epilog="example: sleuth bench retrieval --sizes 100000 --json",
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    parser.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from sleuth.errors import ConfigError

    raise ConfigError("the retrieval benchmark is not built yet")
