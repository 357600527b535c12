"""``sleuth serve retrieval``: Search-R1's /retrieve API over an index (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retrieval",
        help="serve an index with Search-R1's /retrieve API",
        description="Serve an index over HTTP with Search-R1's API: POST /retrieve "
        '{"queries": [...], "topk": k, "return_scores": true}, and GET /health.',
        epilog="example: sleuth serve retrieval --index hotpot-index --port 8000",
    )
    parser.add_argument("--index", type=str, required=True, help="index directory")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from sleuth.errors import ConfigError

    raise ConfigError("the retrieval server is not built yet")
