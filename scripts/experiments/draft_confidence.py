"""Is the documents draft's own token confidence a refusal signal?

EvidenceLoop's documents draft (``draft_from="documents"``) answers from the first search's
passages through standard-rag's reader prompt. This experiment asks whether the model's
confidence in that answer (the log-probabilities of its own answer tokens, a signal that
costs no extra call) tells a draft written with the gold evidence visible from one written
with it hidden, as the masked-evidence runs hide it.

    python scripts/experiments/draft_confidence.py run OUT.jsonl --limit 60 [--skip 60]
    python scripts/experiments/draft_confidence.py judge OUT.jsonl JUDGED.jsonl
    python scripts/experiments/draft_confidence.py report OUT.jsonl [MORE.jsonl ...] [--judged JUDGED.jsonl ...]

``run`` drafts each question of ``hotpotqa-random-tune`` (the tuning split) twice, over the
top-k passages with the gold paragraphs visible and hidden, and appends one row a question
(resumable). ``judge`` asks EvidenceLoop's judge about each draft that answers, shown the
passages the draft read (``rejudge``'s "passages" input), to see whether the two signals
complement each other (resumable). ``report`` prints the separation (the area under the ROC
curve, with a bootstrap interval over the drafts) of four summaries of the answer's token
log-probabilities, and of the judge's P(yes) and of both together when judged. The numbers
are in docs/methods.md ("The draft's own confidence").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sleuth.agents.answers import YES_NO, is_non_answer
from sleuth.agents.evidence import normalize_answer
from sleuth.agents.evidence_steps import EvidenceAgent, EvidenceLoopOptions, p_yes
from sleuth.agents.recorder import StepRecorder
from sleuth.evals.datasets import load_dataset
from sleuth.evals.metrics import bootstrap_statistic, f1_score
from sleuth.evals.rejudge import JudgedDraft, judge_input, separation
from sleuth.evals.rundir import EngineConfig, RunConfig
from sleuth.evals.runner import make_engine, open_sandbox

DATASET = "hotpotqa-random-tune"
SUMMARIES: dict[str, Callable[[list[float]], float]] = {
    "first token": lambda lps: lps[0],
    "least token": min,
    "mean": lambda lps: sum(lps) / len(lps),
    "sum": sum,
}


def setup(limit: int, sandbox_dir: str, model: str) -> tuple[Any, Any, Any, EvidenceAgent]:
    """The tuning split's first ``limit`` questions, its sandbox, the engine, and the loop's
    steps with the documents draft."""
    dataset = load_dataset(DATASET, limit=limit)
    config = RunConfig(dataset=DATASET, method="evidence-loop", sandbox=sandbox_dir,
                       engine=EngineConfig(kind="embedded", model=model))
    sandbox = open_sandbox(config, dataset, progress=True)
    if sandbox is None:
        raise SystemExit(f"{DATASET} has no corpus: pass --sandbox")
    engine = make_engine(config.engine)
    return dataset, sandbox, engine, EvidenceAgent(StepRecorder(engine, None), EvidenceLoopOptions(draft_from="documents"))


async def passages_read(sandbox: Any, example: Any, hidden: bool, opts: EvidenceLoopOptions) -> list[Any]:
    """The passages the first draft reads: the top-k for the question, gold visible or hidden."""
    view = sandbox.view(hide_ids=example.gold_ids if hidden else [],
                        hide_titles=example.gold_titles if hidden else [])
    hits = await view.hits(example.question[: opts.max_question_chars], opts.top_k)
    return [hit.passage for hit in hits][: opts.draft_passages]


async def run(out: Path, limit: int, skip: int, sandbox_dir: str, model: str) -> None:
    dataset, sandbox, engine, agent = setup(limit + skip, sandbox_dir, model)
    done = {json.loads(line)["id"] for line in out.open(encoding="utf-8")} if out.exists() else set()
    try:
        with out.open("a", encoding="utf-8") as handle:
            for n, example in enumerate(dataset.examples[skip:], skip + 1):
                if example.id in done:
                    continue
                row: dict[str, Any] = {"n": n, "id": example.id, "question": example.question,
                                       "gold": example.answers}
                for kind, hidden in (("visible", False), ("hidden", True)):
                    passages = await passages_read(sandbox, example, hidden, agent.opts)
                    request = agent.reader.passages_request(example.question, passages)
                    response = await engine.generate(request.model_copy(update={"logprobs": True}))
                    answer = agent.reader.read(request, response.text)
                    tokens = response.logprobs or []
                    row[kind] = {"answer": answer, "text": response.text,
                                 "lps": [t.logprob for t in tokens], "toks": [t.token for t in tokens],
                                 "f1": f1_score(answer, example.answers), "ids": [p.id for p in passages]}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                handle.flush()
                print(f"[{n}] visible {row['visible']['answer']!r}, hidden {row['hidden']['answer']!r}, "
                      f"gold {example.answers[0]!r}", flush=True)
    finally:
        await engine.aclose()
        await sandbox.aclose()


async def judge(drafted: Path, out: Path, sandbox_dir: str, model: str) -> None:
    rows = [json.loads(line) for line in drafted.open(encoding="utf-8")]
    dataset, sandbox, engine, agent = setup(max(row["n"] for row in rows), sandbox_dir, model)
    examples = {example.id: example for example in dataset.examples}
    done = {(r["id"], r["kind"]) for r in map(json.loads, out.open(encoding="utf-8"))} if out.exists() else set()
    try:
        with out.open("a", encoding="utf-8") as handle:
            for row in rows:
                for kind in ("visible", "hidden"):
                    answer = row[kind]["answer"]
                    if (row["id"], kind) in done or not answer or is_non_answer(answer):
                        continue
                    example = examples[row["id"]]
                    cited = await passages_read(sandbox, example, kind == "hidden", agent.opts)
                    if [p.id for p in cited] != row[kind]["ids"]:
                        raise SystemExit(f"{row['id']} {kind}: the search no longer finds the passages drafted from")
                    draft = JudgedDraft(run=str(drafted), id=row["id"], step=0, masked=kind == "hidden",
                                        question=row["question"], answer=answer, f1=row[kind]["f1"],
                                        recorded_p_yes=0.0, facts="", cited=cited)
                    facts, shown = judge_input(draft, "passages")
                    response = await engine.generate(agent.judge_request(row["question"], facts, shown))
                    prob = p_yes(response)
                    handle.write(json.dumps({"id": row["id"], "kind": kind, "p_yes": prob}) + "\n")
                    handle.flush()
                    print(f"[{row['n']}] {kind} {answer!r}: p_yes {prob}", flush=True)
    finally:
        await engine.aclose()
        await sandbox.aclose()


def drafts(paths: Sequence[Path], judged: dict[tuple[str, str], float | None]) -> list[dict[str, Any]]:
    """One entry a draft that answers something: kind, right (F1 >= 0.5), yes/no, summaries."""
    found = []
    for path in paths:
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            for kind in ("visible", "hidden"):
                draft = row[kind]
                lps = [lp for lp, tok in zip(draft["lps"], draft["toks"], strict=True) if tok.strip()]
                if not draft["answer"] or is_non_answer(draft["answer"]) or not lps:
                    continue
                entry = {"hidden": kind == "hidden", "right": draft["f1"] >= 0.5,
                         "yes_no": normalize_answer(draft["answer"]) in YES_NO,
                         **{name: f(lps) for name, f in SUMMARIES.items()}}
                prob = judged.get((row["id"], kind))
                if prob is not None:
                    entry["judge"] = prob
                    odds = min(max(prob, 1e-6), 1 - 1e-6)
                    entry["judge + sum"] = math.log(odds / (1 - odds)) + entry["sum"]
                found.append(entry)
    return found


def report(paths: Sequence[Path], judged_paths: Sequence[Path]) -> None:
    judged = {(r["id"], r["kind"]): r["p_yes"] for path in judged_paths
              for r in map(json.loads, path.open(encoding="utf-8"))}
    found = drafts(paths, judged)
    if judged:
        found = [d for d in found if "judge" in d]
    names = [*SUMMARIES, *(("judge", "judge + sum") if judged else ())]
    comparisons: list[tuple[str, Callable[[dict[str, Any]], bool | None]]] = [
        ("a right draft, gold visible, above any draft, gold hidden",
         lambda d: None if not d["hidden"] and not d["right"] else not d["hidden"]),
        ("any draft, gold visible, above any draft, gold hidden", lambda d: not d["hidden"]),
        ("the same, without yes/no answers", lambda d: None if d["yes_no"] else not d["hidden"]),
        ("a right draft above a wrong one", lambda d: d["right"]),
    ]
    print(f"{len(found)} drafts that answer: {sum(not d['hidden'] for d in found)} with the gold visible "
          f"({sum(d['right'] for d in found if not d['hidden'])} right), "
          f"{sum(d['hidden'] for d in found)} hidden ({sum(d['right'] for d in found if d['hidden'])} right)")
    print("| separation | drafts | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for title, label in comparisons:
        kept = [(lab, d) for d in found if (lab := label(d)) is not None]
        cells = []
        for name in names:
            labelled = [(lab, float(d[name])) for lab, d in kept]
            cells.append(bootstrap_statistic(labelled, separation, resamples=2000).format(digits=2))
        print(f"| {title} | {len(kept)} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True)
    go = actions.add_parser("run", help="draft each question with its gold visible and hidden")
    go.add_argument("out", type=Path)
    go.add_argument("--limit", type=int, default=60)
    go.add_argument("--skip", type=int, default=0)
    go.add_argument("--sandbox", default="runs/sandbox-hotpotqa")
    go.add_argument("--model", default="qwen2.5-coder-1.5b")
    ask = actions.add_parser("judge", help="ask the judge about each draft, shown its passages")
    ask.add_argument("drafted", type=Path)
    ask.add_argument("out", type=Path)
    ask.add_argument("--sandbox", default="runs/sandbox-hotpotqa")
    ask.add_argument("--model", default="qwen2.5-coder-1.5b")
    show = actions.add_parser("report", help="print the separations")
    show.add_argument("paths", type=Path, nargs="+")
    show.add_argument("--judged", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    if args.action == "run":
        asyncio.run(run(args.out, args.limit, args.skip, args.sandbox, args.model))
    elif args.action == "judge":
        asyncio.run(judge(args.drafted, args.out, args.sandbox, args.model))
    else:
        report(args.paths, args.judged)


if __name__ == "__main__":
    main()
