"""``sleuth eval run|report|list|calibrate-judge|tune-gate|replay-verify|rejudge``: resumable
evaluation runs, their reports, calibration of EvidenceLoop's judge, offline tuning of the
gate and offline re-scoring of EvidenceLoop's verification and its judge."""

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
from sleuth.cli.judge_args import add_judge_arguments, judge_engine_config
from sleuth.errors import ConfigError

if TYPE_CHECKING:
    from sleuth.evals.replay_verify import ReplayRow
    from sleuth.evals.rundir import EngineConfig
    from sleuth.sandboxes.pages import PageStore

RUN_EXAMPLE = """examples:
  sleuth eval run --dataset hotpotqa-random --method search-r1 --limit 100 --out runs/sr1
  sleuth eval run --dataset hotpotqa-random --method search-r1 --limit 100 --out runs/sr1 --resume
  sleuth eval run --dataset hotpotqa-sandbox --method standard-rag --mask-gold 0.3 \\
      --engine openai --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-7B-Instruct \\
      --concurrency 16 --option top_k=5 --out runs/rag-masked
  # one dataset on two processes (questions 1-50 and 51-100), then one report row:
  sleuth eval run --dataset hotpotqa-random --method ircot --limit 50 --out runs/ircot-1
  sleuth eval run --dataset hotpotqa-random --method ircot --skip 50 --limit 50 --out runs/ircot-51
  sleuth eval report runs/ircot-1+runs/ircot-51 --out docs/results/ircot

Each finished question is appended to OUT/results.jsonl at once; a killed run continues
with --resume and never repeats or loses a finished question; --resume with a larger
--limit grows a run to more questions. --engine scripted is a
deterministic test double (no model; its scores mean nothing)."""

REPORT_EXAMPLE = """example:
  sleuth eval report runs/no-retrieval runs/standard-rag runs/search-r1 --out docs/results/baseline
  (writes docs/results/baseline.md and docs/results/baseline.html)"""


EVAL_EXAMPLE = """example:
  sleuth eval list
  sleuth eval run --dataset hotpotqa-random --method search-r1 --limit 100 --out runs/sr1
  sleuth eval report runs/sr1 --out docs/results/sr1"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval", help="run and report evaluations",
        description="Run a method over a dataset inside a sandbox, and report the results.",
        epilog=EVAL_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="ACTION", required=True)
    _add_run(sub)
    report = sub.add_parser(
        "report", help="Markdown + self-contained HTML report of one or more runs",
        description="Compare runs: a method x metric table with 95% bootstrap CIs, accuracy "
        "against cost, histograms of turns and searches, and browsable per-question traces.",
        epilog=REPORT_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("runs", nargs="+", type=Path,
                        help="run directories (sleuth eval run --out); join runs of one configuration on "
                             "different questions into one row with + (runs/q1-50+runs/q51-100)")
    report.add_argument("--out", type=Path, required=True,
                        help="report path without suffix; writes OUT.md and OUT.html")
    report.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    report.add_argument("--shared", action="store_true",
                        help="only the questions every run answered (compare partial runs fairly)")
    report.add_argument("--baseline", type=Path, default=None, metavar="RUN",
                        help="one of the runs: add each other run's F1 against it, paired over their "
                             "shared questions (ratio and change with 95%% CIs, questions better and worse)")
    report.set_defaults(func=_report)
    listing = sub.add_parser("list", help="list datasets and methods",
                             description="List the datasets and methods an eval can use.",
                             epilog="example: sleuth eval list")
    listing.add_argument("--data-dir", default=None, help="shared data folder")
    listing.set_defaults(func=_list)
    _add_calibrate(sub)
    _add_tune_gate(sub)
    _add_replay_verify(sub)
    _add_rejudge(sub)


def _add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run", help="run a method over a dataset (resumable)",
        description="Run a registered method over a dataset inside a sandbox, concurrently, "
        "appending each question's result, trace and action log to OUT/results.jsonl.",
        epilog=RUN_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--dataset", required=True, help="dataset name (sleuth eval list) or .jsonl")
    run.add_argument("--method", required=True, help="registered method (sleuth eval list)")
    run.add_argument("--out", type=Path, required=True, help="run directory")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in --out (a larger --limit grows it)")
    run.add_argument("--retry-errors", action="store_true",
                     help="with --resume, also rerun questions whose result is an error (the "
                     "error line stays in the file; reports use the newest line per question)")
    run.add_argument("--limit", type=int, default=None, help="first N questions only")
    run.add_argument("--skip", type=int, default=0, metavar="N",
                     help="leave out the first N questions (with --limit: questions N+1 to "
                     "N+limit), to share a dataset between processes")
    run.add_argument("--concurrency", type=int, default=1, help="questions in flight (default 1)")
    run.add_argument("--mask-gold", type=float, default=0.0, metavar="FRACTION",
                     help="hide the gold evidence of this share of questions (refusal test)")
    run.add_argument("--mask-seed", type=int, default=0, help="seed of the masking draw")
    run.add_argument("--engine", default="embedded",
                     choices=["embedded", "openai", "vllm", "scripted"],
                     help="LLM backend; scripted is a test double")
    run.add_argument("--model", default="qwen2.5-coder-1.5b", help="model name or GGUF path")
    run.add_argument("--base-url", default=None, help="OpenAI-compatible server (--engine openai)")
    add_judge_arguments(run, ["embedded", "openai", "vllm", "scripted"])
    run.add_argument("--sandbox", default=None, help="sandbox directory (default: the dataset's "
                     "corpus, built once into the cache)")
    run.add_argument("--index", default=None, help="a bare retrieval index instead of a sandbox")
    run.add_argument("--follow-links", type=int, default=0, metavar="N",
                     help="each search also returns up to N pages that the query or its hits "
                     "name by title, as a reader follows links (default 0: plain search)")
    run.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="method option, value parsed as JSON when it can be (repeatable)")
    run.add_argument("--timeout", type=float, default=600.0, help="seconds per question")
    run.add_argument("--data-dir", default=None, help="shared data folder")
    run.add_argument("--scripted-delay", type=float, default=0.0, help=argparse.SUPPRESS)
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)


CALIBRATE_EXAMPLE = """example:
  sleuth eval calibrate-judge --dataset hotpotqa-random-tune --limit 16 --sandbox runs/sandbox-hotpotqa \\
      --model qwen2.5-coder-1.5b --out runs/judge-1.5b

Writes OUT/cases.jsonl (resumable), OUT/scores.jsonl and OUT/thresholds.json, and prints how
many correct and wrong answers each judge_min_p_yes accepts. Use a tuning split, never the
questions you report."""


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


def _add_replay_verify(sub: Any) -> None:
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
               *_judge_flags(config.engine),
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


def _add_rejudge(sub: Any) -> None:
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


def _add_calibrate(sub: Any) -> None:
    cal = sub.add_parser(
        "calibrate-judge", help="tune evidence-loop's judge_min_p_yes for a model",
        description="Score EvidenceLoop's support judge on correct and wrong answers drawn from "
        "a tuning split, with the gold evidence visible and hidden, and print the trade-off of "
        "each threshold.",
        epilog=CALIBRATE_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cal.add_argument("--dataset", default="hotpotqa-random-tune", help="dataset with gold evidence ids")
    cal.add_argument("--limit", type=int, default=16, help="first N questions")
    cal.add_argument("--out", type=Path, required=True, help="output directory (resumable)")
    cal.add_argument("--engine", default="embedded", choices=["embedded", "openai", "vllm", "scripted"])
    cal.add_argument("--model", default="qwen2.5-coder-1.5b", help="model name or GGUF path")
    cal.add_argument("--base-url", default=None, help="OpenAI-compatible server (--engine openai)")
    cal.add_argument("--sandbox", default=None, help="sandbox directory (default: the dataset's corpus)")
    cal.add_argument("--data-dir", default=None, help="shared data folder")
    cal.set_defaults(func=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    from sleuth.atomic import write_text_atomic
    from sleuth.errors import EvalError
    from sleuth.evals import calibrate
    from sleuth.evals.datasets import load_dataset
    from sleuth.evals.rundir import EngineConfig, RunConfig
    from sleuth.evals.runner import make_engine, open_sandbox

    dataset = load_dataset(args.dataset, data_dir=args.data_dir, limit=args.limit)
    if not any(e.gold_ids for e in dataset.examples):
        raise EvalError(f"Dataset {dataset.name} has no gold evidence ids to hide.",
                        hint="use hotpotqa-random-tune or another dataset with gold paragraphs")
    config = RunConfig(dataset=args.dataset, method="evidence-loop", sandbox=args.sandbox,
                       engine=EngineConfig(kind=args.engine, model=args.model, base_url=args.base_url),
                       data_dir=args.data_dir)
    sandbox = open_sandbox(config, dataset, progress=True)
    if sandbox is None:
        raise EvalError(f"Dataset {dataset.name} has no corpus; pass --sandbox.")
    engine = make_engine(config.engine)

    async def go() -> list[dict[str, Any]]:
        try:
            cases = await calibrate.write_cases(engine, sandbox, dataset.examples, args.out)
            pairs = calibrate.labelled_pairs(cases)
            if not pairs:
                raise EvalError("No labelled pairs: no question gave a usable correct or wrong answer.",
                                hint="raise --limit")
            scores = await calibrate.score_pairs(engine, pairs, args.out)
            return calibrate.threshold_table(pairs, scores)
        finally:
            await sandbox.aclose()
            await engine.aclose()

    table = asyncio.run(go())
    write_text_atomic(args.out / "thresholds.json", json.dumps(table, indent=2))
    print(calibrate.format_table(table))
    return 0


TUNE_GATE_EXAMPLE = """example:
  sleuth eval run --dataset hotpotqa-random-tune --limit 200 --method adaptive-rag \\
      --option gate='{"kind": "record", "samples": 8}' --out runs/gate-tune
  sleuth eval run --dataset hotpotqa-random-tune --limit 200 --method standard-rag --out runs/rag-tune
  sleuth eval tune-gate --signals runs/gate-tune --reference runs/rag-tune \\
      --check-signals runs/gate-test --check-reference runs/rag-test

The record gate answers every question with its draft and records the draft's token
probabilities and samples; every built-in gate and threshold is then scored from the two
runs without a model. The chosen gate is the one that cuts the most searches within
--max-loss F1 points on the tuning runs; report its row on the check runs. With a few
hundred questions one split is noisy: --folds 5 also scores every question (tuning and check)
by the gate chosen on the other four fifths."""


def _add_tune_gate(sub: Any) -> None:
    tune = sub.add_parser(
        "tune-gate", help="choose a retrieve-or-answer gate from recorded draft signals",
        description="Score every built-in retrieve-or-answer gate and threshold offline, from a "
        "run that recorded draft signals and an always-retrieve run over the same questions.",
        epilog=TUNE_GATE_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tune.add_argument("--signals", type=Path, required=True,
                      help="run with recorded gate signals (gate kind 'record') on the tuning split")
    tune.add_argument("--reference", type=Path, required=True,
                      help="always-retrieve run (standard-rag) on the same questions")
    tune.add_argument("--check-signals", type=Path, default=None,
                      help="the same two runs on held-out questions (tuning questions are left out)")
    tune.add_argument("--check-reference", type=Path, default=None)
    tune.add_argument("--max-loss", type=float, default=1.0, help="F1 points the gate may lose (default 1)")
    tune.add_argument("--max-calls", type=int, default=None,
                      help="only gates that spend at most this many engine calls before deciding "
                      "(1: the draft alone, no sampled drafts)")
    tune.add_argument("--folds", type=int, default=None,
                      help="also cross-validate the choice over every question given (tuning and "
                      "check runs): each is scored by the gate chosen on the other K-1 folds")
    tune.add_argument("--out", type=Path, default=None, help="write every score as JSON here")
    tune.set_defaults(func=_tune_gate)


def _tune_gate(args: argparse.Namespace) -> int:
    from sleuth.agents.gate import GateOptions
    from sleuth.atomic import write_text_atomic
    from sleuth.evals import gate_tune
    from sleuth.evals.report import load_run

    if (args.check_signals is None) != (args.check_reference is None):
        raise ConfigError("--check-signals and --check-reference go together.")

    tuning = gate_tune.load_cases(load_run(args.signals).rows, load_run(args.reference).rows)
    tuned = [gate_tune.score_gate(o, tuning) for o in gate_tune.candidate_gates(tuning)]
    print(f"Tuning runs ({len(tuning)} questions); gates no other beats on both cut and F1:")
    print(gate_tune.format_scores(gate_tune.pareto(tuned)))
    best = gate_tune.choose(tuned, args.max_loss / 100, max_calls=args.max_calls)
    calls = "" if args.max_calls is None else f" and {args.max_calls} engine calls"
    if best is None:
        print(f"\nNo gate stays within {args.max_loss:g} F1 points of always retrieving{calls}.")
    else:
        print(f"\nChosen (most searches cut within {args.max_loss:g} F1 points{calls}): "
              f"{gate_tune.describe(best.options)}")
        print(f"  --option gate='{json.dumps(best.options)}'")
    checked: list[gate_tune.GateScore] = []
    held_out: list[gate_tune.GateCase] = []
    # the check runs serve the chosen gate's check and the cross-validation; with neither, skip them
    if args.check_signals is not None and (best is not None or args.folds is not None):
        cases = gate_tune.load_cases(load_run(args.check_signals).rows, load_run(args.check_reference).rows)
        held_out = gate_tune.held_out(cases, tuning)
        skipped = len(cases) - len(held_out)
        if best is not None:
            checked = [gate_tune.score_gate(GateOptions(**best.options), held_out)]
            print(f"\nHeld out ({checked[0].questions} questions"
                  f"{f'; {skipped} used for tuning left out' if skipped else ''}):")
            print(gate_tune.format_scores(checked))
    cv = None
    if args.folds is not None:
        cv = gate_tune.cross_validate(tuning + held_out, folds=args.folds, max_loss=args.max_loss / 100,
                                      max_calls=args.max_calls)
        print(f"\nCross-validated ({cv.held_out.questions} questions, {args.folds} folds; each fold "
              "scored by the gate chosen on the others):")
        for fold, options in enumerate(cv.chosen):
            print(f"  fold {fold}: {'none within budget (retrieves)' if options is None else gate_tune.describe(options)}")
        print(gate_tune.format_scores([cv.held_out]))
    if args.out is not None:
        payload = {"max_loss": args.max_loss, "max_calls": args.max_calls, "tuning": [s.as_json() for s in tuned],
                   "chosen": None if best is None else best.options,
                   "check": [s.as_json() for s in checked]}
        if cv is not None:
            payload["cross_validation"] = {"folds": args.folds, "chosen": cv.chosen,
                                           "held_out": cv.held_out.as_json()}
        write_text_atomic(args.out, json.dumps(payload, indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from sleuth.evals.rundir import EngineConfig, RunConfig
    from sleuth.evals.runner import run_eval

    try:
        config = RunConfig(
            dataset=args.dataset, method=args.method, options=parse_options(args.option),
            limit=args.limit, skip=args.skip, mask_gold=args.mask_gold, mask_seed=args.mask_seed,
            follow_links=args.follow_links,
            engine=judge_engine_config(args, EngineConfig(
                kind=args.engine, model=args.model, base_url=args.base_url, scripted_delay_s=args.scripted_delay)),
            sandbox=args.sandbox, index=args.index, timeout_s=args.timeout,
            concurrency=args.concurrency, data_dir=args.data_dir,
        )
    except ValidationError as exc:
        raise ConfigError(f"Invalid eval settings: {exc}") from exc
    if args.retry_errors and not args.resume:
        raise ConfigError("--retry-errors needs --resume.", hint="add --resume")
    summary = asyncio.run(run_eval(config, args.out, resume=args.resume, retry_errors=args.retry_errors,
                                   progress=not args.no_progress))
    print(f"{summary.total} questions: {summary.ran} run, {summary.skipped} already done, "
          f"{summary.errors} errors; results in {Path(summary.out_dir) / 'results.jsonl'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from sleuth.evals.report import write_report

    md, html = write_report(args.runs, args.out, resamples=args.resamples, shared=args.shared,
                            baseline=args.baseline)
    print(f"wrote {md} and {html}")
    return 0


def _judge_flags(engine: EngineConfig) -> list[str]:
    """The ``--judge-*`` flags that give a run ``engine``'s judge role again."""
    judge = engine.roles.get("judge")
    if judge is None:
        return []
    return ["--judge-engine", judge.kind, "--judge-model", judge.model,
            *(["--judge-base-url", judge.base_url] if judge.base_url else [])]


def _list(args: argparse.Namespace) -> int:
    from sleuth.evals.datasets import DATASETS, resolve_data_dir
    from sleuth.graphs.registry import get_method, list_methods

    root = resolve_data_dir(args.data_dir)
    print(f"datasets (in {root}):")
    for name, spec in sorted(DATASETS.items()):
        mark = "" if (root / spec.file).is_file() else "  [missing]"
        print(f"  {name:22s} {spec.description}{mark}")
    print("methods:")
    for name in list_methods():
        print(f"  {name:22s} {get_method(name).description}")
    sys.stdout.flush()
    return 0
