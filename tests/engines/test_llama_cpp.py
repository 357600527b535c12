"""The embedded llama.cpp engine on the real 0.5B model: prefix reuse, logprobs, bad input."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from sleuth.engines.base import ChatMessage, GenerationRequest
from sleuth.engines.llama_cpp import LlamaCppEngine
from sleuth.errors import EngineError, MissingExtraError

pytestmark = pytest.mark.model


def _user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def _system(text: str) -> ChatMessage:
    return ChatMessage(role="system", content=text)


async def test_second_turn_reuses_the_first_turns_prefix(small_engine: LlamaCppEngine) -> None:
    history = [_system("You answer geography questions in one short sentence."), _user("Capital of Peru?")]
    first = await small_engine.generate(
        GenerationRequest(messages=history, max_tokens=24, session_id="geo")
    )
    history += [ChatMessage(role="assistant", content=first.text), _user("And of Chile?")]
    second = await small_engine.generate(
        GenerationRequest(messages=history, max_tokens=24, session_id="geo")
    )
    assert second.prompt_tokens > first.prompt_tokens
    # Everything up to the end of the first prompt is served from the KV cache.
    assert second.cached_prompt_tokens >= first.prompt_tokens - 1
    recomputed = second.prompt_tokens - second.cached_prompt_tokens
    new_turn = small_engine.count_tokens(first.text + "<|im_end|>\n<|im_start|>user\nAnd of Chile?")
    assert recomputed <= new_turn + 8


async def test_interleaved_sessions_keep_their_prefixes(small_engine: LlamaCppEngine) -> None:
    def convo(topic: str) -> list[ChatMessage]:
        return [_system(f"You are an expert on {topic}. " * 6), _user(f"Name one fact about {topic}.")]

    a1 = await small_engine.generate(GenerationRequest(messages=convo("rivers"), max_tokens=8, session_id="a"))
    b1 = await small_engine.generate(GenerationRequest(messages=convo("volcanoes"), max_tokens=8, session_id="b"))
    # B's prompt shares only the ChatML header with A's, so B recomputed nearly everything.
    assert b1.cached_prompt_tokens < b1.prompt_tokens // 4
    a2_messages = convo("rivers") + [ChatMessage(role="assistant", content=a1.text), _user("Another?")]
    a2 = await small_engine.generate(GenerationRequest(messages=a2_messages, max_tokens=8, session_id="a"))
    assert a2.cached_prompt_tokens >= a1.prompt_tokens - 1  # A's cache came back from its snapshot
    b2_messages = convo("volcanoes") + [ChatMessage(role="assistant", content=b1.text), _user("More?")]
    b2 = await small_engine.generate(GenerationRequest(messages=b2_messages, max_tokens=8, session_id="b"))
    assert b2.cached_prompt_tokens >= b1.prompt_tokens - 1


async def test_logprobs_match_llama_cpps_own_full_logits(
    small_engine: LlamaCppEngine, small_gguf_path: Path
) -> None:
    import llama_cpp

    prompt = "def fibonacci(n):\n    "
    ours = await small_engine.generate(
        GenerationRequest(prompt=prompt, max_tokens=8, temperature=0.0, logprobs=True)
    )
    reference = llama_cpp.Llama(
        model_path=str(small_gguf_path), n_ctx=256, n_threads=2, logits_all=True, verbose=False
    )
    try:
        theirs = reference.create_completion(prompt, max_tokens=8, temperature=0.0, logprobs=1)
    finally:
        reference.close()
    choice = theirs["choices"][0]
    assert ours.text == choice["text"]
    assert ours.logprobs is not None
    expected = choice["logprobs"]["token_logprobs"]
    assert [t.token for t in ours.logprobs] == choice["logprobs"]["tokens"]
    assert [t.logprob for t in ours.logprobs] == pytest.approx(expected, abs=0.02)


async def test_continue_assistant_extends_the_open_turn(small_engine: LlamaCppEngine) -> None:
    request = GenerationRequest(
        messages=[_user("List three colours."), ChatMessage(role="assistant", content="1. Red\n2.")],
        continue_assistant=True,
        max_tokens=12,
    )
    rendered = small_engine.render(request)
    assert rendered.endswith("<|im_start|>assistant\n1. Red\n2.")
    response = await small_engine.generate(request)
    assert response.text.strip()  # continues the list rather than starting a new turn


async def test_prompt_longer_than_the_context_is_a_clear_error(small_engine: LlamaCppEngine) -> None:
    with pytest.raises(EngineError) as info:
        await small_engine.generate(GenerationRequest(prompt="word " * 5000, max_tokens=4))
    assert "context window" in info.value.message
    assert info.value.hint is not None and "n_ctx" in info.value.hint


async def test_cancelling_a_call_frees_the_model(small_engine: LlamaCppEngine) -> None:
    long_call = asyncio.create_task(
        small_engine.generate(
            GenerationRequest(prompt="1, 2, 3, 4, 5,", max_tokens=3000, temperature=0.0)
        )
    )
    await asyncio.sleep(0.5)
    long_call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long_call
    quick = await asyncio.wait_for(
        small_engine.generate(GenerationRequest(prompt="Hello", max_tokens=2)), timeout=30
    )
    assert quick.completion_tokens > 0


async def test_queued_calls_leave_the_default_thread_pool_free(small_engine: LlamaCppEngine) -> None:
    calls = [
        asyncio.create_task(small_engine.generate(GenerationRequest(prompt=f"{n} + {n} =", max_tokens=8)))
        for n in range(8)  # more calls than the default pool has threads on small machines
    ]
    await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.to_thread(lambda: None), timeout=30)
    still_waiting = sum(not call.done() for call in calls)
    responses = await asyncio.gather(*calls)
    assert still_waiting >= 7  # the pool answered while the model was busy with the first call
    assert all(r.completion_tokens > 0 for r in responses)


def test_missing_llama_cpp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(MissingExtraError) as info:
        LlamaCppEngine("qwen2.5-coder-0.5b")
    assert info.value.hint == "pip install 'sleuth[embedded]'"


async def test_closed_engine_refuses_calls(small_gguf_path: Path) -> None:
    engine = LlamaCppEngine(str(small_gguf_path), n_ctx=512, progress=False)
    assert engine.name == f"llama_cpp:{small_gguf_path.name}"
    await engine.aclose()
    await engine.aclose()
    with pytest.raises(EngineError, match="closed"):
        await engine.generate(GenerationRequest(prompt="Hi", max_tokens=2))
