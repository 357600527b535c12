"""Typed settings, loadable from TOML and from ``SLEUTH_*`` environment variables.

Nothing here reads the environment at import time; call :meth:`SleuthSettings.load`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from sleuth.errors import ConfigError
from sleuth.types import EngineRole, StrictModel

EmbeddedModel = Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]


def default_cache_dir() -> Path:
    """``$SLEUTH_CACHE_DIR``, else ``$XDG_CACHE_HOME/sleuth``, else ``~/.cache/sleuth``."""
    explicit = os.environ.get("SLEUTH_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sleuth"


class EngineSettings(StrictModel):
    """Which LLM backend to use and how."""

    kind: Literal["embedded", "openai", "vllm", "scripted"] = "embedded"
    """Backend: embedded llama.cpp, an OpenAI-compatible server, in-process vLLM."""
    model: str = "qwen2.5-coder-1.5b"
    """Embedded model name (qwen2.5-coder-1.5b or qwen2.5-coder-0.5b), a GGUF path,
    or the served model name for openai/vllm."""
    base_url: str = "http://127.0.0.1:8080/v1"
    """OpenAI-compatible server root (only for kind=openai)."""
    api_key: str = "sleuth"
    """Bearer token sent to the OpenAI-compatible server."""
    n_ctx: int = Field(default=8192, ge=512)
    """Context window of the embedded model."""
    n_threads: int | None = None
    """CPU threads for llama.cpp; default: all cores."""
    connect_timeout_s: float = 5.0
    """Seconds to wait for a TCP connection to the server."""
    read_timeout_s: float = 300.0
    """Seconds to wait for a server's answer."""
    max_retries: int = Field(default=4, ge=0)
    """Retries on 429, 5xx and connection errors, with exponential backoff."""


class SleuthSettings(StrictModel):
    """Top-level settings."""

    cache_dir: Path = Field(default_factory=default_cache_dir)
    """Where assembled model files and other caches live."""
    engine: EngineSettings = Field(default_factory=EngineSettings)
    """The LLM engine."""
    roles: dict[EngineRole, EngineSettings] = Field(default_factory=dict)
    """Engines of their own for some calls, by role: ``[roles.judge]`` in TOML (or
    ``SLEUTH_ROLES__JUDGE__MODEL=...``) verifies EvidenceLoop's drafts with another model.
    A role with no entry uses ``engine``."""

    @classmethod
    def load(cls, path: str | Path | None = None, env: dict[str, str] | None = None) -> SleuthSettings:
        """Read a TOML file (optional), then apply ``SLEUTH_*`` variables on top.

        ``SLEUTH_ENGINE__MODEL=qwen2.5-coder-0.5b`` sets ``engine.model``.
        """
        data: dict[str, Any] = {}
        if path is not None:
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"Cannot read config {path}: {exc}", path=str(path)) from exc
        environ = os.environ if env is None else env
        for key, value in environ.items():
            if not key.startswith("SLEUTH_") or key == "SLEUTH_CACHE_DIR":
                continue
            parts = key[len("SLEUTH_"):].lower().split("__")
            node = data
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        if "SLEUTH_CACHE_DIR" in environ:
            data.setdefault("cache_dir", environ["SLEUTH_CACHE_DIR"])
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"Invalid Sleuth settings: {exc}", hint="see sleuth.config") from exc
