"""``sleuth eval replay-verify`` and ``sleuth eval rejudge``: recorded EvidenceLoop runs scored
again, under another verify setting (no model) or by the judge shown the evidence another way."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sleuth.cli.ask import parse_options
from sleuth.cli.judge_args import judge_flags
from sleuth.errors import ConfigError

if TYPE_CHECKING:
    from sleuth.evals.replay_verify import ReplayRow
    from sleuth.sandboxes.pages import PageStore

REPLAY_EXAMPLE = """examples:
  sleuth eval replay-verify runs/el-masked runs/el --verify hybrid --verify string --verify both
  # make a replay exact: run the questions it cannot decide, then replay with that run
  sleuth eval replay-verify runs/el --verify hybrid --option connect=true --rerun-dataset runs/el-connect.jsonl
  sleuth eval run --dataset runs/el-connect.jsonl --method evidence-loop --option connect=true ... --out runs/el-connect
  sleuth eval replay-verify runs/el --verify hybrid --option connect=true --rerun runs/el-connect
  # why did the run as it was made refuse? (its own setting)
  sleuth eval replay-verify runs/el-masked runs/el --verify hybrid --why

Walks each recorded evidence-loop trace and re-runs the model-free checks with today's code,
reusing the judge verdicts the run recorded; no model is loaded. truncated: the setting
rejects an answer the run accepted, where a real run would have searched again, or would
search for another name than the run did next (counted as an abstention); undecided: the
setting needs a judge verdict the run never asked for. rerun: questions of either kind
answered by a --rerun run instead. --why: for the questions where no draft was accepted, the
check that refused the last one (name missing, string check, judge, ...), and how many of
them had a right draft refused (F1 >= 0.5) or had read all the gold evidence."""


def add_replay_verify(sub: Any) -> None:
    rep = sub.add_parser(
        "replay-verify", help="re-score evidence-loop runs under other verify settings, without a model",
        description="What would evidence-loop have answered with another verify setting? Replays "
        "recorded traces (see sleuth.evals.replay_verify).",
        epilog=REPLAY_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument("runs", nargs="+", type=Path, help="evidence-loop run directories")
    rep.add_argument("--verify", action="append", metavar="MODE",
                     help="EvidenceLoop verify setting to replay: hybrid, both, judge, string or either "
                     "(repeatable; default: hybrid, both and string)")
    rep.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="override another option of the run, e.g. connect=true")
    rep.add_argument("--sandbox", default=None, help="sandbox directory (default: the one each run used)")
    rep.add_argument("--json", action="store_true", help="print every replayed row as JSON lines")
    rep.add_argument("--why", action="store_true",
                     help="also print why questions got no verified answer: the check that refused the "
                     "last draft, and how many had a right draft refused or all gold evidence read")
    rep.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="write the replay as a run directory for sleuth eval report (one run, one --verify)")
    rep.add_argument("--rerun-dataset", type=Path, default=None, metavar="FILE",
                     help="write the questions the replay cannot decide (truncated, undecided) as a dataset "
                     "to run for real under the replayed setting (one --verify)")
    rep.add_argument("--rerun", action="append", default=[], type=Path, metavar="DIR",
                     help="an evidence-loop run of those questions made with the replayed setting: its answers "
                     "replace the replay's there (repeatable; one --verify)")
    rep.set_defaults(func=_replay_verify)


def _replay_verify(args: argparse.Namespace) -> int:
    from typing import get_args

    from sleuth.evals.replay_verify import (
        VerifyMode,
        format_refusals,
        format_summaries,
        load_rerun,
        replay_run,
        summarize,
        write_replayed_run,
    )

    modes = args.verify or ["hybrid", "both", "string"]
    if unknown := [m for m in modes if m not in get_args(VerifyMode)]:
        raise ConfigError(f"Unknown verify setting {unknown[0]!r}.", hint=f"use one of: {', '.join(get_args(VerifyMode))}")
    if (args.rerun or args.rerun_dataset) and len(modes) != 1:
        raise ConfigError("--rerun and --rerun-dataset are about one replayed setting: give one --verify.",
                          hint="sleuth eval replay-verify runs/el --verify hybrid --option connect=true --rerun runs/el-connect")
    options = parse_options(args.option)
    reruns = [load_rerun(path) for path in args.rerun]
    replays: list[tuple[Path, str, list[ReplayRow]]] = []
    if args.out is not None:
        if len(args.runs) != 1 or len(modes) != 1:
            raise ConfigError("--out writes one replayed run: give one run and one --verify setting.",
                              hint="sleuth eval replay-verify runs/el --verify hybrid --out runs/el-replayed")
        with contextlib.ExitStack() as stack:
            pages = _run_pages(args.runs[0], args.sandbox, stack, {})
            rows = write_replayed_run(args.runs[0], args.out, modes[0], pages.get, options, command=sys.argv,
                                      reruns=reruns)
        replays.append((args.runs[0], modes[0], rows))
        print(format_summaries(summarize(rows, _label(args.runs[0], modes[0]))), end="")
        if args.why:
            print("\n" + format_refusals(_labelled(replays)), end="")
        print(f"wrote {args.out} (report it with sleuth eval report)")
    else:
        summaries = []
        with contextlib.ExitStack() as stack:
            opened: dict[str, PageStore] = {}
            for run in args.runs:
                pages = _run_pages(run, args.sandbox, stack, opened)
                for mode in modes:
                    rows = replay_run(run, mode, pages.get, options, reruns)
                    replays.append((run, mode, rows))
                    if args.json:
                        for row in rows:
                            print(json.dumps({"run": str(run), "verify": mode, **row.model_dump()}))
                    summaries += summarize(rows, _label(run, mode))
        if not args.json:
            print(format_summaries(summaries), end="")
            if args.why:
                print("\n" + format_refusals(_labelled(replays)), end="")
    if args.rerun_dataset is not None:
        _write_rerun_dataset(args.rerun_dataset, replays, modes[0], options)
    return 0


def _label(run: Path, mode: str) -> str:
    """How a replay's lines name it: "MODE (RUN)"."""
    return f"{mode} ({run.name})"


def _labelled(replays: list[tuple[Path, str, list[ReplayRow]]]) -> list[tuple[str, list[ReplayRow]]]:
    return [(_label(run, mode), rows) for run, mode, rows in replays]


def _write_rerun_dataset(path: Path, replays: list[tuple[Path, str, list[ReplayRow]]], mode: str,
                         options: dict[str, Any]) -> None:
    """Write the questions the replays could not decide, and say how to run them."""
    from sleuth.evals.datasets import write_examples
    from sleuth.evals.replay_verify import RERUN_SHARES, evidence_loop_config, rerun_examples

    configs = [evidence_loop_config(run) for run, _, _ in replays]
    if differ := [f for f in RERUN_SHARES if any(getattr(c, f) != getattr(configs[0], f) for c in configs)]:
        raise ConfigError(f"The runs differ in {', '.join(differ)}, so one dataset cannot rerun them all.",
                          hint="write one --rerun-dataset for each kind of run (the masked runs and the others)")
    examples = {e.id: e for run, _, rows in replays for e in rerun_examples(run, rows)}
    write_examples(path, list(examples.values()))
    config = configs[0]
    command = ["sleuth", "eval", "run", "--dataset", str(path), "--method", "evidence-loop",
               "--engine", config.engine.kind, "--model", config.engine.model,
               *(["--base-url", config.engine.base_url] if config.engine.base_url else []),
               *judge_flags(config.engine),
               *(["--sandbox", config.sandbox] if config.sandbox else []), *(["--index", config.index] if config.index else []),
               "--follow-links", str(config.follow_links), "--mask-gold", f"{config.mask_gold:g}",
               "--mask-seed", str(config.mask_seed)]
    for key, value in {**config.options, **options, "verify": mode}.items():
        command += ["--option", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    print(f"wrote {path} ({len(examples)} questions to rerun); run them with the replayed setting:\n"
          f"  {shlex.join([*command, '--out', 'RERUN'])}\nthen replay again with --rerun RERUN")


def _run_pages(run: Path, sandbox: str | None, stack: contextlib.ExitStack[Any],
               opened: dict[str, PageStore]) -> PageStore:
    """The page store to read an evidence-loop run's passages from (``sandbox``, else the one
    the run used), opened once per sandbox for as long as ``stack`` lasts."""
    from sleuth.evals.replay_verify import evidence_loop_config
    from sleuth.sandboxes.sandbox import open_pages

    where = sandbox or evidence_loop_config(run).sandbox
    if where is None:
        raise ConfigError(f"{run} records no sandbox to read its passages from.", hint="pass --sandbox DIR")
    if where not in opened:
        opened[where] = stack.enter_context(open_pages(where))
    return opened[where]


REJUDGE_EXAMPLE = """example:
  sleuth eval rejudge runs/el-masked runs/el --input passages --input null-answer --out runs/el-rejudged.jsonl

Re-asks the judge about every draft the runs' judge said yes or no to, with the facts it was
shown then (rebuilt from the trace) or shown another way: notes (as recorded), passages (the
cited passages' text instead of the notes), null-answer (the answer replaced by "N/A", for
contextual calibration). Each answer is appended to --out as it comes; rerun the command to
resume. The table: how often a right draft (evidence present, F1 >= 0.5) scores above the
others (area under the ROC curve; 0.5 is a coin)."""


def add_rejudge(sub: Any) -> None:
    rej = sub.add_parser(
        "rejudge", help="re-ask evidence-loop's judge about recorded drafts, shown the evidence another way",
        description="How well does EvidenceLoop's judge separate right drafts from wrong and masked "
        "ones, and would another input do better? (see sleuth.evals.rejudge)",
        epilog=REJUDGE_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rej.add_argument("runs", nargs="+", type=Path, help="evidence-loop run directories")
    rej.add_argument("--input", action="append", metavar="INPUT",
                     help="what the judge is shown: notes, passages or null-answer (repeatable; default: all)")
    rej.add_argument("--out", type=Path, required=True, help="JSON lines file of P(yes) per draft (resumable)")
    rej.add_argument("--engine", default="embedded", choices=["embedded", "openai", "vllm", "scripted"])
    rej.add_argument("--model", default="qwen2.5-coder-1.5b", help="model name or GGUF path (the runs' own)")
    rej.add_argument("--base-url", default=None, help="OpenAI-compatible server (--engine openai)")
    rej.add_argument("--sandbox", default=None, help="sandbox directory (default: the one each run used)")
    rej.set_defaults(func=_rejudge)


def _rejudge(args: argparse.Namespace) -> int:
    from sleuth.evals import rejudge
    from sleuth.evals.replay_verify import read_rows
    from sleuth.evals.rundir import EngineConfig, ResultsFile
    from sleuth.evals.runner import make_engine

    inputs = args.input or list(rejudge.JUDGE_INPUTS)
    if unknown := [i for i in inputs if i not in rejudge.JUDGE_INPUTS]:
        raise ConfigError(f"Unknown judge input {unknown[0]!r}.", hint=f"use one of: {', '.join(rejudge.JUDGE_INPUTS)}")
    drafts: list[rejudge.JudgedDraft] = []
    with contextlib.ExitStack() as stack:
        opened: dict[str, PageStore] = {}
        for run in args.runs:
            pages = _run_pages(run, args.sandbox, stack, opened)
            drafts += rejudge.judged_drafts(read_rows(run), pages.get, run=str(run))
    if not drafts:
        raise ConfigError("The runs have no judged drafts with a P(yes) in their traces.",
                          hint="the judge records P(yes) only on engines with log-probabilities")
    results = ResultsFile(args.out)
    done = {rejudge.Rejudged.model_validate(r).key for r in results.recover()}
    engine = make_engine(EngineConfig(kind=args.engine, model=args.model, base_url=args.base_url))
    todo = rejudge.pending(drafts, inputs, done)
    print(f"{len(drafts)} judged drafts; {len(todo)} judgements to ask", file=sys.stderr)

    def keep(result: rejudge.Rejudged) -> None:
        results.append(result.model_dump())
        print(f"  {result.input}: {result.answer[:40]!r} P(yes) {result.p_yes}", file=sys.stderr)

    async def go() -> None:
        try:
            await rejudge.rejudge(engine, todo, keep)
        finally:
            await engine.aclose()
            results.close()

    asyncio.run(go())
    print(rejudge.format_separation(rejudge.Rejudged.model_validate(r) for r in ResultsFile(args.out).rows()), end="")
    return 0


__all__ = ["add_rejudge", "add_replay_verify"]
