"""``sleuth serve retrieval|sandbox``: HTTP servers, bound to 127.0.0.1 by default."""

from __future__ import annotations

import argparse
from typing import Any

from sleuth.cli import serve_retrieval, serve_sandbox


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a retrieval index or a sandbox over HTTP",
        description="Serve a retrieval index (Search-R1's /retrieve API) or a sandbox's tools.",
        epilog="example: sleuth serve retrieval --index demo/index --port 8000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="serve_command", metavar="WHAT", required=True)
    serve_retrieval.register(sub)
    serve_sandbox.register(sub)
