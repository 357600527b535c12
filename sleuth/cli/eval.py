"""``sleuth eval run|report|list|calibrate-judge|tune-gate|replay-verify|rejudge``: resumable
evaluation runs, their reports, calibration of EvidenceLoop's judge and offline tuning of the
gate; the offline re-scoring of EvidenceLoop's verification and its judge is in
:mod:`sleuth.cli.eval_replay`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from sleuth.cli.ask import parse_options
from sleuth.cli.eval_replay import add_rejudge, add_replay_verify
from sleuth.cli.judge_args import add_judge_arguments, judge_engine_config
from sleuth.errors import ConfigError

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
    add_replay_verify(sub)
    add_rejudge(sub)


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
many correct and wrong answers each judge_min_p_yes accepts. --model writes the notes and
drafts; --judge-model (or --judge-base-url) scores them with another judge, and rerun on the
same OUT it reuses the cases, so several judges are compared on the same drafts. Use a
tuning split, never the questions you report."""


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
    add_judge_arguments(cal, ["embedded", "openai", "vllm", "scripted"])
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
                       engine=judge_engine_config(args, EngineConfig(kind=args.engine, model=args.model,
                                                                     base_url=args.base_url)),
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
            auc = calibrate.judge_separation(pairs, scores)
            print(f"judge separation (a correct pair above a wrong one): "
                  f"{'n/a' if auc is None else f'{auc:.2f}'} over {len(pairs)} pairs")
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
