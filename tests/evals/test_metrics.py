"""Metrics: SQuAD normalisation, EM/F1/accuracy, the factorised metrics and bootstrap CIs."""

from __future__ import annotations

import numpy as np
import pytest

from sleuth.evals.metrics import (
    accuracy,
    bootstrap_ci,
    bootstrap_ratio_ci,
    bootstrap_statistic,
    evidence_recall,
    exact_match,
    f1_score,
    normalize_answer,
    question_metrics,
)


def test_squad_normalisation() -> None:
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("An apple, a pear and THE plum.") == "apple pear and plum"
    assert normalize_answer("  ") == ""


def test_exact_match_f1_and_accuracy() -> None:
    golds = ["Albert Einstein", "Einstein"]
    assert exact_match("the einstein", golds) == 1.0
    assert exact_match("Einstein was first", golds) == 0.0
    assert f1_score("Albert Einstein", golds) == 1.0
    assert f1_score("physicist Albert Einstein", ["Albert Einstein"]) == pytest.approx(0.8)
    assert f1_score("Niels Bohr", golds) == 0.0
    assert f1_score("", ["x"]) == 0.0
    assert accuracy("It was Albert Einstein, in 1879.", golds) == 1.0
    assert accuracy("Einsteinium", ["Einstein"]) == 0.0  # whole tokens, not substrings
    assert accuracy("anything", ["the"]) == 0.0  # a gold that normalises to nothing never matches


def test_evidence_recall() -> None:
    assert evidence_recall(["a", "b"], ["b", "c"]) == 0.5
    assert evidence_recall([], ["a"]) is None


@pytest.mark.parametrize(
    ("pred", "abstained", "masked", "seen", "expect"),
    [
        # found everything and answered right: sufficient and utilised
        ("documentary", False, False, ["g1", "g2", "x"],
         {"sufficient": True, "utilisation": 1.0, "refusal": None, "over_refusal": 0.0}),
        # found everything, answered wrong: a utilisation failure
        ("comedy", False, False, ["g1", "g2"],
         {"sufficient": True, "utilisation": 0.0, "over_refusal": 0.0}),
        # missed one paragraph: insufficient, utilisation undefined
        ("documentary", False, False, ["g1"],
         {"sufficient": False, "utilisation": None, "recall": 0.5}),
        # evidence masked and the agent refused: a good refusal
        ("", True, True, [], {"refusal": 1.0, "over_refusal": None, "sufficient": False}),
        # evidence present but the agent refused: over-refusal
        ("", True, False, ["g1", "g2"],
         {"refusal": None, "over_refusal": 1.0, "utilisation": 0.0, "acc": 0.0}),
    ],
)
def test_factorised_metrics(
    pred: str, abstained: bool, masked: bool, seen: list[str], expect: dict[str, object]
) -> None:
    m = question_metrics(pred, ["documentary"], abstained=abstained, masked=masked,
                         gold_ids=["g1", "g2"], seen_ids=seen)
    for key, value in expect.items():
        assert getattr(m, key) == value, key


def test_abstention_scores_zero_even_if_text_matches() -> None:
    m = question_metrics("documentary", ["documentary"], abstained=True, masked=False)
    assert (m.em, m.f1, m.acc, m.correct) == (0.0, 0.0, 0.0, False)
    assert m.recall is None and m.sufficient is None
    assert m.forced is None  # defined on answered questions only


def test_forced_is_a_rate_over_the_answered_questions() -> None:
    forced = question_metrics("documentary", ["documentary"], abstained=False, masked=False, forced=True)
    plain = question_metrics("documentary", ["documentary"], abstained=False, masked=False)
    assert (forced.forced, plain.forced) == (1.0, 0.0) and forced.f1 == plain.f1 == 1.0
    failed = question_metrics("", ["documentary"], abstained=False, masked=False, error=True)
    assert failed.forced is None  # a failed question gave no answer, forced or not


def _loop_bootstrap(values: list[float], resamples: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    means = sorted(sum(values[j] for j in row) / len(values) for row in idx)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def test_bootstrap_matches_a_plain_loop_and_the_normal_approximation() -> None:
    rng = np.random.default_rng(7)
    values = [float(v) for v in rng.integers(0, 2, size=200)]
    ci = bootstrap_ci([*values, None, None], resamples=2000, seed=3)
    assert ci.n == 200 and ci.mean == pytest.approx(np.mean(values))
    lo, hi = _loop_bootstrap(values, 2000, 3)
    assert (ci.lo, ci.hi) == (pytest.approx(lo), pytest.approx(hi))
    half = 1.96 * np.sqrt(ci.mean * (1 - ci.mean) / 200)  # type: ignore[operator]
    assert (ci.hi - ci.lo) / 2 == pytest.approx(half, rel=0.15)  # type: ignore[operator]
    assert ci.lo < ci.mean < ci.hi  # type: ignore[operator]


def test_bootstrap_of_any_statistic_draws_as_bootstrap_ci_does() -> None:
    """With the mean as the statistic it gives bootstrap_ci's interval; a statistic that is
    undefined on some resamples (here: needs both labels) leaves those out."""
    values = [float(v) for v in np.random.default_rng(5).integers(0, 2, size=60)]
    mean = bootstrap_statistic(values, lambda xs: sum(xs) / len(xs), resamples=500, seed=2)
    assert mean == bootstrap_ci(values, resamples=500, seed=2)
    labelled = [(True, 0.9), (False, 0.1)]

    def both_labels(rows: list[tuple[bool, float]]) -> float | None:
        return None if len({label for label, _ in rows}) < 2 else 1.0

    ci = bootstrap_statistic(labelled, both_labels, resamples=200)
    assert (ci.mean, ci.lo, ci.hi, ci.n) == (1.0, 1.0, 1.0, 2)
    assert bootstrap_statistic([], both_labels).format() == "n/a"
    assert bootstrap_statistic([(True, 1.0)], both_labels).lo is None


def test_bootstrap_edge_cases() -> None:
    assert bootstrap_ci([None, None]).mean is None and bootstrap_ci([]).format() == "n/a"
    const = bootstrap_ci([1.0] * 10)
    assert const.lo == const.hi == const.mean == 1.0
    assert bootstrap_ci([0.0, 1.0], seed=1) == bootstrap_ci([0.0, 1.0], seed=1)
    assert bootstrap_ci([0.5, 0.25]).format(2, scale=100) == "37.50 [25.00, 50.00]"


def test_paired_ratio_bootstrap_draws_the_same_questions_from_both_runs() -> None:
    rng = np.random.default_rng(5)
    base = [float(v) for v in rng.random(60)]
    doubled = bootstrap_ratio_ci([2 * b for b in base], base, resamples=500)
    # paired: every resample holds the same questions of both runs, so every ratio is 2
    assert doubled.mean == pytest.approx(2.0) and doubled.n == 60
    assert (doubled.lo, doubled.hi) == (pytest.approx(2.0), pytest.approx(2.0))
    other = [float(v) for v in rng.random(60)]
    ci = bootstrap_ratio_ci(other, base, resamples=1000, seed=2)
    idx = np.random.default_rng(2).integers(0, 60, size=(1000, 60))
    ratios = [sum(other[j] for j in row) / sum(base[j] for j in row) for row in idx]
    assert ci.mean == pytest.approx(sum(other) / sum(base))
    assert (ci.lo, ci.hi) == (pytest.approx(np.percentile(ratios, 2.5)), pytest.approx(np.percentile(ratios, 97.5)))


def test_paired_ratio_bootstrap_edge_cases() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        bootstrap_ratio_ci([1.0, 0.0], [1.0])
    assert bootstrap_ratio_ci([1.0, 1.0], [0.0, 0.0]).mean is None
    assert bootstrap_ratio_ci([], []).mean is None
    # resamples that drew only the baseline's zero are left out, not divided by
    ci = bootstrap_ratio_ci([1.0, 1.0], [0.0, 1.0], resamples=200)
    assert ci.mean == 2.0 and ci.lo is not None and ci.hi is not None and 1.0 <= ci.lo <= ci.hi <= 2.0
