"""Answer, retrieval and factorised metrics, and bootstrap confidence intervals.

Answers (SQuAD normalisation: lowercase, no punctuation, no articles, single spaces):
    em   exact match with any gold answer
    f1   token F1, best over the gold answers
    acc  a gold answer is contained in the prediction (a common lenient "accuracy")

Retrieval:
    recall      share of the gold evidence paragraphs the agent was shown during the run

Factorised, after WebDetective (each is defined only on the questions that meet its
condition; elsewhere it is ``None`` and left out of the mean):
    sufficiency   all gold evidence was retrieved or opened during the run (action log)
    utilisation   correct, given sufficiency
    refusal       abstained, given that the gold evidence was masked
    over_refusal  abstained, given that the evidence was present (not masked)
    forced        answered without the method's own finish, given that it answered

"Correct" is ``acc``. Cost per question is the run's :class:`~sleuth.types.Usage`.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from sleuth.types import StrictModel

T = TypeVar("T")

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def _f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred_tokens), overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    return max((_f1(prediction, g) for g in golds), default=0.0)


def accuracy(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when a (normalised, non-empty) gold answer appears in the normalised prediction."""
    pred = f" {normalize_answer(prediction)} "
    return float(any(
        (norm := normalize_answer(g)) and f" {norm} " in pred for g in golds
    ))


def evidence_recall(gold_ids: Iterable[str], seen_ids: Iterable[str]) -> float | None:
    """Share of gold ids among ``seen_ids``; ``None`` when there is no gold evidence."""
    gold = set(gold_ids)
    if not gold:
        return None
    return len(gold & set(seen_ids)) / len(gold)


class QuestionMetrics(StrictModel):
    em: float
    f1: float
    acc: float
    correct: bool
    abstained: bool
    masked: bool
    """The gold evidence was hidden from the agent."""
    recall: float | None = None
    sufficient: bool | None = None
    utilisation: float | None = None
    refusal: float | None = None
    over_refusal: float | None = None
    forced: float | None = None
    """1.0: answered without the method's own finish (an answer forced when Search-R1 or IRCoT
    ran out of turns, or EvidenceLoop's unverified best draft); ``None`` when it abstained or
    failed."""
    error: bool = False


def question_metrics(
    prediction: str,
    golds: Sequence[str],
    *,
    abstained: bool,
    masked: bool,
    gold_ids: Sequence[str] = (),
    seen_ids: Iterable[str] = (),
    error: bool = False,
    forced: bool = False,
) -> QuestionMetrics:
    """Every per-question metric from the prediction and what the agent was shown."""
    acc = 0.0 if abstained else accuracy(prediction, golds)
    recall = evidence_recall(gold_ids, seen_ids)
    sufficient = None if recall is None else recall == 1.0
    return QuestionMetrics(
        em=0.0 if abstained else exact_match(prediction, golds),
        f1=0.0 if abstained else f1_score(prediction, golds),
        acc=acc,
        correct=acc == 1.0,
        abstained=abstained,
        masked=masked,
        recall=recall,
        sufficient=sufficient,
        utilisation=acc if sufficient else None,
        refusal=float(abstained) if masked else None,
        over_refusal=None if masked else float(abstained),
        forced=None if abstained or error else float(forced),
        error=error,
    )


class Interval(StrictModel):
    """A mean with its bootstrap confidence interval over ``n`` questions."""

    mean: float | None
    lo: float | None
    hi: float | None
    n: int

    def format(self, digits: int = 3, scale: float = 1.0) -> str:
        if self.mean is None or self.lo is None or self.hi is None:
            return "n/a"
        m, lo, hi = self.mean * scale, self.lo * scale, self.hi * scale
        return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def bootstrap_ci(
    values: Sequence[float | None],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap CI of the mean of the non-``None`` values (fixed seed)."""
    data = np.asarray([float(v) for v in values if v is not None], dtype=np.float64)
    if data.size == 0:
        return Interval(mean=None, lo=None, hi=None, n=0)
    idx = _resample(data.size, resamples, seed)
    lo, hi = _percentiles(data[idx].mean(axis=1), confidence)
    return Interval(mean=float(data.mean()), lo=lo, hi=hi, n=int(data.size))


def bootstrap_ratio_ci(
    values: Sequence[float],
    baseline: Sequence[float],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Paired percentile bootstrap CI of ``sum(values) / sum(baseline)``: both lists hold one
    value per question, in the same order, and each resample draws the same questions from
    both. Resamples whose baseline sums to zero are left out; the mean is ``None`` when the
    baseline's own sum is zero."""
    run = np.asarray(values, dtype=np.float64)
    base = np.asarray(baseline, dtype=np.float64)
    if run.shape != base.shape:
        raise ValueError(f"paired values need equal lengths, got {run.size} and {base.size}")
    if run.size == 0 or base.sum() <= 0:
        return Interval(mean=None, lo=None, hi=None, n=int(run.size))
    idx = _resample(run.size, resamples, seed)
    sums = base[idx].sum(axis=1)
    keep = sums > 0
    lo, hi = _percentiles(run[idx].sum(axis=1)[keep] / sums[keep], confidence)
    return Interval(mean=float(run.sum() / base.sum()), lo=lo, hi=hi, n=int(run.size))


def bootstrap_statistic(
    items: Sequence[T],
    statistic: Callable[[list[T]], float | None],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap CI of any ``statistic`` of ``items`` (an AUC over labelled
    scores, say), resampling the items with :func:`bootstrap_ci`'s fixed-seed draws;
    resamples where the statistic is ``None`` are left out."""
    if not items:
        return Interval(mean=None, lo=None, hi=None, n=0)
    values = [statistic([items[i] for i in row]) for row in _resample(len(items), resamples, seed)]
    kept = np.asarray([v for v in values if v is not None], dtype=np.float64)
    lo, hi = _percentiles(kept, confidence) if kept.size else (None, None)
    return Interval(mean=statistic(list(items)), lo=lo, hi=hi, n=len(items))


def _resample(size: int, resamples: int, seed: int) -> npt.NDArray[np.int64]:
    """``resamples`` rows of ``size`` indices drawn with replacement (fixed seed)."""
    return np.random.default_rng(seed).integers(0, size, size=(resamples, size))


def _percentiles(statistics: npt.NDArray[np.float64], confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of the resampled ``statistics``."""
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(statistics, [tail, 100 - tail])
    return float(lo), float(hi)


ANSWER_METRICS = ("acc", "em", "f1")
FACTORISED_METRICS = ("recall", "sufficient", "utilisation", "refusal", "over_refusal", "forced")
COST_METRICS = ("llm_calls", "prompt_tokens", "completion_tokens", "searches", "opens", "wall_s")


__all__ = [
    "ANSWER_METRICS",
    "COST_METRICS",
    "FACTORISED_METRICS",
    "Interval",
    "QuestionMetrics",
    "accuracy",
    "bootstrap_ci",
    "bootstrap_ratio_ci",
    "bootstrap_statistic",
    "evidence_recall",
    "exact_match",
    "f1_score",
    "normalize_answer",
    "question_metrics",
]
