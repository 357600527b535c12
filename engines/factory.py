"""Build an engine from :class:`~sleuth.config.EngineSettings`; backends import lazily."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sleuth.config import EngineSettings
from sleuth.engines.base import LLMEngine
from sleuth.engines.router import build_routed
from sleuth.errors import ConfigError
from sleuth.types import EngineRole

KINDS = ("embedded", "openai", "vllm")


def create_engine(
    settings: EngineSettings | None = None,
    *,
    cache_dir: Path | None = None,
    **overrides: Any,
) -> LLMEngine:
    """Create the engine ``settings.kind`` names, with ``overrides`` applied to the settings.

    ``create_engine(kind="openai", base_url="http://127.0.0.1:8000/v1", model="Qwen/...")``
    ``cache_dir`` is Sleuth's cache root (embedded models go to ``<cache_dir>/models``).
    """
    resolved = _apply(settings or EngineSettings(), overrides)
    if resolved.kind == "embedded":
        from sleuth.engines.llama_cpp import LlamaCppEngine

        return LlamaCppEngine(
            resolved.model, n_ctx=resolved.n_ctx, n_threads=resolved.n_threads, cache_dir=cache_dir
        )
    if resolved.kind == "openai":
        from sleuth.engines.openai_compat import OpenAICompatibleEngine

        return OpenAICompatibleEngine(
            resolved.base_url,
            resolved.model,
            api_key=resolved.api_key,
            connect_timeout_s=resolved.connect_timeout_s,
            read_timeout_s=resolved.read_timeout_s,
            max_retries=resolved.max_retries,
        )
    if resolved.kind == "vllm":
        from sleuth.engines.vllm import VLLMEngine

        return VLLMEngine(resolved.model, max_model_len=resolved.n_ctx)
    raise ConfigError(
        f"Engine kind {resolved.kind!r} cannot be built from settings.",
        hint="use one of " + ", ".join(KINDS) + "; construct ScriptedEngine(outputs) directly",
        kind=resolved.kind,
    )


def create_routed_engine(
    settings: EngineSettings | None = None,
    roles: Mapping[EngineRole, EngineSettings] | None = None,
    *,
    cache_dir: Path | None = None,
    **overrides: Any,
) -> LLMEngine:
    """:func:`create_engine` for ``settings`` (with ``overrides``), and one more engine for
    each role in ``roles`` that its calls go to (:class:`~sleuth.engines.router.RoleRouter`)."""
    builders = {role: partial(create_engine, role_settings, cache_dir=cache_dir)
                for role, role_settings in (roles or {}).items()}
    return build_routed(partial(create_engine, settings, cache_dir=cache_dir, **overrides), builders)


def _apply(settings: EngineSettings, overrides: dict[str, Any]) -> EngineSettings:
    if not overrides:
        return settings
    try:
        return EngineSettings.model_validate({**settings.model_dump(), **overrides})
    except ValidationError as exc:
        raise ConfigError(
            f"Invalid engine settings: {exc}",
            hint="valid fields: " + ", ".join(EngineSettings.model_fields),
        ) from exc


__all__ = ["KINDS", "create_engine", "create_routed_engine"]
