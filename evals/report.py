"""Reports over one or more run directories: Markdown and one self-contained HTML page.

The table is method x metric, each a mean with its 95% bootstrap confidence interval over
the questions where the metric is defined (see :mod:`sleuth.evals.metrics`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleuth.atomic import write_text_atomic
from sleuth.errors import EvalError
from sleuth.evals.gate_report import gate_markdown
from sleuth.evals.metrics import Interval, bootstrap_ci
from sleuth.evals.refusals import refusal_tables
from sleuth.evals.rundir import RESULTS_FILE, ResultsFile, RunManifest, read_manifest
from sleuth.evals.tables import Table, table_markdown

QUALITY = [
    ("acc", "Acc"), ("em", "EM"), ("f1", "F1"), ("recall", "Recall"),
    ("sufficient", "Sufficiency"), ("utilisation", "Utilisation"), ("refusal", "Refusal"),
    ("over_refusal", "Over-refusal"), ("forced", "Forced"),
]
COST = [
    ("llm_calls", "LLM calls"), ("prompt_tokens", "Prompt tok"),
    ("completion_tokens", "Completion tok"), ("searches", "Searches"), ("opens", "Opens"),
    ("wall_s", "Wall s"),
]


@dataclass
class RunData:
    path: Path
    manifest: RunManifest
    rows: list[dict[str, Any]]
    label: str = ""
    stats: dict[str, Interval] = field(default_factory=dict)
    parts: list[RunData] = field(default_factory=list)
    """The runs joined into this one (empty for a single run directory)."""

    @property
    def errors(self) -> int:
        return sum(1 for r in self.rows if r.get("error"))


JOIN = "+"
"""Joins run directories into one report row: ``runs/a+runs/b`` (see :func:`load_run`)."""

_SAME = ("method", "options", "mask_gold", "mask_seed", "follow_links", "engine", "sandbox", "index", "timeout_s")
"""What the parts of a joined run must share: everything that decides an answer but the questions."""


def _load_one(path: Path) -> RunData:
    if not (path / RESULTS_FILE).is_file():
        raise EvalError(f"{path} has no {RESULTS_FILE}.", hint="pass directories written by "
                        "sleuth eval run --out", path=str(path))
    manifest = read_manifest(path)
    rows = ResultsFile(path / RESULTS_FILE).current()
    return RunData(path=path, manifest=manifest, rows=rows)


def load_run(path: Path) -> RunData:
    """One run directory, or several joined with ``+`` (``runs/q1-50+runs/q51-100``) that ran
    the same configuration on different questions (one report row; the first part's manifest
    stands for all, and :attr:`RunData.parts` lists them). A question in two parts, or parts
    that differ in anything but their questions, is an :class:`~sleuth.errors.EvalError`."""
    if JOIN not in str(path) or (path / RESULTS_FILE).is_file():
        return _load_one(path)
    parts = [_load_one(Path(p)) for p in str(path).split(JOIN)]
    first = parts[0]
    want = first.manifest.config.model_dump(mode="json", include=set(_SAME))
    seen: dict[str, Path] = {}
    for part in parts:
        got = part.manifest.config.model_dump(mode="json", include=set(_SAME))
        if got != want:
            differ = sorted(k for k in _SAME if got.get(k) != want.get(k))
            raise EvalError(f"{part.path} and {first.path} ran different configurations ({', '.join(differ)}), "
                            "so they cannot be one row.", hint="report them as separate runs", path=str(path))
        for row in part.rows:
            if row["id"] in seen:
                raise EvalError(f"Question {row['id']} is in both {seen[row['id']]} and {part.path}.",
                                hint="join runs of different questions only", path=str(path))
            seen[row["id"]] = part.path
    return RunData(path=path, manifest=first.manifest, rows=[r for part in parts for r in part.rows],
                   parts=parts)


def metric_values(rows: list[dict[str, Any]], key: str) -> list[float | None]:
    """One value per question (``None`` where undefined); cost keys read ``usage``."""
    out: list[float | None] = []
    for row in rows:
        source = row["usage"] if key in dict(COST) else row["metrics"]
        value = source.get(key)
        out.append(None if value is None else float(value))
    return out


def summarize(run: RunData, resamples: int = 1000) -> dict[str, Interval]:
    return {
        key: bootstrap_ci(metric_values(run.rows, key), resamples=resamples)
        for key, _ in (*QUALITY, *COST)
    }


def _options_label(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in sorted(options.items()))


def _labels(runs: list[RunData]) -> None:
    """Method, the options it was given, links and masking; the path where two runs are still
    alike."""
    for run in runs:
        cfg = run.manifest.config
        run.label = cfg.method + (f" [{_options_label(cfg.options)}]" if cfg.options else "")
        run.label += f" + {cfg.follow_links} links" if cfg.follow_links else ""
        run.label += "".join(f" ({role}: {e.model})" for role, e in cfg.engine.roles.items())
        run.label += f" (mask {cfg.mask_gold:g})" if cfg.mask_gold else ""
        run.label += " (replayed)" if run.manifest.replayed_from else ""
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.label] = seen.get(run.label, 0) + 1
    for run in runs:
        if seen[run.label] > 1:
            run.label = f"{run.label} [{run.path.name}]"


def load_runs(paths: list[Path], resamples: int = 1000, *, shared: bool = False) -> list[RunData]:
    """Load and summarise runs; with ``shared``, only the questions every run answered, so
    methods stopped at different points are compared on the same questions."""
    runs = [load_run(Path(p)) for p in paths]
    if shared and runs:
        common = set.intersection(*({r["id"] for r in run.rows} for run in runs))
        if not common:
            raise EvalError("These runs have no question in common.", hint="drop --shared")
        for run in runs:
            run.rows = [r for r in run.rows if r["id"] in common]
    _labels(runs)
    for run in runs:
        run.stats = summarize(run, resamples)
    return runs


def _cell(interval: Interval, percent: bool) -> str:
    if percent:
        text: str = interval.format(1, scale=100)
    else:
        text = interval.format(2 if (interval.mean or 0) < 100 else 0)
    return text


def markdown_tables(runs: list[RunData]) -> str:
    head = "| Method | n | " + " | ".join(name for _, name in QUALITY) + " | Errors |"
    lines = [head, "|" + "---|" * (len(QUALITY) + 3)]
    for run in runs:
        cells = [_cell(run.stats[k], True) for k, _ in QUALITY]
        lines.append(f"| {run.label} | {len(run.rows)} | " + " | ".join(cells)
                     + f" | {run.errors} |")
    lines += ["", "| Method | " + " | ".join(name for _, name in COST) + " |",
              "|" + "---|" * (len(COST) + 1)]
    for run in runs:
        lines.append(f"| {run.label} | " + " | ".join(_cell(run.stats[k], False)
                                                       for k, _ in COST) + " |")
    return "\n".join(lines)


def _selection(manifest: RunManifest) -> str:
    """"questions 41-60, " for a run that left out the dataset's first 40 questions."""
    skip = manifest.config.skip
    return f"questions {skip + 1}-{skip + manifest.dataset.n_selected}, " if skip else ""


def _runs_list(runs: list[RunData]) -> str:
    lines = []
    for run in runs:
        m = run.manifest
        engine = m.config.engine
        datasets = "; ".join(f"`{p.path}`: dataset {p.manifest.dataset.name} ({_selection(p.manifest)}"
                             f"{len(p.rows)} of {p.manifest.dataset.n_selected} questions, "
                             f"sha256 {p.manifest.dataset.sha256[:12]})"
                             for p in run.parts or [run])
        lines.append(
            f"- **{run.label}**: {datasets}; engine {engine.describe()}; "
            f"mask-gold {m.config.mask_gold:g}; follow-links {m.config.follow_links}; "
            f"options {json.dumps(m.config.options)}"
        )
    return "\n".join(lines)


NOTES = """Percentages, each with its 95% bootstrap confidence interval (1,000 resamples of the
questions). Acc: a gold answer appears in the prediction; EM and F1 use SQuAD normalisation.
Recall: share of gold evidence paragraphs the agent was shown. Sufficiency: all gold
evidence was retrieved or opened during the run (from the sandbox action log).
Utilisation: correct, among sufficient questions. Refusal: abstained, among questions whose
gold evidence was masked. Over-refusal: abstained, among questions whose evidence was
present. Forced: answered without the method's own finish (out of turns, or an unverified
best draft), among the questions answered. Costs are means per question."""


def markdown_report(runs: list[RunData], html_name: str, *, shared: bool = False,
                    comparison: Table | None = None) -> str:
    scope = ([f"Only the {len(runs[0].rows)} questions that every run answered (`--shared`)."]
             if shared and runs else [])
    against = ["## Against the baseline\n\n" + "\n".join(table_markdown(comparison))] if comparison else []
    verification = ["\n\n".join(["## Verification", *("\n".join(table_markdown(t)) for t in tables)])
                    for tables in [refusal_tables(runs)] if tables]
    return "\n\n".join([
        "# Sleuth evaluation report",
        _runs_list(runs),
        *scope,
        markdown_tables(runs),
        NOTES,
        *against,
        *verification,
        *([gate] if (gate := gate_markdown(runs)) else []),
        f"Plots and per-question traces: [{html_name}]({html_name}).",
    ]) + "\n"


def report_paths(out: Path) -> tuple[Path, Path]:
    base = out.with_suffix("") if out.suffix in (".md", ".html") else out
    return base.with_name(base.name + ".md"), base.with_name(base.name + ".html")


def write_report(paths: list[Path], out: Path, *, resamples: int = 1000,
                 shared: bool = False, baseline: Path | None = None) -> tuple[Path, Path]:
    """Write ``OUT.md`` and ``OUT.html`` for the runs in ``paths``; returns both paths.
    ``baseline``: one of ``paths``; adds each other run's paired F1 ratio against it."""
    from sleuth.evals.compare import comparison_table, find_baseline
    from sleuth.evals.report_html import html_report

    runs = load_runs(paths, resamples, shared=shared)
    comparison = (comparison_table(runs, find_baseline(runs, baseline), resamples=resamples)
                  if baseline is not None else None)
    md_path, html_path = report_paths(Path(out))
    md_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(md_path, markdown_report(runs, html_path.name, shared=shared, comparison=comparison))
    write_text_atomic(html_path, html_report(runs, comparison))
    return md_path, html_path


__all__ = ["JOIN", "RunData", "load_run", "load_runs", "markdown_report", "markdown_tables", "write_report"]
