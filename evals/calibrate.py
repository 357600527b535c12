"""Calibrate EvidenceLoop's support judge for a model on a tuning split.

``sleuth eval calibrate-judge --dataset hotpotqa-tune --limit 16 --out runs/judge``

1. **Cases** (appended to ``OUT/cases.jsonl`` one question at a time, so a killed run
   resumes): for each question, the loop's own note and draft steps over the top-k
   passages for the question, once with the gold evidence visible and once with it hidden.
2. **Labelled pairs**: *correct* = the visible-evidence facts with the draft written from
   them when it matches a gold answer (F1 >= 0.5), else with the gold answer when the facts
   contain it; *wrong* = the hidden-evidence facts with the draft written from them when it
   is a wrong answer (F1 < 0.5, not "unknown"), and the visible facts with that wrong draft
   when they contain it.
3. **Scores**: the judge's P(yes) on every pair (``OUT/scores.jsonl``) and, for each
   threshold, how many correct pairs it accepts and wrong pairs it rejects, alone and
   together with the loop's string check (run on the facts; not applied to yes/no answers),
   combined as ``verify="both"`` combines them. Pick ``judge_min_p_yes`` from that table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleuth.agents.answers import YES_NO, is_non_answer
from sleuth.agents.evidence import normalize_answer
from sleuth.agents.evidence_steps import EvidenceAgent, EvidenceLoopOptions, combine, p_yes
from sleuth.agents.ledger import EvidenceLedger, answer_in_text
from sleuth.agents.recorder import StepRecorder
from sleuth.atomic import write_text_atomic
from sleuth.engines.base import LLMEngine
from sleuth.evals.datasets import EvalExample
from sleuth.evals.metrics import f1_score
from sleuth.evals.rejudge import separation
from sleuth.sandboxes.sandbox import Sandbox
from sleuth.types import Usage

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


@dataclass
class Pair:
    question: str
    facts: str
    answer: str
    correct: bool


async def write_cases(engine: LLMEngine, sandbox: Sandbox, examples: list[EvalExample], out: Path,
                      options: EvidenceLoopOptions | None = None, *, progress: bool = True) -> Path:
    """Note and draft each question with its gold visible and hidden; resumable."""
    opts = options or EvidenceLoopOptions()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "cases.jsonl"
    done = {json.loads(line)["id"] for line in path.open(encoding="utf-8")} if path.exists() else set()
    for i, example in enumerate(examples, 1):
        if example.id in done:
            continue
        row: dict[str, Any] = {"id": example.id, "question": example.question, "gold": example.answers}
        for kind, hidden in (("visible", False), ("hidden", True)):
            view = sandbox.view(hide_ids=example.gold_ids if hidden else [],
                                hide_titles=example.gold_titles if hidden else [])
            agent = EvidenceAgent(StepRecorder(engine, view.retriever()), opts)
            usage = Usage()
            hits = await view.hits(example.question[: opts.max_question_chars], opts.top_k)
            note, _ = await agent.note(example.question, hits, 0, usage)
            ledger = EvidenceLedger()
            ledger.add(note, [h.passage for h in hits])
            draft, _ = await agent.draft(example.question, ledger, [h.passage for h in hits], usage)
            row[kind] = {"facts": ledger.facts_text(), "draft": draft, "ids": [h.passage.id for h in hits]}
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        if progress:
            print(f"[{i}/{len(examples)}] {example.id}: visible {row['visible']['draft']!r}, "
                  f"hidden {row['hidden']['draft']!r}, gold {example.answers[0]!r}", flush=True)
    return path


def _string_check(facts: str, answer: str) -> bool | None:
    """The loop's string check, on the facts: ``None`` (not applicable) for yes/no answers."""
    return None if normalize_answer(answer) in YES_NO else answer_in_text(answer, facts)


def labelled_pairs(cases_path: Path) -> list[Pair]:
    """The correct and wrong (facts, answer) pairs of the module docstring."""
    pairs: list[Pair] = []
    for line in cases_path.open(encoding="utf-8"):
        row = json.loads(line)
        gold, question = row["gold"], row["question"]
        visible, hidden = row["visible"], row["hidden"]
        draft = visible["draft"]
        if visible["facts"] and draft and not is_non_answer(draft) and f1_score(draft, gold) >= 0.5:
            pairs.append(Pair(question, visible["facts"], draft, True))
        elif visible["facts"] and any(answer_in_text(g, visible["facts"]) for g in gold):
            pairs.append(Pair(question, visible["facts"], gold[0], True))
        wrong = hidden["draft"]
        if wrong and not is_non_answer(wrong) and f1_score(wrong, gold) < 0.5:
            if hidden["facts"]:
                pairs.append(Pair(question, hidden["facts"], wrong, False))
            if answer_in_text(wrong, visible["facts"]):
                pairs.append(Pair(question, visible["facts"], wrong, False))
    return pairs


async def score_pairs(engine: LLMEngine, pairs: list[Pair], out: Path,
                      options: EvidenceLoopOptions | None = None) -> list[float]:
    """The judge's P(yes) for each pair, as the loop asks it (written to ``OUT/scores.jsonl``)."""
    opts = options or EvidenceLoopOptions()
    agent = EvidenceAgent(StepRecorder(engine, None), opts)
    scores = []
    for pair in pairs:
        response = await engine.generate(agent.judge_request(pair.question, pair.facts, pair.answer))
        prob = p_yes(response)
        scores.append(0.0 if prob is None else prob)
    write_text_atomic(out / "scores.jsonl", (json.dumps({**pair.__dict__, "p_yes": s}) + "\n"
                                              for pair, s in zip(pairs, scores, strict=True)))
    return scores


def threshold_table(pairs: list[Pair], scores: list[float],
                    thresholds: tuple[float, ...] = THRESHOLDS) -> list[dict[str, Any]]:
    """Per threshold: correct pairs accepted and wrong pairs rejected, by the judge alone and
    with the string check."""
    rows = []
    n_correct = sum(p.correct for p in pairs)
    for tau in thresholds:
        judge = [s >= tau for s in scores]
        both = [combine("both", "yes" if j else "no", _string_check(p.facts, p.answer))
                for j, p in zip(judge, pairs, strict=True)]
        rows.append({
            "threshold": tau, "correct": n_correct, "wrong": len(pairs) - n_correct,
            "judge_accepts_correct": sum(j for j, p in zip(judge, pairs, strict=True) if p.correct),
            "judge_rejects_wrong": sum(not j for j, p in zip(judge, pairs, strict=True) if not p.correct),
            "both_accepts_correct": sum(b for b, p in zip(both, pairs, strict=True) if p.correct),
            "both_rejects_wrong": sum(not b for b, p in zip(both, pairs, strict=True) if not p.correct),
        })
    return rows


def judge_separation(pairs: list[Pair], scores: list[float]) -> float | None:
    """How often the judge gives a correct pair a higher P(yes) than a wrong one (the area
    under the ROC curve, ties half; 0.5 is a coin): one number to compare judges by on the
    same cases. None without both kinds of pair."""
    return separation((pair.correct, score) for pair, score in zip(pairs, scores, strict=True))


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = ["threshold  judge: accepts correct  rejects wrong   judge+string: accepts correct  rejects wrong"]
    for r in rows:
        lines.append(f"{r['threshold']:>9}  {r['judge_accepts_correct']:>14}/{r['correct']:<8}"
                     f"{r['judge_rejects_wrong']:>6}/{r['wrong']:<10}"
                     f"{r['both_accepts_correct']:>21}/{r['correct']:<8}{r['both_rejects_wrong']:>6}/{r['wrong']}")
    return "\n".join(lines)


__all__ = ["Pair", "format_table", "judge_separation", "labelled_pairs", "score_pairs", "threshold_table",
           "write_cases"]
