"""VLLMEngine: a clear install hint without the extra (runs everywhere)."""

from __future__ import annotations

import sys

import pytest

from sleuth.engines.vllm import HF_MODELS, VLLMEngine
from sleuth.errors import MissingExtraError


def test_missing_vllm_raises_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    with pytest.raises(MissingExtraError) as info:
        VLLMEngine("qwen2.5-coder-0.5b")
    assert info.value.hint == "pip install 'sleuth[vllm]'"
    assert info.value.details["module"] == "vllm"


def test_embedded_names_map_to_hub_models() -> None:
    assert HF_MODELS["qwen2.5-coder-1.5b"] == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    assert VLLMEngine.native_priority is True
