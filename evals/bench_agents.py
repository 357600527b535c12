"""``sleuth bench agents``: scheduling policies for many concurrent search agents, side by side.

One workload (N multi-hop questions, all at once or as a Poisson stream) runs once per
policy, each on a fresh engine and retriever:

==================== ============== ============================ ==============
policy               LLM queue      retrieval                    prefix reuse
==================== ============== ============================ ==============
fifo-blocking        FIFO, unbounded blocking, one query per call  no
priority             priority, KV-bounded  blocking                no
non-stall            FIFO, unbounded micro-batched, adaptive effort no
priority+non-stall   priority, KV-bounded  micro-batched, adaptive  yes
==================== ============== ============================ ==============

"Blocking" is a synchronous index call made from the agent, which holds the event loop
(so no other agent's generation is dispatched or collected meanwhile). The simulated
engine runs on a virtual clock; the embedded engine runs the real model in real time.
The same :class:`~sleuth.engines.scheduler.ScheduledEngine`,
:class:`~sleuth.retrieval.batcher.BatchingRetriever` and :func:`~sleuth.graphs.runtime.run_many`
code runs in both.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from sleuth.engines.base import LLMEngine
from sleuth.engines.scheduler import AgentContext, ScheduledEngine
from sleuth.engines.simulated import PROFILES, SimulatedEngine, SimulatedEngineConfig
from sleuth.engines.simulated_agents import (
    RetrievalModelConfig,
    SimQuestion,
    SimulatedRetriever,
    SimulatedSearchR1Model,
    WorkloadConfig,
    make_workload,
)
from sleuth.engines.virtual_clock import run_virtual
from sleuth.errors import ConfigError, DatasetError
from sleuth.evals.metrics import f1_score
from sleuth.graphs.runtime import AgentFailure, Outcome, run_many
from sleuth.retrieval.base import Retriever
from sleuth.retrieval.batcher import AdaptiveEffort, BatchingRetriever
from sleuth.types import Answer, SearchHit, StrictModel


@dataclass(frozen=True)
class PolicySetup:
    """One row of the comparison."""

    scheduler: Literal["fifo", "priority", "shortest-remaining"]
    non_stall: bool
    """Micro-batched retrieval off the loop with adaptive effort (else blocking calls)."""
    prefix_reuse: bool
    """Engine prefix cache on, and a sticky session per agent."""
    bounded: bool
    """Bound calls in flight to what the KV cache holds (else send everything)."""
    label: str = "agents"


POLICY_SETUPS: dict[str, PolicySetup] = {
    "fifo-blocking": PolicySetup("fifo", non_stall=False, prefix_reuse=False, bounded=False),
    "priority": PolicySetup("priority", non_stall=False, prefix_reuse=False, bounded=True),
    "non-stall": PolicySetup("fifo", non_stall=True, prefix_reuse=False, bounded=False),
    "priority+non-stall": PolicySetup("priority", non_stall=True, prefix_reuse=True, bounded=True),
    # Ablations, run only when named with --policies:
    "fifo+prefix": PolicySetup("fifo", non_stall=False, prefix_reuse=True, bounded=False),
    "priority+prefix": PolicySetup("priority", non_stall=False, prefix_reuse=True, bounded=True),
    "fifo+non-stall+prefix": PolicySetup("fifo", non_stall=True, prefix_reuse=True, bounded=False),
}
DEFAULT_POLICIES = ["fifo-blocking", "priority", "non-stall", "priority+non-stall"]


def setup_for(name: str) -> PolicySetup:
    """The named policy, labelled with its name (for progress bars)."""
    try:
        return replace(POLICY_SETUPS[name], label=name)
    except KeyError:
        raise ConfigError(f"Unknown policy {name!r}.", hint=f"choose from: {', '.join(POLICY_SETUPS)}") from None


class AgentBenchConfig(StrictModel):
    """Settings of one ``sleuth bench agents`` run."""

    engine: Literal["simulated", "embedded"] = "simulated"
    questions: int = Field(default=500, ge=1)
    rate: float | None = Field(default=None, gt=0)
    """Poisson arrival rate (questions/s); ``None`` = offline, all at once."""
    policies: list[str] = Field(default_factory=lambda: list(DEFAULT_POLICIES))
    profile: str = "llama2-7b-a100"
    """Simulated GPU profile (see ``sleuth.engines.simulated.PROFILES``)."""
    concurrency: int = Field(default=1024, ge=1)
    """Agents running at once."""
    max_in_flight: int | None = Field(default=None, ge=1)
    """LLM calls in flight for bounded policies; default: KV capacity / 1,024 tokens."""
    max_in_flight_tokens: int | None = Field(default=None, ge=1)
    """Prompt tokens in flight for bounded policies; default: the KV capacity, so calls with
    longer prompts than the count assumes still fit."""
    top_k: int | None = Field(default=None, ge=1, le=50)
    """Passages per search (default: the method's, 3; SearchAgent-X used 5)."""
    recall_floor: float = Field(default=0.98, gt=0, le=1)
    """Adaptive ANN effort never drops below the effort reaching this recall."""
    max_turns: int = Field(default=6, ge=1)
    """Search-R1 turns per question before an answer is forced."""
    max_tokens: int | None = Field(default=None, ge=16)
    """Token budget of one turn (default: the method's)."""
    ef_max: int = Field(default=512, ge=16)
    """Simulated HNSW efSearch at full effort (recall 0.992 at 512)."""
    workload: Literal["hotpotqa", "musique"] = "hotpotqa"
    """Simulated agents: hops per question and accuracy (see :data:`WORKLOADS`)."""
    dataset: str | None = None
    """Questions to draw from (default: the workload's dataset)."""
    data_dir: Path | None = None
    seed: int = 0
    model: str = "qwen2.5-coder-0.5b"
    """Embedded model (``--engine embedded``)."""
    progress: bool = False
    """A progress bar per policy on stderr."""


WORKLOADS: dict[str, tuple[str, WorkloadConfig]] = {
    # HotpotQA: 1-4 searches (mean 2.05); Search-R1-7B EM ~0.45
    "hotpotqa": ("hotpotqa-sandbox", WorkloadConfig()),
    # MuSiQue-Ans dev, SearchAgent-X's request set: 2/3/4 hops = 1,252/760/405 of 2,417
    # questions (Trivedi et al., 2022); Search-R1-7B EM on MuSiQue ~0.2
    "musique": ("musique-dev", WorkloadConfig(hop_weights=[0.0, 0.518, 0.314, 0.168], accuracy=0.2)),
}
"""Simulated workloads: the dataset their questions come from and how their agents behave."""


class PolicyResult(StrictModel):
    policy: str
    questions: int
    completed: int
    failed: int
    makespan_s: float
    throughput_qps: float
    p50_s: float
    p95_s: float
    p99_s: float
    llm_idle_frac: float
    retrieval_wait_s: float
    """Mean seconds an agent waited per search."""
    searches: int
    prompt_tokens: int
    recomputed_prompt_tokens: int
    preemptions: int
    engine_busy_s: float = 0.0
    """Seconds the engine spent running steps (simulated), or with calls in flight (embedded)."""
    engine_floor_s: float | None = None
    """Simulated engine only: the least engine time these requests need under any policy
    (:meth:`~sleuth.engines.simulated.SimulatedEngine.floor_s`); offline, no policy sending
    the same requests can finish sooner."""
    p95_floor_s: float | None = None
    """Simulated offline runs with every agent started at once: the least p95 latency any
    policy sending the same requests could reach
    (:meth:`~sleuth.engines.simulated.SimulatedEngine.completion_floor_s`)."""
    f1: float
    same_answers: bool = True
    """Every answer equals the first policy's answer to the same question."""
    cpu_s: float
    throughput_ratio: float = 1.0
    p95_ratio: float = 1.0
    """Both relative to the first policy of the run."""


@dataclass
class RunRecord:
    """What one policy's run produced, for the summary."""

    outcomes: list[Outcome] = field(default_factory=list)
    agents: dict[int, AgentContext] = field(default_factory=dict)
    engine_busy_s: float = 0.0
    engine_floor_s: float | None = None
    p95_floor_s: float | None = None
    preemptions: int = 0
    prompt_tokens: int = 0
    recomputed_prompt_tokens: int = 0

    def take_engine_figures(self, scheduled: ScheduledEngine, busy_s: float, preemptions: int) -> None:
        self.engine_busy_s = busy_s
        self.preemptions = preemptions
        self.prompt_tokens = scheduled.stats.prompt_tokens
        self.recomputed_prompt_tokens = scheduled.stats.recomputed_prompt_tokens


def run_agent_bench(config: AgentBenchConfig) -> list[PolicyResult]:
    """Run every policy in ``config.policies`` on the same workload; results in that order."""
    return list(iter_agent_bench(config))


def iter_agent_bench(config: AgentBenchConfig) -> Iterator[PolicyResult]:
    """Like :func:`run_agent_bench`, yielding each policy's row as soon as it is measured
    (ratios are against the first policy), so a long run shows its rows as it goes."""
    for name in config.policies:
        setup_for(name)
    if config.profile not in PROFILES:
        raise ConfigError(f"Unknown profile {config.profile!r}.", hint=f"choose from: {', '.join(PROFILES)}")
    rows = _question_rows(config)
    arrivals = _arrivals(config)
    runner, golds = _runner(config, rows, arrivals)
    first: tuple[PolicyResult, list[str]] | None = None
    for name in config.policies:
        start = time.process_time()
        record = runner(name)
        texts = [o.text if isinstance(o, Answer) else "" for o in record.outcomes]
        result = _summarise(name, record, golds, arrivals)
        result.cpu_s = time.process_time() - start
        first = first or (result, texts)
        result.same_answers = texts == first[1]
        yield _with_ratio(result, first[0])


def _runner(
    config: AgentBenchConfig, rows: list[tuple[str, str]], arrivals: list[float] | None
) -> tuple[Callable[[str], RunRecord], list[str]]:
    """How to run one named policy, and the gold answer of each question."""
    if config.engine == "embedded":
        from sleuth.evals.bench_agents_embedded import run_embedded_policy

        def embedded(name: str) -> RunRecord:
            record: RunRecord = run_embedded_policy(config, setup_for(name), rows, arrivals)
            return record

        return embedded, [answer for _, answer in rows]
    behaviour = WORKLOADS[config.workload][1].model_copy(update={"seed": config.seed})
    workload = make_workload(config.questions, behaviour, rows)

    def simulated(name: str) -> RunRecord:
        return _run_simulated(config, setup_for(name), workload, arrivals)

    return simulated, [q.answer for q in workload]


# --- workload -----------------------------------------------------------------------------
def _question_rows(config: AgentBenchConfig) -> list[tuple[str, str]]:
    from sleuth.evals.datasets import load_dataset

    try:
        name = config.dataset or WORKLOADS[config.workload][0]
        dataset = load_dataset(name, data_dir=config.data_dir, limit=config.questions)
    except DatasetError:
        if config.engine == "embedded":
            raise
        return []  # the simulated workload falls back to synthetic questions
    rows = [(ex.question, ex.answers[0] if ex.answers else "") for ex in dataset.examples]
    return [rows[i % len(rows)] for i in range(config.questions)] if rows else []


def _arrivals(config: AgentBenchConfig) -> list[float] | None:
    if config.rate is None:
        return None
    rng = random.Random(config.seed)
    t, out = 0.0, []
    for _ in range(config.questions):
        out.append(t)
        t += rng.expovariate(config.rate)
    return out


# --- the simulated engine -------------------------------------------------------------------
def _run_simulated(
    config: AgentBenchConfig, setup: PolicySetup, workload: list[SimQuestion], arrivals: list[float] | None
) -> RunRecord:
    engine_config = PROFILES[config.profile].model_copy(update={"prefix_cache": setup.prefix_reuse})
    record: RunRecord = run_virtual(_simulate(config, setup, workload, arrivals, engine_config))
    return record


async def _simulate(
    config: AgentBenchConfig,
    setup: PolicySetup,
    workload: list[SimQuestion],
    arrivals: list[float] | None,
    engine_config: SimulatedEngineConfig,
) -> RunRecord:
    engine = SimulatedEngine(SimulatedSearchR1Model(workload), engine_config)
    scheduled = ScheduledEngine(
        engine, setup.scheduler, max_in_flight=in_flight_bound(config, setup, engine_config),
        max_in_flight_tokens=tokens_bound(config, setup, engine_config),
        sticky_sessions=setup.prefix_reuse,
    )
    model = RetrievalModelConfig(ef_max=config.ef_max)
    if setup.non_stall:
        floor = min_effort_for_floor(model, config.recall_floor)
        retriever: Retriever = BatchingRetriever(
            SimulatedRetriever(model), max_wait_ms=2.0,
            effort=AdaptiveEffort(scheduled.pressure, min_effort=floor),
        )
    else:
        retriever = SimulatedRetriever(model, blocking=True)
    questions = [q.question for q in workload]
    record = await run_policy(config, questions, scheduled, retriever, arrivals, setup.label)
    record.take_engine_figures(scheduled, engine.stats.busy_s, engine.stats.preemptions)
    record.engine_floor_s = engine.floor_s()
    answered = sum(isinstance(o, Answer) for o in record.outcomes)
    if arrivals is None and config.concurrency >= len(record.outcomes) and answered:
        # offline, all started at 0: latency is completion time, and the interpolated
        # p95 lies at or above the k-th completion, k = floor(0.95 (n - 1)) + 1
        record.p95_floor_s = engine.completion_floor_s(math.floor(0.95 * (answered - 1)) + 1)
    await retriever.aclose()
    await scheduled.aclose()
    return record


def in_flight_bound(config: AgentBenchConfig, setup: PolicySetup, engine: SimulatedEngineConfig) -> int:
    """Unbounded policies send every call (the engine's own limit applies); bounded ones
    send what the KV cache holds at ~1,024 tokens a call (this workload's mean prompt)."""
    seqs: int = engine.max_num_seqs
    if not setup.bounded:
        return max(seqs, config.concurrency)
    if config.max_in_flight is not None:
        return config.max_in_flight
    kv_tokens: int = engine.kv_capacity_tokens
    return max(1, min(seqs, kv_tokens // 1024))


def tokens_bound(config: AgentBenchConfig, setup: PolicySetup, engine: SimulatedEngineConfig) -> int | None:
    """Bounded policies also cap the prompt tokens in flight at what the KV cache holds.

    The call-count bound assumes ~1,024-token prompts; with longer ones (more passages per
    search, more turns) that many calls overflow the cache, and the engine preempts and
    evicts the very prefixes priority was keeping hot (MuSiQue with 5 passages a search:
    makespan 246 s on the count alone, 175 s with both bounds).
    """
    if not setup.bounded:
        return None
    if config.max_in_flight_tokens is not None:
        return config.max_in_flight_tokens
    capacity: int = engine.kv_capacity_tokens
    return capacity


def min_effort_for_floor(model: RetrievalModelConfig, recall_floor: float) -> float:
    """The effort at which the simulated index reaches ``recall_floor``."""
    ef_needed = model.recall_miss_coeff / max(1e-9, 1.0 - recall_floor)
    if ef_needed >= model.ef_max:
        return 1.0
    return max(0.0, math.log(max(ef_needed, model.ef_min) / model.ef_min) / math.log(model.ef_max / model.ef_min))


async def run_policy(
    config: AgentBenchConfig,
    questions: Sequence[str],
    engine: LLMEngine,
    retriever: Retriever,
    arrivals: list[float] | None,
    label: str = "agents",
) -> RunRecord:
    """Run the workload once through :func:`run_many`, keeping each agent's context."""
    record = RunRecord()

    def keep(index: int, outcome: Outcome, agent: AgentContext) -> None:
        record.agents[index] = agent

    record.outcomes = await run_many(
        questions, engine=engine, retriever=retriever, method="search-r1",
        options=_options(config), concurrency=config.concurrency,
        arrivals=arrivals, on_result=keep, progress=label if config.progress else False,
    )
    return record


def _options(config: AgentBenchConfig) -> dict[str, Any]:
    options: dict[str, Any] = {"max_turns": config.max_turns}
    if config.top_k is not None:
        options["top_k"] = config.top_k
    if config.max_tokens is not None:
        options["max_tokens"] = config.max_tokens
    return options


class BlockingRetriever:
    """Calls a retriever's synchronous search on the event loop: the naive integration."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = f"blocking({inner.name})"

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        hits: list[list[SearchHit]] = self.inner.search_sync(queries, k)
        return hits

    async def aclose(self) -> None:
        return None


# --- summary --------------------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _summarise(
    name: str, record: RunRecord, golds: list[str], arrivals: list[float] | None
) -> PolicyResult:
    answers = [o for o in record.outcomes if isinstance(o, Answer)]
    latencies = [a.usage.wall_s for a in answers]
    ends = [
        (arrivals[i] if arrivals else 0.0) + (o.usage.wall_s if isinstance(o, Answer) else o.elapsed_s)
        for i, o in enumerate(record.outcomes)
    ]
    makespan = max(ends) if ends else 0.0
    searches = sum(a.searches for a in record.agents.values())
    wait = sum(a.retrieval_wait_s for a in record.agents.values())
    f1s = [
        f1_score(o.text, [golds[i]]) if isinstance(o, Answer) and golds else 0.0
        for i, o in enumerate(record.outcomes)
    ]
    return PolicyResult(
        policy=name,
        questions=len(record.outcomes),
        completed=len(answers),
        failed=sum(isinstance(o, AgentFailure) for o in record.outcomes),
        makespan_s=makespan,
        throughput_qps=len(answers) / makespan if makespan > 0 else 0.0,
        p50_s=_percentile(latencies, 0.50),
        p95_s=_percentile(latencies, 0.95),
        p99_s=_percentile(latencies, 0.99),
        llm_idle_frac=max(0.0, 1.0 - record.engine_busy_s / makespan) if makespan > 0 else 1.0,
        retrieval_wait_s=wait / searches if searches else 0.0,
        searches=searches,
        prompt_tokens=record.prompt_tokens,
        recomputed_prompt_tokens=record.recomputed_prompt_tokens,
        preemptions=record.preemptions,
        engine_busy_s=record.engine_busy_s,
        engine_floor_s=record.engine_floor_s,
        p95_floor_s=record.p95_floor_s,
        f1=sum(f1s) / len(f1s) if f1s else 0.0,
        cpu_s=0.0,
    )


def _with_ratio(result: PolicyResult, base: PolicyResult) -> PolicyResult:
    nan = float("nan")
    result.throughput_ratio = result.throughput_qps / base.throughput_qps if base.throughput_qps else nan
    result.p95_ratio = result.p95_s / base.p95_s if base.p95_s else nan
    return result


def table_header(config: AgentBenchConfig) -> str:
    """The title and column header of the side-by-side table."""
    mode = "offline" if config.rate is None else f"Poisson {config.rate:g} q/s"
    where = f"simulated {config.profile}" if config.engine == "simulated" else f"embedded {config.model}"
    head = (f"{'policy':<20} {'q/s':>7} {'x':>6} {'p50 s':>8} {'p95 s':>8} {'x':>6} {'p99 s':>8} "
            f"{'idle':>6} {'retr ms':>8} {'recomp tok':>11} {'floor s':>8} {'F1':>6} {'same':>5}")
    passages = "" if config.top_k is None else f", {config.top_k} passages per search"
    title = f"{config.questions} {config.workload} questions{passages}, {mode}, {where}"
    return "\n".join([title, head, "-" * len(head)])


def table_row(r: PolicyResult) -> str:
    """One policy's line; ``x`` columns are ratios against the first policy."""
    line = (
        f"{r.policy:<20} {r.throughput_qps:7.3f} {r.throughput_ratio:6.2f} {r.p50_s:8.2f} "
        f"{r.p95_s:8.2f} {r.p95_ratio:6.2f} {r.p99_s:8.2f} {r.llm_idle_frac:6.1%} "
        f"{r.retrieval_wait_s * 1000:8.1f} {r.recomputed_prompt_tokens:11d} "
        f"{'-' if r.engine_floor_s is None else f'{r.engine_floor_s:.2f}':>8} {r.f1:6.3f} "
        f"{'yes' if r.same_answers else 'NO':>5}"
    )
    return line + (f"  ({r.failed} failed)" if r.failed else "")


def floor_note(results: list[PolicyResult], config: AgentBenchConfig) -> str | None:
    """Offline simulated runs: the most any policy could gain over the first one.

    The first policy's engine floor is the least engine time its requests need under any
    schedule, so no policy sending the same requests beats its throughput by more than
    makespan / floor. ``None`` when there is no floor (embedded) or arrivals bound the run.
    """
    if not results or config.rate is not None or not results[0].engine_floor_s:
        return None
    base = results[0]
    floor = base.engine_floor_s or 0.0
    bound = base.makespan_s / floor
    lines = [(f"floor: {base.policy}'s requests need at least {floor:.1f} s of engine time under any "
              f"policy, so none sending them exceeds {bound:.2f}x its throughput")]
    if base.p95_floor_s:
        lines.append(f"       and none gets its p95 below {base.p95_floor_s:.1f} s "
                     f"({base.p95_floor_s / base.p95_s:.2f}x its p95)")
    for r in results[1:]:
        if r.engine_floor_s:
            lines.append(f"  {r.policy}: {r.throughput_ratio:.2f}x, its makespan "
                         f"{r.makespan_s / r.engine_floor_s:.2f}x its own floor")
    return "\n".join(lines)


def format_table(results: list[PolicyResult], config: AgentBenchConfig) -> str:
    """The side-by-side table, with ratios against the first policy, and the floor note."""
    note = floor_note(results, config)
    return "\n".join([table_header(config), *(table_row(r) for r in results), *([note] if note else [])])


__all__ = [
    "DEFAULT_POLICIES",
    "POLICY_SETUPS",
    "AgentBenchConfig",
    "BlockingRetriever",
    "PolicyResult",
    "PolicySetup",
    "RunRecord",
    "floor_note",
    "format_table",
    "in_flight_bound",
    "iter_agent_bench",
    "run_agent_bench",
    "run_policy",
    "table_header",
    "table_row",
    "tokens_bound",
]
