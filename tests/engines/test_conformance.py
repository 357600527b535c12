"""One behaviour suite that every engine backend passes.

The ``engine`` fixture is parametrized over the backends: the scripted double always, alone and
behind a :class:`RoleRouter` (whose judge engine these requests never reach); the real 0.5B model in-process (llama.cpp) and behind llama.cpp's OpenAI-compatible server
(marked ``model``); in-process vLLM (marked ``gpu``, skipped without vllm or CUDA).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from sleuth.engines.base import ChatMessage, GenerationRequest, LLMEngine
from sleuth.engines.openai_compat import OpenAICompatibleEngine
from sleuth.engines.router import RoleRouter
from sleuth.engines.scripted import ScriptedEngine

COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22"


def _count_on(request: GenerationRequest) -> str:
    """The scripted engine answers like a model asked to continue a count."""
    return COUNTING


@pytest.fixture(scope="session")
def vllm_engine() -> Iterator[Any]:
    pytest.importorskip("vllm", reason="pip install 'sleuth[vllm]'")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    from sleuth.engines.vllm import VLLMEngine

    model = os.environ.get("SLEUTH_VLLM_MODEL", "qwen2.5-coder-0.5b")
    engine = VLLMEngine(model, max_model_len=4096, gpu_memory_utilization=0.3)
    yield engine
    engine.close()


@pytest.fixture(
    params=[
        pytest.param("scripted"),
        pytest.param("router"),
        pytest.param("llama_cpp", marks=pytest.mark.model),
        pytest.param("openai", marks=pytest.mark.model),
        pytest.param("vllm", marks=pytest.mark.gpu),
    ]
)
async def engine(request: pytest.FixtureRequest) -> Any:
    if request.param == "scripted":
        yield ScriptedEngine(responder=_count_on)
    elif request.param == "router":
        yield RoleRouter(ScriptedEngine(responder=_count_on), {"judge": ScriptedEngine([" no"], repeat_last=True)})
    elif request.param == "llama_cpp":
        yield request.getfixturevalue("small_engine")
    elif request.param == "openai":
        url = request.getfixturevalue("llama_server_url")
        client = OpenAICompatibleEngine(
            url,
            "qwen2.5-coder-0.5b",
            read_timeout_s=120,
            max_retries=1,
            extra_body={"repeat_penalty": 1.0},  # sample like the other backends
        )
        yield client
        await client.aclose()
    else:
        yield request.getfixturevalue("vllm_engine")


def _count_prompt(**kwargs: Any) -> GenerationRequest:
    return GenerationRequest(prompt="Counting: 1, 2, 3, 4, 5,", **kwargs)


def _count_chat(**kwargs: Any) -> GenerationRequest:
    messages = [
        ChatMessage(role="system", content="You follow instructions exactly."),
        ChatMessage(role="user", content="Count from 1 to 30, separated by commas. Output only the numbers."),
    ]
    return GenerationRequest(messages=messages, **kwargs)


def test_every_backend_is_an_llm_engine(engine: LLMEngine) -> None:
    assert isinstance(engine, LLMEngine)
    assert engine.name


@pytest.mark.parametrize("make", [_count_prompt, _count_chat], ids=["prompt", "messages"])
async def test_generates_text_with_token_counts(engine: LLMEngine, make: Any) -> None:
    response = await engine.generate(make(max_tokens=12))
    assert response.text.strip()
    assert response.prompt_tokens > 0
    assert 0 < response.completion_tokens <= 12
    assert response.finish_reason in ("stop", "length")
    assert response.logprobs is None


@pytest.mark.parametrize("make", [_count_prompt, _count_chat], ids=["prompt", "messages"])
async def test_stop_sequence_cuts_the_text(engine: LLMEngine, make: Any) -> None:
    response = await engine.generate(make(stop=["9"], max_tokens=60))
    assert response.finish_reason == "stop"
    assert "9" not in response.text
    assert "8" in response.text  # it got there by counting, then stopped at the stop string
    assert response.stop_sequence in (None, "9")  # some servers do not report which stop hit


async def test_max_tokens_ends_with_length(engine: LLMEngine) -> None:
    response = await engine.generate(_count_prompt(max_tokens=3))
    assert response.finish_reason == "length"
    assert response.completion_tokens == 3
    assert response.stop_sequence is None


@pytest.mark.parametrize("temperature", [0.0, 0.9])
async def test_seeded_generation_is_reproducible(engine: LLMEngine, temperature: float) -> None:
    request = _count_chat(max_tokens=16, temperature=temperature, seed=1234)
    first = await engine.generate(request)
    second = await engine.generate(request)
    assert first.text == second.text


async def test_logprobs_are_returned_when_asked(engine: LLMEngine) -> None:
    response = await engine.generate(_count_prompt(max_tokens=6, logprobs=True))
    assert response.logprobs is not None
    assert len(response.logprobs) == response.completion_tokens
    assert all(entry.logprob <= 0.0 for entry in response.logprobs)
    # The tokens spell the text (the scripted double's word tokens drop whitespace).
    spelled = "".join(entry.token for entry in response.logprobs)
    assert "".join(spelled.split()) == "".join(response.text.split())
