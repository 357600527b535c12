"""``sleuth sandbox``: fetch demo corpora and build offline Wikipedia sandboxes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="fetch and build offline Wikipedia sandboxes",
        description="Fetch demo corpora and build offline Wikipedia sandboxes.",
        epilog="example: sleuth sandbox fetch wiki-summaries --out demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    fetch = sub.add_parser(
        "fetch",
        help="download a demo corpus",
        description="Download a demo corpus and convert it to Sleuth's JSONL corpus format. "
        "wiki-summaries: 10,033 English Wikipedia lead summaries (CC BY-SA 4.0).",
        epilog="example: sleuth sandbox fetch wiki-summaries --out demo",
    )
    fetch.add_argument("name", choices=["wiki-summaries"], help="which corpus")
    fetch.add_argument("--out", type=Path, required=True, help="output directory")
    fetch.set_defaults(func=_fetch)


def _fetch(args: argparse.Namespace) -> int:
    from sleuth.sandboxes.wiki_summaries import fetch_wiki_summaries

    print(f"fetching {args.name} ...", file=sys.stderr)
    corpus = fetch_wiki_summaries(args.out)
    n = sum(1 for _ in corpus.open(encoding="utf-8"))
    print(f"wrote {n} passages to {corpus}")
    return 0
