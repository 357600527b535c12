"""``sleuth bench retrieval|agents``: benchmarks that print side-by-side ratios from one run."""

from __future__ import annotations

import argparse
from typing import Any

from sleuth.cli import bench_agents, bench_retrieval


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: retrieval, agents",
        description="Benchmarks. Each prints its methods side by side, measured in one run.",
        epilog="example: sleuth bench retrieval --sizes 100000 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    bench_retrieval.register(sub)
    bench_agents.register(sub)
