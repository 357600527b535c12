"""In-process vLLM on its v1 async engine (``pip install 'sleuth[vllm]'``, needs a CUDA GPU).

The engine is vLLM's ``AsyncLLM`` (``AsyncLLMEngine`` is an alias of it since the v1
engine), built with ``enable_prefix_caching=True`` so agents that extend the same prompt
share KV blocks, and ``scheduling_policy="priority"`` so ``GenerationRequest.priority``
orders the queue (lower runs first).

``AsyncLLM`` binds itself to the event loop it first runs on. To serve callers on any
loop (a CLI's ``asyncio.run``, pytest's per-test loops), the engine runs on a private
event loop in a background thread and callers await it through thread-safe futures.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from collections.abc import Coroutine, Sequence
from typing import Any, Literal, TypeVar

from sleuth._optional import require
from sleuth.engines.base import ChatMessage, GenerationRequest, GenerationResponse, TokenLogprob
from sleuth.errors import EngineError

T = TypeVar("T")

HF_MODELS = {
    "qwen2.5-coder-1.5b": "Qwen/Qwen2.5-Coder-1.5B-Instruct",
    "qwen2.5-coder-0.5b": "Qwen/Qwen2.5-Coder-0.5B-Instruct",
}
"""Sleuth's embedded model names, mapped to the Hugging Face repositories vLLM loads."""


class VLLMEngine:
    """vLLM in this process, with prefix caching and priority scheduling."""

    native_priority = True
    """vLLM queues by ``GenerationRequest.priority`` itself (see ``ScheduledEngine``)."""

    def __init__(
        self,
        model: str = "qwen2.5-coder-1.5b",
        *,
        max_model_len: int = 8192,
        gpu_memory_utilization: float = 0.85,
        seed: int = 0,
        enforce_eager: bool = False,
    ) -> None:
        self._vllm = require("vllm", "vllm", purpose="the in-process vLLM engine")
        self.model = HF_MODELS.get(model, model)
        self.name = f"vllm:{self.model}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sleuth-vllm", daemon=True)
        self._thread.start()
        options = {
            "model": self.model,
            "max_model_len": max_model_len,
            "gpu_memory_utilization": gpu_memory_utilization,
            "seed": seed,
            "enforce_eager": enforce_eager,
        }
        try:
            self._engine = self._run(self._start(options))
        except Exception:
            self._stop_loop()
            raise

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        future = asyncio.run_coroutine_threadsafe(self._generate(request), self._loop)
        return await asyncio.wrap_future(future)  # cancelling this aborts the vLLM request

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Shut down vLLM's engine core and the private loop. Safe to call twice."""
        if self._thread.is_alive():
            self._engine.shutdown()
            self._stop_loop()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    async def _start(self, options: dict[str, Any]) -> Any:
        engine_cls, args_cls = _engine_classes()
        args = args_cls(enable_prefix_caching=True, scheduling_policy="priority", **options)
        try:
            return engine_cls.from_engine_args(args)
        except Exception as exc:
            raise EngineError(
                f"vLLM could not start {self.model}: {type(exc).__name__}: {exc}",
                hint="vLLM needs a CUDA GPU with enough free memory; lower "
                "gpu_memory_utilization or max_model_len, or use --engine embedded",
                model=self.model,
            ) from exc

    async def _generate(self, request: GenerationRequest) -> GenerationResponse:
        prompt = await self._prompt(request)
        params = self._sampling_params(request)
        final = None
        try:
            async for output in self._engine.generate(
                prompt, params, str(uuid.uuid4()), priority=request.priority
            ):
                final = output
        except (ValueError, RuntimeError) as exc:
            raise EngineError(
                f"vLLM failed to generate: {type(exc).__name__}: {exc}",
                hint="check the prompt length against max_model_len",
                model=self.model,
            ) from exc
        if final is None:
            raise EngineError("vLLM returned no output.", model=self.model)
        return _to_response(final, request)

    async def _prompt(self, request: GenerationRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        tokenizer = self._engine.get_tokenizer()
        if inspect.isawaitable(tokenizer):  # async before vLLM 0.11
            tokenizer = await tokenizer
        return render_with_tokenizer(tokenizer, request.messages or [], request.continue_assistant)

    def _sampling_params(self, request: GenerationRequest) -> Any:
        sampling = self._vllm.SamplingParams
        kind = self._vllm.sampling_params.RequestOutputKind.FINAL_ONLY
        return sampling(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed,
            stop=list(request.stop) or None,
            logprobs=1 if request.logprobs else None,
            output_kind=kind,
        )


def _engine_classes() -> tuple[Any, Any]:
    """vLLM's v1 ``AsyncLLM`` and ``AsyncEngineArgs``."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    try:
        from vllm.v1.engine.async_llm import AsyncLLM
    except ImportError:  # older layouts export only the alias
        from vllm import AsyncLLMEngine as AsyncLLM
    return AsyncLLM, AsyncEngineArgs


def render_with_tokenizer(
    tokenizer: Any, messages: Sequence[ChatMessage], continue_assistant: bool
) -> str:
    """Apply a Hugging Face chat template; a continued turn is left open for generation."""
    history = list(messages[:-1]) if continue_assistant else list(messages)
    prompt: str = tokenizer.apply_chat_template(
        [m.model_dump() for m in history], tokenize=False, add_generation_prompt=True
    )
    return prompt + messages[-1].content if continue_assistant else prompt


_FINISH: dict[str | None, Literal["stop", "length"]] = {"stop": "stop", "length": "length"}


def _to_response(final: Any, request: GenerationRequest) -> GenerationResponse:
    completion = final.outputs[0]
    stop_reason = completion.stop_reason
    return GenerationResponse(
        text=completion.text,
        finish_reason=_FINISH.get(completion.finish_reason, "error"),
        stop_sequence=stop_reason if isinstance(stop_reason, str) else None,
        prompt_tokens=len(final.prompt_token_ids or []),
        completion_tokens=len(completion.token_ids),
        cached_prompt_tokens=int(getattr(final, "num_cached_tokens", 0) or 0),
        logprobs=_logprobs(completion) if request.logprobs else None,
    )


def _logprobs(completion: Any) -> list[TokenLogprob]:
    result = []
    for token_id, candidates in zip(completion.token_ids, completion.logprobs or []):
        chosen = candidates[token_id]
        result.append(TokenLogprob(token=chosen.decoded_token or "", logprob=chosen.logprob))
    return result


__all__ = ["HF_MODELS", "VLLMEngine", "render_with_tokenizer"]
