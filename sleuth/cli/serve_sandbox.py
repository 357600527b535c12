"""``sleuth serve sandbox``: the sandbox tools over HTTP (JSON, OpenAPI), on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXAMPLE = """example:
  sleuth serve sandbox --sandbox runs/sandbox-hotpotqa --port 8765
  curl -s -X POST localhost:8765/sessions -H 'content-type: application/json' -d '{}'
  curl -s -X POST localhost:8765/sessions/SID/search -d '{"query": "Sampha", "k": 3}' \\
       -H 'content-type: application/json'
  API spec: http://127.0.0.1:8765/docs and /openapi.json"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a sandbox's search/open/find tools as a JSON API",
        description="Serve a sandbox's tools (search, open, find) over HTTP as a JSON API "
        "with sessions; each session has its own action log and evidence mask.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sandbox", type=Path, required=True,
                        help="sandbox directory (sleuth sandbox build) or a bare index directory")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--max-sessions", type=int, default=1000,
                        help="refuse new sessions beyond this many (default 1000)")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from sleuth._optional import require
    from sleuth.sandboxes.sandbox import Sandbox
    from sleuth.sandboxes.server import create_app

    uvicorn = require("uvicorn", "server", purpose="the sandbox server")
    sandbox = Sandbox.load(args.sandbox)
    app = create_app(sandbox, max_sessions=args.max_sessions)
    m = sandbox.manifest
    print(f"serving sandbox {sandbox.path} ({m.n_pages} pages, {m.n_paragraphs} paragraphs) "
          f"on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
