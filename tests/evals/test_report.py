"""``sleuth eval report``: Markdown and a self-contained HTML page, rendered in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sleuth.engines.base import GenerationRequest
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import EvalError
from sleuth.evals.report import load_runs, write_report
from sleuth.evals.rundir import EngineConfig, RunConfig
from sleuth.evals.runner import run_eval
from sleuth.evals.scripted import scripted_reply

PAYLOAD = "<script>document.body.setAttribute('data-pwned','1')</script>"


def _hostile_reply(request: GenerationRequest) -> str:
    """Scripted replies, except one right answer and one that tries to inject a script."""
    question = "\n".join(m.content for m in request.messages or []).rsplit("Question:", 1)[-1]
    if "Black Maverick" in question:
        return f" {PAYLOAD}"
    return " documentary" if "American Hardcore" in question else scripted_reply(request)


@pytest.fixture(scope="module")
def runs(eval_sandbox_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    specs = [("search-r1", 0.0, scripted_reply, 0), ("standard-rag", 0.0, _hostile_reply, 0),
             ("standard-rag", 0.5, scripted_reply, 2)]
    dirs = []
    for i, (method, mask, reply, links) in enumerate(specs):
        cfg = RunConfig(dataset="hotpotqa-sandbox", method=method, limit=6, mask_gold=mask, follow_links=links,
                        sandbox=str(eval_sandbox_dir), engine=EngineConfig(kind="scripted"))
        out = root / f"run{i}"
        asyncio.run(run_eval(cfg, out, engine=ScriptedEngine(responder=reply), progress=False))
        dirs.append(out)
    return dirs


@pytest.fixture(scope="module")
def report(runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_report(runs, tmp_path_factory.mktemp("report") / "baseline.md", resamples=200)


def test_markdown_has_a_method_by_metric_table_with_cis(report: tuple[Path, Path]) -> None:
    md_path, html_path = report
    assert md_path.name == "baseline.md" and html_path.name == "baseline.html"
    text = md_path.read_text()
    assert "| Method | n | Acc | EM | F1 | Recall | Sufficiency | Utilisation | Refusal |" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()
            if line.startswith("| ") and " | 6 | " in line}
    assert set(rows) == {"search-r1", "standard-rag", "standard-rag + 2 links (mask 0.5)"}
    assert "mask-gold 0.5; follow-links 2;" in text
    assert re.search(r"\d+\.\d \[\d+\.\d, \d+\.\d\]", rows["search-r1"])
    assert "n/a" in rows["search-r1"]  # refusal is undefined when nothing was masked
    assert "| LLM calls | Prompt tok |" in text and "(baseline.html)" in text


def test_html_is_self_contained_and_escapes_model_output(report: tuple[Path, Path]) -> None:
    page = report[1].read_text()
    assert PAYLOAD not in page and "&lt;script&gt;document.body.setAttribute" in page
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", page)
    assert page.count("<svg") == 3 and page.count("<details class=q") == 18
    for needle in ("Accuracy against cost", "turns (LLM calls) per question",
                   "searches per question", "data-status='correct'", "masked"):
        assert needle in page


def test_labels_are_made_unique(runs: list[Path]) -> None:
    twice = load_runs([runs[0], runs[0]], resamples=50)
    assert [r.label for r in twice] == ["search-r1 [run0]", "search-r1 [run0]"]


def _first(run: Path, n: int, out: Path) -> Path:
    """A copy of ``run`` that holds its first ``n`` questions only."""
    out.mkdir()
    shutil.copy(run / "run.json", out / "run.json")
    lines = (run / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:n]))
    return out


def test_shared_keeps_only_the_questions_every_run_answered(runs: list[Path], tmp_path: Path) -> None:
    short = _first(runs[0], 3, tmp_path / "short")
    every = load_runs([short, runs[1]], resamples=20)
    assert [len(r.rows) for r in every] == [3, 6]
    same = load_runs([short, runs[1]], resamples=20, shared=True)
    assert [len(r.rows) for r in same] == [3, 3]
    assert {r["id"] for r in same[0].rows} == {r["id"] for r in same[1].rows}
    md, _ = write_report([short, runs[1]], tmp_path / "shared", resamples=20, shared=True)
    assert "Only the 3 questions that every run answered" in md.read_text()


def _split(run: Path, root: Path, at: int, options: dict[str, object] | None = None) -> tuple[Path, Path]:
    """``run`` as two run directories: its first ``at`` questions, and the rest."""
    lines = (run / "results.jsonl").read_text().splitlines(keepends=True)
    manifest = json.loads((run / "run.json").read_text())
    if options is not None:
        manifest["config"]["options"] = options
    halves = []
    for name, part in (("a", lines[:at]), ("b", lines[at:])):
        (root / name).mkdir()
        (root / name / "run.json").write_text(json.dumps(manifest))
        (root / name / "results.jsonl").write_text("".join(part))
        halves.append(root / name)
    return halves[0], halves[1]


def test_runs_joined_with_plus_are_one_row(runs: list[Path], tmp_path: Path) -> None:
    a, b = _split(runs[1], tmp_path, 2, options={"top_k": 3})
    joined, whole = load_runs([Path(f"{a}+{b}"), runs[1]], resamples=20)
    assert len(joined.parts) == 2 and [r["id"] for r in joined.rows] == [r["id"] for r in whole.rows]
    assert joined.label == "standard-rag [top_k=3]" and whole.label == "standard-rag"
    assert joined.stats["f1"].mean == whole.stats["f1"].mean
    md, _ = write_report([Path(f"{a}+{b}")], tmp_path / "joined", resamples=20)
    text = md.read_text()
    assert f"`{a}`: dataset hotpotqa-sandbox (2 of 6 questions" in text
    assert f"`{b}`: dataset hotpotqa-sandbox (4 of 6 questions" in text
    assert "| standard-rag [top_k=3] | 6 |" in text


def test_joined_runs_must_share_a_configuration_and_not_a_question(runs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(EvalError, match=r"ran different configurations \(method\)"):
        load_runs([Path(f"{runs[0]}+{runs[1]}")], resamples=20)
    with pytest.raises(EvalError, match=r"ran different configurations \(follow_links, mask_gold\)"):
        load_runs([Path(f"{runs[1]}+{runs[2]}")], resamples=20)
    with pytest.raises(EvalError, match="is in both"):
        load_runs([Path(f"{runs[1]}+{runs[1]}")], resamples=20)
    with pytest.raises(EvalError, match="results.jsonl"):
        load_runs([Path(f"{runs[1]}+{tmp_path}")], resamples=20)


def test_a_directory_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="results.jsonl"):
        write_report([tmp_path], tmp_path / "r")


def test_cli_report(runs: list[Path], tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "sleuth", "eval", "report", *map(str, runs),
                          "--out", str(tmp_path / "rep")], check=False, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rep.md").is_file() and (tmp_path / "rep.html").is_file()


def _f1s(run: Path) -> dict[str, float]:
    return {r["id"]: r["metrics"]["f1"] for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}


def test_baseline_table_pairs_each_run_with_the_baseline(runs: list[Path], tmp_path: Path) -> None:
    short = _first(runs[0], 4, tmp_path / "short")
    md, html = write_report([short, runs[1], runs[2]], tmp_path / "vs", resamples=200, baseline=runs[1])
    text = md.read_text()
    section = text.split("## Against the baseline")[1]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Method")}
    assert set(rows) == {"search-r1", "standard-rag + 2 links (mask 0.5)"}  # the baseline has no row
    run, base = _f1s(short), _f1s(runs[1])
    shared = [(run[i], base[i]) for i in run]
    n, score, ref = len(shared), sum(a for a, _ in shared), sum(b for _, b in shared)
    assert rows["search-r1"][:3] == ["4", f"{100 * score / n:.1f}", f"{100 * ref / n:.1f}"]
    assert rows["search-r1"][3].startswith(f"{score / ref:.2f}x [" if ref else "–")
    assert rows["search-r1"][4].startswith(f"{100 * (score - ref) / n:+.1f} [")
    assert rows["search-r1"][5:] == [str(sum(a > b for a, b in shared)), str(sum(a < b for a, b in shared))]
    assert rows["standard-rag + 2 links (mask 0.5)"][3] == "different masking"
    assert "against standard-rag, on the questions each run shares with it" in section
    assert "Against the baseline" in html.read_text()


def test_baseline_must_be_one_of_the_runs(runs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="is not one of the reported runs"):
        write_report([runs[0]], tmp_path / "vs", resamples=20, baseline=runs[1])
    out = subprocess.run([sys.executable, "-m", "sleuth", "eval", "report", str(runs[0]), str(runs[1]),
                          "--baseline", str(runs[0]), "--out", str(tmp_path / "cli")],
                         check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "| standard-rag | 6 |" in (tmp_path / "cli.md").read_text().split("## Against the baseline")[1]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _render(page: Path) -> tuple[str, str]:
    """The DOM after scripts ran, and Chromium's log (console messages included)."""
    browser = _chromium()
    assert browser is not None
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
        check=False, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed")
def test_headless_chromium_renders_the_report_without_errors(
    report: tuple[Path, Path], tmp_path: Path
) -> None:
    dom, log = _render(report[1])
    # the filter script ran to the end, and the injected script did not run
    assert '<body data-ready="1">' in dom
    assert re.search(r"<html[^>]*>", dom).group(0) == '<html lang="en">'  # type: ignore[union-attr]
    assert [line for line in log.splitlines() if ":CONSOLE" in line] == []
    assert re.search(r'class="run-traces" data-run="1" hidden=""', dom)
    assert re.search(r'class="run-traces" data-run="0">', dom)
    # the check can fail: the same page with a script error is caught
    broken = tmp_path / "broken.html"
    broken.write_text(report[1].read_text().replace("apply();document.body", "nope();apply();"
                                                    "document.body"))
    dom, log = _render(broken)
    assert re.search(r"<html[^>]*>", dom).group(0) == '<html lang="en" data-js-errors="1">'  # type: ignore[union-attr]
    assert "nope is not defined" in log and '<body data-ready="1">' not in dom
