"""Run a registered method over a dataset inside a sandbox, resumably.

Questions run concurrently through the async runtime,
:func:`~sleuth.graphs.runtime.run_many`. Each gets a fresh
:class:`~sleuth.sandboxes.sandbox.SandboxView` as its retriever (its own action log, and its
gold evidence hidden when it is drawn for masking), its own share of the engine's usage
meter, and a timeout. Its :class:`QuestionResult` goes to ``results.jsonl`` the moment it
finishes. A question whose agent raises or times out is recorded with its error and the
trace so far, and the run goes on.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import Field
from tqdm import tqdm

from sleuth.engines.base import GenerationRequest, GenerationResponse, LLMEngine
from sleuth.engines.scheduler import AgentContext, current_agent
from sleuth.errors import ConfigError
from sleuth.evals.datasets import Dataset, EvalExample, load_dataset
from sleuth.evals.metrics import QuestionMetrics, question_metrics
from sleuth.evals.rundir import (
    RESULTS_FILE,
    DatasetInfo,
    EngineConfig,
    ResultsFile,
    RunConfig,
    RunManifest,
    SandboxInfo,
    latest_rows,
    prepare_run_dir,
    versions,
)
from sleuth.graphs.runtime import AgentFailure, Outcome, run_many
from sleuth.retrieval.base import Retriever
from sleuth.sandboxes.actionlog import Action, ActionLog
from sleuth.sandboxes.sandbox import Sandbox
from sleuth.types import (
    Answer,
    AnswerEvent,
    Citation,
    ErrorEvent,
    SearchHit,
    StrictModel,
    TraceEvent,
    Usage,
)

logger = logging.getLogger(__name__)


class ErrorInfo(StrictModel):
    type: str
    code: str
    message: str
    traceback: str = ""


class QuestionResult(StrictModel):
    """One line of ``results.jsonl``."""

    id: str
    question: str
    gold: list[str]
    gold_ids: list[str] = Field(default_factory=list)
    masked: bool = False
    hidden_ids: list[str] = Field(default_factory=list)
    prediction: str = ""
    abstained: bool = False
    citations: list[Citation] = Field(default_factory=list)
    metrics: QuestionMetrics
    usage: Usage
    trace: list[TraceEvent] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    error: ErrorInfo | None = None
    method: str
    started: float
    finished: float


class RunSummary(StrictModel):
    out_dir: str
    total: int
    skipped: int
    """Questions already complete from an earlier run (resume)."""
    ran: int
    errors: int


class EmptyRetriever:
    """For datasets without a corpus: every search finds nothing."""

    name = "empty"

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        return [[] for _ in queries]

    async def aclose(self) -> None:
        return


class MeteredEngine:
    """Counts each agent's LLM calls and tokens, whatever the graph reports.

    The engine is shared by every question in flight, so calls are charged to the agent
    whose :class:`~sleuth.engines.scheduler.AgentContext` is current (``""`` outside one).
    """

    def __init__(self, inner: LLMEngine) -> None:
        self.inner = inner
        self.name = inner.name
        self.by_agent: dict[str, Usage] = {}

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        response = await self.inner.generate(request)
        agent = current_agent()
        usage = self.by_agent.setdefault(agent.agent_id if agent is not None else "", Usage())
        usage.llm_calls += 1
        usage.prompt_tokens += response.prompt_tokens
        usage.completion_tokens += response.completion_tokens
        return response

    def take(self, agent_id: str) -> Usage:
        """The usage charged to ``agent_id``, forgotten here."""
        return self.by_agent.pop(agent_id, None) or Usage()

    async def aclose(self) -> None:
        return  # the run owns the shared engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def is_masked(example_id: str, fraction: float, seed: int) -> bool:
    """A stable draw per question id: the same questions are masked at any --limit."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def make_engine(config: EngineConfig) -> LLMEngine:
    """The run's engine; with ``config.roles``, a router that sends each role's calls to its own."""
    from sleuth.engines.router import build_routed

    return build_routed(partial(_single_engine, config),
                        {role: partial(_single_engine, c) for role, c in config.roles.items()})


def _single_engine(config: EngineConfig) -> LLMEngine:
    if config.kind == "scripted":
        from sleuth.evals.scripted import scripted_eval_engine

        return scripted_eval_engine(config.scripted_delay_s)
    from sleuth.config import SleuthSettings
    from sleuth.engines.factory import create_engine

    settings = SleuthSettings.load()
    overrides: dict[str, Any] = {"kind": config.kind, "model": config.model}
    if config.base_url:
        overrides["base_url"] = config.base_url
    return create_engine(settings.engine, cache_dir=settings.cache_dir, **overrides)


@dataclass
class QuestionRun:
    """One question from the moment its agent starts: what its result needs besides the answer."""

    example: EvalExample
    masked: bool
    hidden: list[str]
    log: ActionLog = field(default_factory=ActionLog)
    started: float = field(default_factory=time.time)
    clock: float = field(default_factory=time.perf_counter)


@dataclass
class RunContext:
    config: RunConfig
    engine: MeteredEngine
    sandbox: Sandbox | None

    def begin(self, example: EvalExample) -> QuestionRun:
        masked = is_masked(example.id, self.config.mask_gold, self.config.mask_seed)
        return QuestionRun(example=example, masked=masked,
                           hidden=example.gold_ids if masked else [])

    def retriever(self, run: QuestionRun) -> Retriever:
        """The question's own sandbox view: its gold hidden when masked, logging to ``run.log``."""
        if self.sandbox is None:
            return EmptyRetriever()
        view = self.sandbox.view(hide_ids=run.hidden, log=run.log,
                                 hide_titles=run.example.gold_titles if run.masked else [])
        return view.retriever(self.config.follow_links)

    def finish(self, run: QuestionRun, outcome: Outcome, agent: AgentContext) -> QuestionResult:
        from sleuth.agents.answers import is_non_answer

        wall = time.perf_counter() - run.clock
        answer = outcome if isinstance(outcome, Answer) else None
        failure = outcome if isinstance(outcome, AgentFailure) else None
        prediction = answer.text if answer is not None else ""
        abstained = answer is not None and (answer.abstained or is_non_answer(prediction))
        trace = list(answer.trace) if answer is not None else []
        error = None
        if failure is not None:
            error = ErrorInfo(type=failure.error, code=failure.code, message=failure.message,
                              traceback=failure.traceback)
            trace = [*failure.trace, ErrorEvent(message=error.message, code=error.code)]
        usage = self.engine.take(agent.agent_id)
        usage.searches = run.log.count("search") if self.sandbox is not None else agent.searches
        usage.opens = run.log.count("open")
        usage.wall_s = wall
        example = run.example
        metrics = question_metrics(
            prediction, example.answers, abstained=abstained, masked=run.masked,
            gold_ids=example.gold_ids, seen_ids=run.log.seen_ids(), error=error is not None,
            forced=bool(trace) and isinstance(trace[-1], AnswerEvent) and trace[-1].forced,
        )
        return QuestionResult(
            id=example.id, question=example.question, gold=example.answers,
            gold_ids=example.gold_ids, masked=run.masked, hidden_ids=run.hidden,
            prediction=prediction, abstained=abstained,
            citations=answer.citations if answer else [], metrics=metrics, usage=usage,
            trace=trace, actions=run.log.actions, error=error, method=self.config.method,
            started=run.started, finished=time.time(),
        )


def open_sandbox(config: RunConfig, dataset: Dataset, progress: bool) -> Sandbox | None:
    """``--sandbox``, ``--index``, else a sandbox of the dataset's corpus (built once, cached)."""
    if config.sandbox and config.index:
        raise ConfigError("Pass --sandbox or --index, not both.")
    if config.sandbox or config.index:
        return Sandbox.load(config.sandbox or config.index or "")
    if dataset.corpus is None:
        logger.warning("dataset %s has no corpus and no --sandbox was given: searches find "
                       "nothing", dataset.name)
        return None
    from sleuth.config import SleuthSettings
    from sleuth.evals.datasets import sha256_file
    from sleuth.sandboxes.build import build_sandbox

    digest = sha256_file(dataset.corpus)[:16]
    path = SleuthSettings.load().cache_dir / "sandboxes" / f"{dataset.name}-{digest}"
    if not path.exists():
        print(f"building the {dataset.name} sandbox in {path} (once)", file=sys.stderr)
        build_sandbox(dataset.corpus, path, progress=progress)
    return Sandbox.load(path)


def _manifest(config: RunConfig, dataset: Dataset, sandbox: Sandbox | None) -> RunManifest:
    info = None
    if sandbox is not None:
        m = sandbox.manifest
        info = SandboxInfo(path=str(sandbox.path), source_sha256=m.source_sha256,
                           n_paragraphs=m.n_paragraphs, index_kind=m.index_kind)
    return RunManifest(
        config=config,
        dataset=DatasetInfo(name=dataset.name, path=str(dataset.path), sha256=dataset.sha256,
                            n_examples=len(dataset), n_selected=len(dataset.examples)),
        sandbox=info, versions=versions(), created=time.time(), command=sys.argv,
    )


async def run_eval(
    config: RunConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    retry_errors: bool = False,
    engine: LLMEngine | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run (or resume) an evaluation into ``out_dir``. ``engine`` overrides ``config.engine``.

    With ``retry_errors`` a resumed run also reruns the questions whose latest result is an
    error; the new result is appended after the old one, which stays in the file."""
    from sleuth.graphs.registry import make_options

    out = Path(out_dir)
    make_options(config.method, config.options)  # unknown method or bad options: fail first
    dataset = load_dataset(config.dataset, data_dir=config.data_dir, limit=config.limit,
                           skip=config.skip)
    sandbox = open_sandbox(config, dataset, progress)
    results = ResultsFile(out / RESULTS_FILE)
    own_engine = engine is None
    try:
        prepare_run_dir(out, _manifest(config, dataset, sandbox), resume=resume)
        done = {row.get("id") for row in latest_rows(results.recover())
                if not (retry_errors and row.get("error"))}
        todo = [e for e in dataset.examples if e.id not in done]
        engine = engine or make_engine(config.engine)
        ctx = RunContext(config=config, engine=MeteredEngine(engine), sandbox=sandbox)
        errors = await _run_todo(ctx, todo, results, len(dataset.examples), progress)
    finally:
        results.close()
        if own_engine and engine is not None:
            await engine.aclose()
        if sandbox is not None:
            await sandbox.aclose()
    return RunSummary(out_dir=str(out), total=len(dataset.examples),
                      skipped=len(dataset.examples) - len(todo), ran=len(todo), errors=errors)


async def _run_todo(
    ctx: RunContext, todo: list[EvalExample], results: ResultsFile, total: int, progress: bool
) -> int:
    bar = tqdm(total=total, initial=total - len(todo), desc=ctx.config.method, unit="q",
               file=sys.stderr, disable=not progress, dynamic_ncols=True)
    counts = {"errors": 0, "correct": 0, "done": 0}
    runs: dict[int, QuestionRun] = {}

    def retriever_for(index: int) -> Retriever:
        run = runs[index] = ctx.begin(todo[index])
        return ctx.retriever(run)

    def on_result(index: int, outcome: Outcome, agent: AgentContext) -> None:
        run = runs.pop(index) if index in runs else ctx.begin(todo[index])
        result = ctx.finish(run, outcome, agent)
        results.append(result.model_dump(mode="json"))  # one fsynced line, as it ends
        counts["done"] += 1
        counts["errors"] += result.error is not None
        counts["correct"] += result.metrics.correct
        bar.set_postfix(acc=f"{counts['correct'] / counts['done']:.2f}", errors=counts["errors"],
                        refresh=False)
        bar.update(1)

    try:
        await run_many([e.question for e in todo], engine=ctx.engine, retriever_for=retriever_for,
                       method=ctx.config.method, options=ctx.config.options,
                       concurrency=ctx.config.concurrency, timeout_s=ctx.config.timeout_s,
                       on_result=on_result)
    finally:
        bar.close()
    return counts["errors"]


__all__ = [
    "EmptyRetriever",
    "ErrorInfo",
    "MeteredEngine",
    "QuestionResult",
    "QuestionRun",
    "RunContext",
    "RunSummary",
    "is_masked",
    "make_engine",
    "open_sandbox",
    "run_eval",
]
