"""``--judge-engine``, ``--judge-model``, ``--judge-base-url``: another model verifies the drafts.

``sleuth ask`` and ``sleuth eval run`` take these to give EvidenceLoop's judge an engine of its
own (:class:`~sleuth.engines.router.RoleRouter`), such as a 7B model on a vLLM server checking
what the embedded 1.5B drafts. Any of them turns the judge role on; what is not given comes
from the main engine (``--judge-base-url`` alone means ``--judge-engine openai``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sleuth.config import SleuthSettings
    from sleuth.evals.rundir import EngineConfig


def add_judge_arguments(parser: argparse.ArgumentParser, kinds: list[str]) -> None:
    group = parser.add_argument_group(
        "judge engine", "give EvidenceLoop's judge a model of its own (default: the main engine)")
    group.add_argument("--judge-engine", choices=kinds, default=None, help="the judge's LLM backend")
    group.add_argument("--judge-model", default=None, help="the judge's model name or GGUF path")
    group.add_argument("--judge-base-url", default=None,
                       help="the judge's OpenAI-compatible server (implies --judge-engine openai)")


def _judge_updates(args: argparse.Namespace) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if args.judge_engine or args.judge_base_url:
        updates["kind"] = args.judge_engine or "openai"
    if args.judge_model:
        updates["model"] = args.judge_model
    if args.judge_base_url:
        updates["base_url"] = args.judge_base_url
    return updates


def judge_engine_config(args: argparse.Namespace, main: EngineConfig) -> EngineConfig:
    """``main`` with a judge role when any ``--judge-*`` flag was given (a copy)."""
    updates = _judge_updates(args)
    if not updates:
        return main
    judge = type(main).model_validate({**main.model_dump(), "roles": {}, **updates})
    return main.model_copy(update={"roles": {**main.roles, "judge": judge}})


def judge_flags(engine: EngineConfig) -> list[str]:
    """The ``--judge-*`` flags that give ``engine``'s judge role again (:func:`judge_engine_config`
    read backwards), for a command printed to rerun a run; none without a judge role."""
    judge = engine.roles.get("judge")
    if judge is None:
        return []
    return ["--judge-engine", judge.kind, "--judge-model", judge.model,
            *(["--judge-base-url", judge.base_url] if judge.base_url else [])]


def judge_settings(args: argparse.Namespace, settings: SleuthSettings) -> SleuthSettings:
    """``settings`` with a judge role when any ``--judge-*`` flag was given; the role starts
    from ``[roles.judge]`` when the settings have one, else from the main engine's settings."""
    updates = _judge_updates(args)
    if not updates:
        return settings
    base = settings.roles.get("judge", settings.engine)
    judge = type(base).model_validate({**base.model_dump(), **updates})
    return settings.model_copy(update={"roles": {**settings.roles, "judge": judge}})


__all__ = ["add_judge_arguments", "judge_engine_config", "judge_flags", "judge_settings"]
