"""The ``sleuth`` command. Each subcommand lives in its own module, imported only when it runs.

A subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` (taking the parsed args, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from sleuth.errors import SleuthError, UserError

# subcommand -> (module, one-line help). Modules are imported lazily in main().
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "ask": ("sleuth.cli.ask", "answer a question with a reasoning graph over an index"),
    "index": ("sleuth.cli.index", "build and inspect retrieval indices"),
    "serve": ("sleuth.cli.serve", "serve a retrieval index or a sandbox over HTTP"),
    "sandbox": ("sleuth.cli.sandbox", "fetch and build offline Wikipedia sandboxes"),
    "eval": ("sleuth.cli.eval", "run and report evaluations"),
    "bench": ("sleuth.cli.bench", "benchmarks: retrieval, agents"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sleuth",
        description="Sleuth: agentic RAG and deep search.",
        epilog='example: sleuth ask "Who directed the film that ..." --index demo/index',
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        mod = importlib.import_module(module)
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(only=command if command in SUBCOMMANDS else None)
    args = parser.parse_args(args_list)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SleuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
