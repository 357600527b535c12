"""Each run of a report against one baseline run, paired over the questions both answered.

``sleuth eval report A B C --baseline B`` adds a table with, for every other run, its F1 and
the baseline's on their shared questions, the ratio of the two with a paired 95% bootstrap
interval (the same questions drawn from both runs in every resample), the change in F1
points with its interval, and on how many questions each run did better. This is how the
targets "F1 >= 1.2x standard-rag" are read; a ratio over different question sets, or
unpaired intervals, would overstate what a sample of 40 or 60 questions can tell apart.

A run with different masking is not compared: a masked question has no answer to score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleuth.errors import EvalError
from sleuth.evals.metrics import Interval, bootstrap_ci, bootstrap_ratio_ci
from sleuth.evals.tables import Table, change_text


@dataclass(frozen=True)
class Paired:
    """One run against the baseline on their shared questions."""

    questions: int
    score: float
    baseline: float
    ratio: Interval
    """``score / baseline`` with its paired bootstrap interval."""
    change: Interval
    """Per-question ``score - baseline``, mean and paired bootstrap interval."""
    better: int
    worse: int


def paired(rows: list[dict[str, Any]], baseline: list[dict[str, Any]], *, key: str = "f1",
           resamples: int = 1000) -> Paired | None:
    """``rows`` against ``baseline`` on ``key`` over the questions both hold (``None`` when they
    share none). Error rows count as they do in the report's table (their metric, 0)."""
    base = {r["id"]: float(r["metrics"][key]) for r in baseline}
    shared = [(float(r["metrics"][key]), base[r["id"]]) for r in rows if r["id"] in base]
    if not shared:
        return None
    run_values = [a for a, _ in shared]
    base_values = [b for _, b in shared]
    n = len(shared)
    return Paired(
        questions=n, score=sum(run_values) / n, baseline=sum(base_values) / n,
        ratio=bootstrap_ratio_ci(run_values, base_values, resamples=resamples),
        change=bootstrap_ci([a - b for a, b in shared], resamples=resamples),
        better=sum(a > b for a, b in shared), worse=sum(a < b for a, b in shared),
    )


def find_baseline(runs: list[Any], path: Path) -> Any:
    """The run of ``runs`` loaded from ``path`` (as given on the command line)."""
    for run in runs:
        if Path(run.path) == Path(path):
            return run
    raise EvalError(f"--baseline {path} is not one of the reported runs.",
                    hint="list the baseline among the runs as well, spelled the same way", path=str(path))


def _ratio(interval: Interval) -> str:
    if interval.mean is None:
        return "–"
    if interval.lo is None or interval.hi is None:
        return f"{interval.mean:.2f}x"
    return f"{interval.mean:.2f}x [{interval.lo:.2f}, {interval.hi:.2f}]"


def comparison_table(runs: list[Any], baseline: Any, *, resamples: int = 1000) -> Table:
    """Every run but ``baseline`` against it, on F1."""
    table = Table(
        f"F1 against {baseline.label}, on the questions each run shares with it. Ratio: the run's "
        "F1 over the baseline's, with a paired 95% bootstrap interval (the same questions drawn "
        "from both runs); change: F1 points per question; better and worse: questions where the "
        "run scored more or less than the baseline.",
        ["Method", "shared n", "F1", "baseline F1", "ratio [95% CI]", "change [95% CI]", "better", "worse"], [])
    mask = baseline.manifest.config.mask_gold
    for run in runs:
        if run is baseline:
            continue
        if run.manifest.config.mask_gold != mask:
            table.rows.append([run.label, "–", "–", "–", "different masking", "–", "–", "–"])
            continue
        result = paired(run.rows, baseline.rows, resamples=resamples)
        if result is None:
            table.rows.append([run.label, "0", "–", "–", "no shared question", "–", "–", "–"])
            continue
        table.rows.append([
            run.label, str(result.questions), f"{100 * result.score:.1f}", f"{100 * result.baseline:.1f}",
            _ratio(result.ratio), change_text(result.change.mean, result.change.lo, result.change.hi),
            str(result.better), str(result.worse),
        ])
    return table


__all__ = ["Paired", "comparison_table", "find_baseline", "paired"]
