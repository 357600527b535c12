"""A discrete-event model of a continuous-batching GPU engine, on a virtual clock.

:class:`SimulatedEngine` is an :class:`~sleuth.engines.base.LLMEngine` whose answers come
from a ``responder`` (a pure function of the request, like a model at temperature 0) and
whose timing comes from a model of a vLLM-style server:

- **iteration-level batching**: each step runs the running sequences' decode tokens plus
  chunked prefill, within ``max_num_seqs`` and a ``max_batched_tokens`` budget;
- **step time** ``= step_fixed_ms + per_token_ms * batched_tokens
  + kv_read_us_per_token * context_tokens_read`` (weights, compute, attention reads);
- **KV cache** of ``kv_capacity_tokens`` in blocks of ``block_tokens``; when a running
  sequence needs a block and none is free, the lowest-priority running sequence is
  preempted and recomputed later (vLLM's default);
- **prefix cache** (vLLM's automatic prefix caching): full blocks are content-hashed;
  freed blocks stay cached until evicted least-recently-used, and a new request skips
  the leading blocks it finds.

Profiles in :data:`PROFILES` are calibrated from published figures (see
``docs/scheduling.md``). Run the engine on a
:class:`~sleuth.engines.virtual_clock.VirtualClockLoop` (via
:func:`~sleuth.engines.virtual_clock.run_virtual`): sleeping advances a virtual clock
instantly, so minutes of GPU time simulate in seconds, while Sleuth's scheduler, batcher
and runtime run unchanged.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from sleuth.engines.base import GenerationRequest, GenerationResponse
from sleuth.engines.scheduler import current_agent
from sleuth.engines.scripted import _cut_at_stop
from sleuth.errors import EngineError, EngineUnavailableError
from sleuth.types import StrictModel


# --- configuration ----------------------------------------------------------------------
class SimulatedEngineConfig(StrictModel):
    """Timing and memory of one simulated GPU server; see ``docs/scheduling.md``."""

    profile: str = "custom"
    step_fixed_ms: float = Field(default=11.0, gt=0)
    """Per forward pass: reading the weights and launching kernels."""
    per_token_ms: float = Field(default=0.0928, ge=0)
    """Per batched token (prefill or decode): the matrix multiplications."""
    kv_read_us_per_token: float = Field(default=0.257, ge=0)
    """Per context token read by attention in a step: KV bytes / HBM bandwidth."""
    kv_capacity_tokens: int = Field(default=112_000, ge=16)
    block_tokens: int = Field(default=16, ge=1)
    max_num_seqs: int = Field(default=256, ge=1)
    max_batched_tokens: int = Field(default=8192, ge=16)
    prefix_cache: bool = True
    native_priority: bool = False
    """Order the engine's own queue by ``GenerationRequest.priority`` (vLLM's priority mode)."""
    chars_per_token: float = Field(default=4.0, gt=0)


# Llama-2-7B on one A100-80GB: step constants fitted to NVIDIA NeMo's published latencies
# (TP=1, 128 in / 20 out: 234.0 ms at batch 1, 329.5 ms at batch 8); KV from the model's
# shape (32 layers x 4096 x K,V x fp16 = 512 KiB/token) and ~55 GB left after weights.
# Qwen2.5-7B (Search-R1's base): GQA, 28 layers x 4 KV heads x 128 x K,V x bf16 =
# 56 KiB/token, compute scaled by parameters (7.6B / 6.7B).
PROFILES: dict[str, SimulatedEngineConfig] = {
    "llama2-7b-a100": SimulatedEngineConfig(profile="llama2-7b-a100"),
    "qwen2.5-7b-a100": SimulatedEngineConfig(
        profile="qwen2.5-7b-a100",
        step_fixed_ms=12.4,
        per_token_ms=0.105,
        kv_read_us_per_token=0.028,
        kv_capacity_tokens=938_000,
    ),
}


# --- the engine -------------------------------------------------------------------------
@dataclass(eq=False)
class _Seq:
    seq_no: int
    priority: int
    arrival: float
    prompt_tokens: int
    output_tokens: int
    chunks: list[int]
    """Chained content hashes of the full sequence's blocks (prompt + output)."""
    response: GenerationResponse
    future: asyncio.Future[GenerationResponse] = field(repr=False)
    prefill_target: int = 0
    """Tokens to prefill before decoding: the prompt, plus the output so far after a
    preemption (recomputed, as vLLM does)."""
    computed: int = 0
    generated: int = 0
    hashed: list[int] = field(default_factory=list)
    published: int = 0
    private: int = 0
    cached_tokens: int | None = None
    prefill_computed: int = 0

    @property
    def decoding(self) -> bool:
        return self.computed >= self.prefill_target


@dataclass(frozen=True)
class _FloorEntry:
    """One request, as the completion floor needs it."""

    agent: str
    chunks: list[int]
    """Hashes of the blocks the request computes (prompt and output, block-aligned)."""
    prompt_tokens: int
    output_tokens: int


@dataclass
class EngineStats:
    steps: int = 0
    busy_s: float = 0.0
    prefill_tokens: int = 0
    decode_tokens: int = 0
    cached_tokens: int = 0
    preemptions: int = 0
    peak_running: int = 0
    requests: int = 0


class SimulatedEngine:
    """A continuous-batching engine on the event loop's clock (see the module docstring)."""

    def __init__(
        self,
        responder: Callable[[GenerationRequest], str],
        config: SimulatedEngineConfig | str = "llama2-7b-a100",
    ) -> None:
        self.config = PROFILES[config] if isinstance(config, str) else config
        self.name = f"simulated[{self.config.profile}]"
        self.native_priority = self.config.native_priority
        self.stats = EngineStats()
        self._responder = responder
        self._total_blocks = self.config.kv_capacity_tokens // self.config.block_tokens
        self._free = self._total_blocks
        self._refs: dict[int, int] = {}
        self._cache: OrderedDict[int, None] = OrderedDict()
        self._waiting: deque[_Seq] = deque()
        self._running: list[_Seq] = []
        self._seq_no = 0
        self._floor_log: list[_FloorEntry] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # --- LLMEngine ------------------------------------------------------------------------
    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        if self._closed:
            raise EngineUnavailableError(f"{self.name} is closed.")
        loop = asyncio.get_running_loop()
        seq = self._make_seq(request, loop)
        self._enqueue(seq)
        self._ensure_running(loop)
        try:
            return await seq.future
        except asyncio.CancelledError:
            self._abort(seq)
            raise

    def pressure(self) -> float:
        """Sequences waiting for admission, over ``max_num_seqs`` (capped at 1)."""
        return min(1.0, len(self._waiting) / self.config.max_num_seqs)

    async def aclose(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for seq in [*self._waiting, *self._running]:
            if not seq.future.done():
                seq.future.set_exception(EngineUnavailableError(f"{self.name} was closed."))

    # --- requests -------------------------------------------------------------------------
    def _tokens(self, chars: int) -> int:
        return max(1, math.ceil(chars / self.config.chars_per_token))

    def _make_seq(self, request: GenerationRequest, loop: asyncio.AbstractEventLoop) -> _Seq:
        prompt = render_prompt(request)
        raw = self._responder(request)
        text, stop = _cut_at_stop(raw, request.stop)
        finish: Literal["stop", "length"] = "stop"
        max_chars = int(request.max_tokens * self.config.chars_per_token)
        if len(text) > max_chars:
            text, stop, finish = text[:max_chars], None, "length"
        prompt_tokens = self._tokens(len(prompt))
        output_tokens = self._tokens(len(text)) if text else 1
        chunks = self._chunk_hashes(prompt + text)
        self._log_for_floors(chunks, prompt_tokens, output_tokens)
        self._seq_no += 1
        self.stats.requests += 1
        return _Seq(
            seq_no=self._seq_no,
            priority=request.priority,
            arrival=loop.time(),
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            chunks=chunks if self.config.prefix_cache else [],
            response=GenerationResponse(
                text=text, finish_reason=finish,
                stop_sequence=stop, prompt_tokens=prompt_tokens, completion_tokens=output_tokens,
            ),
            future=loop.create_future(),
            prefill_target=prompt_tokens,
        )

    def _log_for_floors(self, chunks: list[int], prompt_tokens: int, output_tokens: int) -> None:
        """Keep what :meth:`floor_s` and :meth:`completion_floor_s` need of a request."""
        computed = min(len(chunks), (prompt_tokens + output_tokens - 1) // self.config.block_tokens)
        agent = current_agent()
        self._floor_log.append(_FloorEntry(
            agent=agent.agent_id if agent is not None else f"request {self._seq_no + 1}",
            chunks=chunks[:computed],  # the last output token is never fed back
            prompt_tokens=prompt_tokens, output_tokens=output_tokens,
        ))

    def floor_s(self) -> float:
        """A lower bound on the engine time the requests seen so far need under any policy.

        Every step costs ``step_fixed_ms + per_token_ms * tokens + kv_read * context``, so
        the busy time is at least the fixed cost of the fewest possible steps plus the
        per-token cost of the fewest tokens and context reads: every distinct prompt block
        prefilled once (a perfect, unbounded prefix cache: a block any earlier request
        computed is free), every decode token once, and a step count bounded by the token
        budget, ``max_num_seqs`` and the longest output. ``busy_s / floor_s()`` is how far a
        schedule is from ideal; no policy that sends the same requests can finish in less
        than ``floor_s()``.
        """
        c, block = self.config, self.config.block_tokens
        seen: set[int] = set()
        tokens = reads = outputs = longest = 0
        for entry in self._floor_log:
            hit = _leading_hits(entry.chunks, entry.prompt_tokens // block, seen.__contains__)
            seen.update(entry.chunks)
            decode = entry.output_tokens - 1  # the first output token comes with the prefill
            tokens += max(1, entry.prompt_tokens - hit * block) + decode
            reads += _least_reads(entry.prompt_tokens, decode)
            outputs += entry.output_tokens
            longest = max(longest, entry.output_tokens)
        steps = max(math.ceil(tokens / c.max_batched_tokens), math.ceil(outputs / c.max_num_seqs), longest)
        ms = c.step_fixed_ms * steps + c.per_token_ms * tokens
        return (ms + c.kv_read_us_per_token * reads / 1000.0) / 1000.0

    def completion_floor_s(self, agents: int) -> float:
        """A lower bound on when ``agents`` of the agents seen so far can all have finished,
        if every agent arrived at time 0 (an offline run), under any policy.

        Each agent is charged only for what no other agent could have computed for it: the
        prompt blocks that neither its own earlier turns nor any other agent's requests
        contain, its decode tokens, and its own attention reads. Finishing any ``agents`` of
        them takes at least the sum of the smallest such charges, plus the fixed cost of the
        steps their output tokens need at ``max_num_seqs`` per step. With agents taken from
        :func:`~sleuth.engines.scheduler.current_agent` (requests without one count as
        agents of their own), ``completion_floor_s(k)`` bounds the k-th completion time, so
        a latency percentile cannot fall below it.
        """
        c, block = self.config, self.config.block_tokens
        owner: dict[int, str | None] = {}  # block -> the one agent holding it, or None if several
        for entry in self._floor_log:
            for h in entry.chunks:
                if owner.setdefault(h, entry.agent) != entry.agent:
                    owner[h] = None
        own: dict[str, set[int]] = {}
        cost_ms: dict[str, float] = {}
        outputs: dict[str, int] = {}
        for entry in self._floor_log:
            seen = own.setdefault(entry.agent, set())
            prompt, decode = entry.prompt_tokens, entry.output_tokens - 1

            def known(h: int, seen: set[int] = seen) -> bool:  # its own turns, or several agents'
                return h in seen or owner[h] is None

            hit = _leading_hits(entry.chunks, prompt // block, known)
            seen.update(entry.chunks)
            cost_ms[entry.agent] = (cost_ms.get(entry.agent, 0.0)
                                    + c.per_token_ms * (max(1, prompt - hit * block) + decode)
                                    + c.kv_read_us_per_token * _least_reads(prompt, decode) / 1000.0)
            outputs[entry.agent] = outputs.get(entry.agent, 0) + entry.output_tokens
        if agents <= 0 or not cost_ms:
            return 0.0
        work = sum(sorted(cost_ms.values())[:agents])
        steps = math.ceil(sum(sorted(outputs.values())[:agents]) / c.max_num_seqs)
        return (work + c.step_fixed_ms * steps) / 1000.0

    def _chunk_hashes(self, text: str) -> list[int]:
        width = int(self.config.block_tokens * self.config.chars_per_token)
        out, prev = [], 0
        for start in range(0, len(text) - width + 1, width):
            prev = hash((prev, text[start : start + width]))
            out.append(prev)
        return out

    def _enqueue(self, seq: _Seq, front: bool = False) -> None:
        if self.native_priority:
            self._waiting.append(seq)
            self._waiting = deque(sorted(self._waiting, key=lambda s: (s.priority, s.arrival, s.seq_no)))
        elif front:
            self._waiting.appendleft(seq)
        else:
            self._waiting.append(seq)

    def _abort(self, seq: _Seq) -> None:
        seq.future.cancel()  # a step in progress skips it
        if seq in self._waiting:
            self._waiting.remove(seq)
        elif seq in self._running:
            self._running.remove(seq)
            self._release(seq)

    def _ensure_running(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._loop())
        self._wake.set()

    # --- the step loop --------------------------------------------------------------------
    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            if not self._waiting and not self._running:
                self._wake.clear()
                await self._wake.wait()
                continue
            preemptions = self.stats.preemptions
            batch = self._schedule()
            if not batch:
                if self.stats.preemptions == preemptions:
                    self._fail_unschedulable()
                continue
            duration = self._step_seconds(batch)
            self.stats.steps += 1
            self.stats.busy_s += duration
            await asyncio.sleep(duration)
            self._apply(batch)

    def _step_seconds(self, batch: list[tuple[_Seq, int]]) -> float:
        c = self.config
        tokens = sum(n for _, n in batch)
        context = sum(seq.computed + n for seq, n in batch)
        ms = c.step_fixed_ms + c.per_token_ms * tokens + c.kv_read_us_per_token * context / 1000.0
        return ms / 1000.0

    def _schedule(self) -> list[tuple[_Seq, int]]:
        budget = self.config.max_batched_tokens
        batch: list[tuple[_Seq, int]] = []
        preempted = False
        i = 0
        while i < len(self._running) and budget > 0:
            seq = self._running[i]
            n = 1 if seq.decoding else min(seq.prefill_target - seq.computed, budget)
            fits = True
            while fits and not self._allocate(seq, seq.computed + n):
                victim = self._victim()
                self._preempt(victim)
                preempted = True
                fits = victim is not seq
                for j, (queued, used) in enumerate(batch):
                    if queued is victim:  # already batched this step: take it back out
                        del batch[j]
                        budget += used
                        i -= 1
                        break
            if fits:
                batch.append((seq, n))
                budget -= n
                i += 1
        while not preempted and self._waiting and budget > 0 and len(self._running) < self.config.max_num_seqs:
            seq = self._waiting[0]
            n = self._admit(seq, budget)
            if n == 0:
                break
            self._waiting.popleft()
            self._running.append(seq)
            batch.append((seq, n))
            budget -= n
        self.stats.peak_running = max(self.stats.peak_running, len(self._running))
        return batch

    def _apply(self, batch: list[tuple[_Seq, int]]) -> None:
        for seq, n in batch:
            if seq.future.done():  # aborted while the step ran
                continue
            if seq.decoding:
                self.stats.decode_tokens += 1
                seq.computed += 1
                seq.generated += 1
            else:
                self.stats.prefill_tokens += n
                seq.prefill_computed += n
                seq.computed += n
                if seq.computed >= seq.prefill_target:
                    seq.generated += 1
                    self._publish(seq)
            if seq.generated >= seq.output_tokens:
                self._finish(seq)

    def _finish(self, seq: _Seq) -> None:
        self._running.remove(seq)
        self._release(seq)
        cached = max(0, seq.prompt_tokens - seq.prefill_computed)
        self.stats.cached_tokens += cached
        seq.future.set_result(seq.response.model_copy(update={"cached_prompt_tokens": cached}))

    def _fail_unschedulable(self) -> None:
        seq = self._waiting.popleft() if self._waiting else self._running.pop(0)
        self._release(seq)
        seq.future.set_exception(EngineError(
            f"A {seq.prompt_tokens}-token request does not fit the simulated KV cache "
            f"({self.config.kv_capacity_tokens} tokens).",
            hint="shorten the prompt or raise kv_capacity_tokens",
        ))

    # --- KV blocks ------------------------------------------------------------------------
    def _blocks(self, tokens: int) -> int:
        return -(-tokens // self.config.block_tokens)

    def _allocate(self, seq: _Seq, tokens: int) -> bool:
        extra = self._blocks(tokens) - len(seq.hashed) - seq.private
        if extra <= 0:
            return True
        while self._free < extra and self._cache:
            self._cache.popitem(last=False)
            self._free += 1
        if self._free < extra:
            return False
        self._free -= extra
        seq.private += extra
        return True

    def _admit(self, seq: _Seq, budget: int) -> int:
        hit = self._match(seq)
        for h in seq.chunks[:hit]:
            self._take(h)
        seq.hashed = list(seq.chunks[:hit])
        seq.published = hit
        seq.computed = hit * self.config.block_tokens
        n = min(seq.prefill_target - seq.computed, budget)
        if not self._allocate(seq, seq.computed + n):
            self._release(seq)
            return 0
        if seq.cached_tokens is None:
            seq.cached_tokens = min(seq.computed, seq.prompt_tokens)
        return n

    def _match(self, seq: _Seq) -> int:
        limit = min(len(seq.chunks), (seq.prefill_target - 1) // self.config.block_tokens)
        hit = 0
        while hit < limit and (seq.chunks[hit] in self._refs or seq.chunks[hit] in self._cache):
            hit += 1
        return hit

    def _take(self, h: int) -> None:
        if h in self._cache:
            del self._cache[h]
            self._refs[h] = 1
        else:
            self._refs[h] += 1

    def _publish(self, seq: _Seq) -> None:
        """Make the sequence's computed full blocks shareable (vLLM hashes full blocks)."""
        full = min(len(seq.chunks), seq.computed // self.config.block_tokens)
        for h in seq.chunks[seq.published : full]:
            if h in self._refs or h in self._cache:
                continue  # same content already cached: this copy stays private
            self._refs[h] = 1
            seq.hashed.append(h)
            seq.private -= 1
        seq.published = max(seq.published, full)

    def _release(self, seq: _Seq) -> None:
        if self.config.prefix_cache:
            self._publish(seq)
        for h in reversed(seq.hashed):  # the tail is evicted first, as in vLLM
            self._refs[h] -= 1
            if self._refs[h] == 0:
                del self._refs[h]
                self._cache[h] = None
        self._free += seq.private
        seq.hashed, seq.private, seq.published = [], 0, 0

    def _victim(self) -> _Seq:
        """The running sequence to preempt: the latest admitted, or the lowest priority."""
        if not self.native_priority:
            return self._running.pop()
        worst = max(self._running, key=lambda s: (s.priority, s.arrival, s.seq_no))
        self._running.remove(worst)
        return worst

    def _preempt(self, seq: _Seq) -> None:
        self.stats.preemptions += 1
        self._release(seq)
        seq.computed = 0
        seq.prefill_target = seq.prompt_tokens + seq.generated
        self._enqueue(seq, front=True)


def _leading_hits(chunks: list[int], limit: int, known: Callable[[int], bool]) -> int:
    """How many leading blocks (at most ``limit``) are ``known``: a prefix cache's hit."""
    hit, limit = 0, min(limit, len(chunks))
    while hit < limit and known(chunks[hit]):
        hit += 1
    return hit


def _least_reads(prompt_tokens: int, decode_tokens: int) -> int:
    """KV tokens one request's attention reads at the least: the prompt once, as one
    prefill chunk, then ``prompt + j`` for decode token ``j``."""
    return prompt_tokens + decode_tokens * prompt_tokens + decode_tokens * (decode_tokens + 1) // 2


def render_prompt(request: GenerationRequest) -> str:
    """The text the simulated model reads: a raw prompt, or messages in a ChatML-like form."""
    if request.prompt is not None:
        prompt: str = request.prompt
        return prompt
    messages = request.messages or []
    parts = [f"<|{m.role}|>\n{m.content}" for m in messages]
    text = "\n".join(parts)
    return text if request.continue_assistant else text + "\n<|assistant|>\n"


__all__ = [
    "PROFILES",
    "EngineStats",
    "SimulatedEngine",
    "SimulatedEngineConfig",
    "render_prompt",
]
