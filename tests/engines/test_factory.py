"""create_engine builds each backend from typed settings, and refuses bad ones clearly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sleuth.config import EngineSettings, SleuthSettings
from sleuth.engines.factory import create_engine
from sleuth.engines.llama_cpp import LlamaCppEngine
from sleuth.engines.openai_compat import OpenAICompatibleEngine
from sleuth.errors import ConfigError, MissingExtraError, ModelFileError


async def test_openai_engine_from_environment_settings() -> None:
    settings = SleuthSettings.load(
        env={
            "SLEUTH_ENGINE__KIND": "openai",
            "SLEUTH_ENGINE__BASE_URL": "http://127.0.0.1:9999",
            "SLEUTH_ENGINE__MODEL": "Qwen/Qwen2.5-Coder-1.5B-Instruct",
            "SLEUTH_ENGINE__MAX_RETRIES": "1",
        }
    )
    engine = create_engine(settings.engine)
    assert isinstance(engine, OpenAICompatibleEngine)
    assert engine.base_url == "http://127.0.0.1:9999/v1"
    assert engine.model == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    assert engine.max_retries == 1
    await engine.aclose()


def test_overrides_are_validated() -> None:
    engine = create_engine(EngineSettings(kind="openai"), read_timeout_s=3.0)
    assert isinstance(engine, OpenAICompatibleEngine)
    with pytest.raises(ConfigError, match="Invalid engine settings") as info:
        create_engine(kind="openai", n_ctx=10)
    assert info.value.hint is not None and "n_ctx" in info.value.hint
    with pytest.raises(ConfigError):
        create_engine(kind="bogus")
    with pytest.raises(ConfigError):
        create_engine(kind="openai", base_url="not a url")


def test_scripted_kind_points_to_the_constructor() -> None:
    with pytest.raises(ConfigError) as info:
        create_engine(kind="scripted")
    assert info.value.hint is not None and "ScriptedEngine" in info.value.hint


def test_vllm_without_the_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    with pytest.raises(MissingExtraError) as info:
        create_engine(kind="vllm")
    assert info.value.hint == "pip install 'sleuth[vllm]'"
    assert "pip install 'sleuth[vllm]'" in str(info.value)


@pytest.mark.model
async def test_embedded_engine_from_a_gguf_path(small_gguf_path: Path) -> None:
    engine = create_engine(kind="embedded", model=str(small_gguf_path), n_ctx=512, n_threads=1)
    assert isinstance(engine, LlamaCppEngine)
    assert engine.n_ctx == 512
    await engine.aclose()


def test_embedded_engine_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="pip install 'sleuth[embedded]'")
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ModelFileError) as info:
        create_engine(kind="embedded", model=str(bogus), n_ctx=512)
    assert str(bogus) in info.value.message
