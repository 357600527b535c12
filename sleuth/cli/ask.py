"""``sleuth ask``: answer one question with a reasoning graph over an index."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from sleuth.cli.judge_args import add_judge_arguments, judge_settings
from sleuth.config import SleuthSettings
from sleuth.errors import ConfigError
from sleuth.types import Answer


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="answer a question with a reasoning graph over an index",
        description="Answer a question: the model reasons, searches the index, and answers "
        "with citations. Prints the answer, its citations and a readable trace.",
        epilog='example: sleuth ask "Which school did the engineer the Eiffel Tower is named '
        'after graduate from?" --index demo/index --max-turns 4',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("question", help="the question")
    parser.add_argument("--index", type=Path, required=True, help="index directory (sleuth index build)")
    parser.add_argument("--method", default="search-r1", help="reasoning graph (default: search-r1)")
    parser.add_argument("--engine", choices=["embedded", "openai", "vllm"], help="LLM backend")
    parser.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", help="embedded model name or GGUF path, or the served model name")
    parser.add_argument("--config", type=Path, help="settings TOML (see sleuth.config)")
    add_judge_arguments(parser, ["embedded", "openai", "vllm"])
    parser.add_argument("--max-turns", type=int, help="model turns before an answer is forced")
    parser.add_argument("--top-k", type=int, help="passages per search")
    parser.add_argument("--follow-links", type=int, default=0, metavar="N",
                        help="each search also returns up to N pages that the question or its hits "
                        "name by title (reads the index's titles once at start)")
    parser.add_argument("--option", "--set", dest="option", action="append", default=[], metavar="KEY=VALUE",
                        help="other method option, value parsed as JSON when it can be, e.g. "
                        "--option on_unsupported=best-draft (repeatable; --set is the old name)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def method_options(args: argparse.Namespace) -> dict[str, Any]:
    options = parse_options(args.option)
    if args.max_turns is not None:
        options["max_turns"] = args.max_turns
    if args.top_k is not None:
        options["top_k"] = args.top_k
    return options


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs as a dict; a value is JSON when it parses as JSON
    (``top_k=5``, ``gate='{"kind": "agreement"}'``), else the string itself."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"--option {pair!r} is not KEY=VALUE.", hint="e.g. --option top_k=5")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def engine_settings(args: argparse.Namespace) -> SleuthSettings:
    settings = SleuthSettings.load(args.config)
    engine = settings.engine
    updates: dict[str, Any] = {}
    if args.engine:
        updates["kind"] = args.engine
    if args.base_url:
        updates["base_url"] = args.base_url
        updates.setdefault("kind", "openai" if not args.engine else args.engine)
    if args.model:
        updates["model"] = args.model
    return judge_settings(args, settings.model_copy(update={"engine": engine.model_copy(update=updates)}))


async def _answer(args: argparse.Namespace) -> Answer:
    from sleuth.engines.factory import create_routed_engine
    from sleuth.graphs.registry import ask, make_options
    from sleuth.retrieval.base import Retriever
    from sleuth.retrieval.index import load_index

    options = make_options(args.method, method_options(args))
    if args.follow_links < 0:
        raise ConfigError(f"--follow-links must be 0 or more, got {args.follow_links}.")
    index = load_index(args.index)
    retriever: Retriever = index
    if args.follow_links:
        from sleuth.sandboxes.links import LinkedRetriever, store_links

        linker, first_paragraph = store_links(index.store)
        retriever = LinkedRetriever(index, linker, first_paragraph, args.follow_links)
    settings = engine_settings(args)
    engine = create_routed_engine(settings.engine, settings.roles, cache_dir=settings.cache_dir)
    try:
        answer: Answer = await ask(args.question, engine=engine, retriever=retriever,
                         method=args.method, options=options)
        return answer
    finally:
        await engine.aclose()
        await retriever.aclose()


def run(args: argparse.Namespace) -> int:
    answer = asyncio.run(_answer(args))
    if args.json:
        print(json.dumps(answer.to_json_dict(), ensure_ascii=False))
    else:
        print_answer(answer, sys.stdout)
    return 0


def print_answer(answer: Answer, out: Any) -> None:
    """A readable trace: each step with its timing and tokens, then answer and citations."""
    w = out.write
    w(f"Question: {answer.question}\n\n")
    for event in answer.trace:
        cost = f"{event.duration_s:5.1f}s"
        if event.prompt_tokens or event.completion_tokens:
            cost += f", {event.prompt_tokens}+{event.completion_tokens} tok"
        if event.type == "think":
            w(f"  think  ({cost}) {_short(event.text, 300)}\n")
        elif event.type == "search":
            w(f"  search ({cost}) {event.query!r}\n")
            for pid, title, score in zip(event.ids, event.titles, event.scores):
                w(f"           {score:7.3f}  [{pid}] {title}\n")
        elif event.type == "error":
            w(f"  error  {event.message}\n")
        elif event.type == "note":
            w(f"  {event.kind:<6} ({cost}) {_short(event.text, 300)}\n")
    u = answer.usage
    w(f"\nAnswer: {answer.text or '(abstained)'}\n")
    if answer.abstained and answer.abstain_reason:
        w(f"  reason: {answer.abstain_reason}\n")
    for c in answer.citations:
        w(f"  cites [{c.id}] {c.title}\n")
    w(f"\n{u.llm_calls} LLM calls, {u.prompt_tokens} prompt + {u.completion_tokens} completion "
      f"tokens, {u.searches} searches, {u.wall_s:.1f}s\n")


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
