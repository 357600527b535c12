"""Run a registered method over a dataset inside a sandbox, resumably.

Each question gets a fresh :class:`~sleuth.sandboxes.sandbox.SandboxView` (its own action
log, and its gold evidence hidden when it is drawn for masking), a usage meter around the
engine, and a timeout. Its :class:`QuestionResult` goes to ``results.jsonl`` the moment it
finishes. A question whose agent raises or times out is recorded with its error and the
trace so far, and the run goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field
from tqdm import tqdm

from sleuth.engines.base import GenerationRequest, GenerationResponse, LLMEngine
from sleuth.errors import ConfigError, EvalError, SleuthError
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
    prepare_run_dir,
    versions,
)
from sleuth.sandboxes.actionlog import Action, ActionLog
from sleuth.sandboxes.sandbox import Sandbox
from sleuth.types import Answer, Citation, ErrorEvent, SearchHit, StrictModel, TraceEvent, Usage

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


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
    """Counts one question's LLM calls and tokens, whatever the graph reports."""

    def __init__(self, inner: LLMEngine) -> None:
        self.inner = inner
        self.name = inner.name
        self.usage = Usage()

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        response = await self.inner.generate(request)
        self.usage.llm_calls += 1
        self.usage.prompt_tokens += response.prompt_tokens
        self.usage.completion_tokens += response.completion_tokens
        return response

    async def aclose(self) -> None:
        return  # the run owns the shared engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def run_concurrently(
    items: Sequence[T],
    worker: Callable[[T], Awaitable[R]],
    on_done: Callable[[R], None],
    concurrency: int,
) -> None:
    """Run ``worker`` over ``items``, at most ``concurrency`` at once; ``on_done`` as each ends.

    The one place that decides how questions are scheduled, so it can be swapped for a
    scheduler-aware runtime. ``worker`` must not raise (it records failures itself).
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(item: T) -> None:
        async with gate:
            result = await worker(item)
        on_done(result)

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def is_masked(example_id: str, fraction: float, seed: int) -> bool:
    """A stable draw per question id: the same questions are masked at any --limit."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def make_engine(config: EngineConfig) -> LLMEngine:
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
class RunContext:
    config: RunConfig
    engine: LLMEngine
    sandbox: Sandbox | None

    async def evaluate(self, example: EvalExample) -> QuestionResult:
        masked = is_masked(example.id, self.config.mask_gold, self.config.mask_seed)
        hidden = example.gold_ids if masked else []
        view = None
        if self.sandbox is not None:
            view = self.sandbox.view(hide_ids=hidden,
                                     hide_titles=example.gold_titles if masked else [])
        log = view.log if view is not None else ActionLog()
        retriever = view.retriever() if view is not None else EmptyRetriever()
        meter = MeteredEngine(self.engine)
        trace: list[TraceEvent] = []
        started, clock = time.time(), time.perf_counter()
        answer: Answer | None = None
        error: ErrorInfo | None = None
        try:
            answer = await asyncio.wait_for(
                self._answer(example.question, meter, retriever, trace), self.config.timeout_s
            )
        except TimeoutError:
            error = ErrorInfo(type="TimeoutError", code="timeout",
                              message=f"no answer within {self.config.timeout_s:g} s")
        except Exception as exc:  # noqa: BLE001 -- one agent's crash must not end the run
            error = _error_info(exc)
        wall = time.perf_counter() - clock
        return self._result(example, masked, hidden, answer, error, trace, log, meter, started,
                            wall)

    async def _answer(
        self, question: str, engine: LLMEngine, retriever: Any, trace: list[TraceEvent]
    ) -> Answer:
        from sleuth.graphs.registry import build_graph, run_config

        graph = build_graph(self.config.method, engine=engine, retriever=retriever,
                            options=self.config.options)
        answer: Answer | None = None
        async for chunk in graph.astream({"question": question}, config=run_config(),
                                         stream_mode="updates"):
            for update in (chunk or {}).values():
                trace.extend((update or {}).get("trace", []))  # kept even if a later step fails
                answer = (update or {}).get("answer", answer)
        if not isinstance(answer, Answer):
            raise EvalError(f"Method {self.config.method!r} finished without an answer.")
        return answer

    def _result(
        self, example: EvalExample, masked: bool, hidden: list[str], answer: Answer | None,
        error: ErrorInfo | None, trace: list[TraceEvent], log: ActionLog, meter: MeteredEngine,
        started: float, wall: float,
    ) -> QuestionResult:
        from sleuth.agents.answers import is_non_answer

        prediction = answer.text if answer is not None else ""
        abstained = answer is not None and (answer.abstained or is_non_answer(prediction))
        if answer is not None:
            trace = list(answer.trace) or trace
        if error is not None:
            trace = [*trace, ErrorEvent(message=error.message, code=error.code)]
        usage = meter.usage.model_copy()
        usage.searches = log.count("search") if self.sandbox else (
            answer.usage.searches if answer else 0)
        usage.opens = log.count("open")
        usage.wall_s = wall
        metrics = question_metrics(
            prediction, example.answers, abstained=abstained, masked=masked,
            gold_ids=example.gold_ids, seen_ids=log.seen_ids(), error=error is not None,
        )
        return QuestionResult(
            id=example.id, question=example.question, gold=example.answers,
            gold_ids=example.gold_ids, masked=masked, hidden_ids=hidden, prediction=prediction,
            abstained=abstained, citations=answer.citations if answer else [], metrics=metrics,
            usage=usage, trace=trace, actions=log.actions, error=error,
            method=self.config.method, started=started, finished=time.time(),
        )


def _error_info(exc: BaseException) -> ErrorInfo:
    code = exc.code if isinstance(exc, SleuthError) else "agent_error"
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    return ErrorInfo(type=type(exc).__name__, code=code, message=str(exc) or type(exc).__name__,
                     traceback=tail[-4000:])


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
    engine: LLMEngine | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run (or resume) an evaluation into ``out_dir``. ``engine`` overrides ``config.engine``."""
    from sleuth.graphs.registry import make_options

    out = Path(out_dir)
    make_options(config.method, config.options)  # unknown method or bad options: fail first
    dataset = load_dataset(config.dataset, data_dir=config.data_dir, limit=config.limit)
    sandbox = open_sandbox(config, dataset, progress)
    results = ResultsFile(out / RESULTS_FILE)
    own_engine = engine is None
    try:
        prepare_run_dir(out, _manifest(config, dataset, sandbox), resume=resume)
        done = {row.get("id") for row in results.recover()}
        todo = [e for e in dataset.examples if e.id not in done]
        engine = engine or make_engine(config.engine)
        ctx = RunContext(config=config, engine=engine, sandbox=sandbox)
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

    def on_done(result: QuestionResult) -> None:
        results.append(result.model_dump(mode="json"))
        counts["done"] += 1
        counts["errors"] += result.error is not None
        counts["correct"] += result.metrics.correct
        bar.set_postfix(acc=f"{counts['correct'] / counts['done']:.2f}", errors=counts["errors"],
                        refresh=False)
        bar.update(1)

    try:
        await run_concurrently(todo, ctx.evaluate, on_done, ctx.config.concurrency)
    finally:
        bar.close()
    return counts["errors"]


__all__ = [
    "EmptyRetriever",
    "ErrorInfo",
    "MeteredEngine",
    "QuestionResult",
    "RunContext",
    "RunSummary",
    "is_masked",
    "make_engine",
    "open_sandbox",
    "run_concurrently",
    "run_eval",
]
