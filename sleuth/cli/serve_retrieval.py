"""``sleuth serve retrieval``: Search-R1's /retrieve API over an index (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retrieval",
        help="serve an index with Search-R1's /retrieve API",
        description="Serve an index over HTTP with Search-R1's API: POST /retrieve "
        '{"queries": [...], "topk": k, "return_scores": true} answers {"result": [[{"document": '
        '{"id", "contents"}, "score"}, ...]]}; GET /health reports the index and limits. '
        "Concurrent requests are micro-batched into one index call.",
        epilog="example: sleuth serve retrieval --index hotpot-index --port 8000\n"
        "         curl -s localhost:8000/retrieve -d '{\"queries\": [\"who wrote Q is for Quarry\"], "
        "\"topk\": 3, \"return_scores\": true}'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--index", required=True, help="index directory (sleuth index build)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--encoder", default=None,
                        help="refuse to start unless the index was built with this encoder")
    parser.add_argument("--max-queries", type=int, default=512, help="queries per request")
    parser.add_argument("--max-topk", type=int, default=100, help="largest topk per request")
    parser.add_argument("--max-query-chars", type=int, default=4096, help="characters per query")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from sleuth._optional import require
    from sleuth.retrieval.index import load_index
    from sleuth.retrieval.server import ServerLimits, create_app

    uvicorn = require("uvicorn", "server", purpose="the retrieval server")
    retriever = load_index(args.index, encoder=args.encoder)
    limits = ServerLimits(max_queries=args.max_queries, max_topk=args.max_topk,
                          max_query_chars=args.max_query_chars)
    app = create_app(retriever, limits, passages=len(retriever.store))
    print(f"serving {len(retriever.store)} passages ({retriever.name}) at "
          f"http://{args.host}:{args.port}/retrieve", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
