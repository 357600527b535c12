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
    build = sub.add_parser(
        "build",
        help="build a sandbox from a JSONL corpus or a Wikipedia XML dump",
        description="Build a sandbox directory (BM25 index + page store) from a JSONL corpus "
        "(id, title, text) or a MediaWiki .xml.bz2 dump (needs sleuth[wiki]).",
        epilog="examples:\n"
        "  sleuth sandbox build ../shared/data/hotpotqa_sandbox/corpus.jsonl.gz \\\n"
        "      --out runs/sandbox-hotpotqa\n"
        "  sleuth sandbox build enwiki-pages-articles.xml.bz2 --out runs/wiki",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("source", type=Path, help="corpus .jsonl[.gz] or dump .xml[.bz2]")
    build.add_argument("--out", type=Path, required=True, help="sandbox directory to create")
    build.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                       help="bad corpus lines: stop (default) or skip")
    build.add_argument("--overwrite", action="store_true", help="replace an existing sandbox")
    build.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    from sleuth.sandboxes.build import build_sandbox

    m = build_sandbox(args.source, args.out, on_error=args.on_error, overwrite=args.overwrite)
    print(f"built {args.out}: {m.n_pages} pages, {m.n_paragraphs} paragraphs ({m.index_kind})")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from sleuth.sandboxes.wiki_summaries import fetch_wiki_summaries

    print(f"fetching {args.name} ...", file=sys.stderr)
    corpus = fetch_wiki_summaries(args.out)
    n = sum(1 for _ in corpus.open(encoding="utf-8"))
    print(f"wrote {n} passages to {corpus}")
    return 0
