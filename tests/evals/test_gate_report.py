"""The report's gate section: searches saved and F1 lost against always retrieving, and a
scoring of other gates that agrees with what the gated run measured."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from sleuth.agents.gate import GateOptions
from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.engines.scripted import ScriptedEngine
from sleuth.evals.gate_report import summarize_gate
from sleuth.evals.gate_tune import load_cases, score_gate
from sleuth.evals.report import load_runs, write_report
from sleuth.evals.rundir import EngineConfig, RunConfig
from sleuth.evals.runner import run_eval
from sleuth.evals.scripted import scripted_reply


class ConfidentOnOne(ScriptedEngine):
    """Drafts "documentary" with probability 0.9 for the American Hardcore question (right),
    "unknown" with 0.1 elsewhere; answers from documents like the scripted double."""

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        response = await super().generate(request)
        confident = "American Hardcore" in (request.messages or [])[-2].content
        p = 0.9 if confident and request.logprobs else 0.1
        return response.model_copy(update={"logprobs": [type(response.logprobs[0])(
            token=response.text, logprob=math.log(p))] if response.logprobs else None})


def _reply(request: GenerationRequest) -> str:
    prompt = "\n".join(m.content for m in request.messages or [])
    if "Documents:" not in prompt:
        return " documentary" if "American Hardcore" in prompt.rsplit("Question:", 1)[-1] else " unknown"
    return scripted_reply(request)


@pytest.fixture(scope="module")
def gate_runs(eval_sandbox_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("gate-runs")
    dirs = []
    for method in ("standard-rag", "adaptive-rag"):
        cfg = RunConfig(dataset="hotpotqa-sandbox", method=method, limit=6, sandbox=str(eval_sandbox_dir),
                        engine=EngineConfig(kind="scripted"))
        asyncio.run(run_eval(cfg, root / method, engine=ConfidentOnOne(responder=_reply), progress=False))
        dirs.append(root / method)
    return dirs


def test_gate_summary_counts_the_saved_search_and_the_f1_change(gate_runs: list[Path]) -> None:
    reference, gated = load_runs(gate_runs, resamples=50)
    summary = summarize_gate(gated.rows, reference.rows)
    assert summary.questions == 6 and summary.answered_alone == 1
    assert summary.searches == pytest.approx(5 / 6) and summary.ref_searches == 1.0
    assert summary.searches_cut == pytest.approx(1 / 6)
    # the confident draft was right, and every other question got the reference's answer
    ref_f1 = {r["id"]: r["metrics"]["f1"] for r in reference.rows}
    first = next(r for r in gated.rows if "American Hardcore" in r["question"])
    assert first["metrics"]["f1"] == 1.0 and first["usage"]["searches"] == 0
    assert all(r["metrics"]["f1"] == ref_f1[r["id"]] for r in gated.rows if r is not first)


def test_offline_scores_reproduce_the_measured_run_and_both_extremes(gate_runs: list[Path]) -> None:
    reference, gated = load_runs(gate_runs, resamples=50)
    cases = load_cases(gated.rows, reference.rows)
    measured = summarize_gate(gated.rows, reference.rows)
    own = score_gate(GateOptions(kind="token-confidence", theta=0.4), cases)  # the run's own gate
    assert (own.retrieves, own.f1) == (pytest.approx(5 / 6), pytest.approx(measured.f1))
    assert own.searches == pytest.approx(measured.searches)
    strict = score_gate(GateOptions(kind="token-confidence", theta=0.95), cases)  # always retrieves
    assert (strict.retrieves, strict.f1) == (1.0, pytest.approx(measured.ref_f1))


def test_report_has_the_gate_section_in_markdown_and_html(gate_runs: list[Path], tmp_path: Path) -> None:
    md, html = write_report(gate_runs, tmp_path / "gate", resamples=50)
    text = md.read_text()
    assert "## Retrieve-or-answer gate" in text and "| adaptive-rag | 6 | 1 (17%) |" in text
    assert "| 17% |" in text and "Other gates and thresholds on adaptive-rag's 6 questions" in text
    # the front lists the FLARE gate that answers the one confident draft, named by the
    # lowest grid threshold that does so
    assert "| token-confidence theta=0.05 | 83% | 17% |" in text
    assert "Retrieve-or-answer gate" in html.read_text()


def test_no_gate_section_without_a_gated_run(gate_runs: list[Path], tmp_path: Path) -> None:
    md, _ = write_report(gate_runs[:1], tmp_path / "plain", resamples=50)
    assert "Retrieve-or-answer gate" not in md.read_text()
