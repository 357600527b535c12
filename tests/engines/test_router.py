"""RoleRouter: each call goes to its role's engine; closing closes every engine once."""

from __future__ import annotations

from typing import Any

import pytest

from sleuth.engines.base import ChatMessage, GenerationRequest, GenerationResponse
from sleuth.engines.router import RoleRouter, build_routed, with_roles
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import ConfigError


def _request(role: Any = None) -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage(role="user", content="Is it so?")], role=role)


class Closing:
    """An engine that records its closes and can fail to close."""

    def __init__(self, name: str, fail: bool = False, native_priority: bool = False) -> None:
        self.name, self.fail, self.native_priority = name, fail, native_priority
        self.closed = 0

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        return GenerationResponse(text=self.name, finish_reason="stop")

    async def aclose(self) -> None:
        self.closed += 1
        if self.fail:
            raise RuntimeError(f"{self.name} would not close")

    def close(self) -> None:
        self.closed += 1


async def test_judge_calls_go_to_the_judge_engine_and_the_rest_to_the_default() -> None:
    main, judge = ScriptedEngine([" London"], repeat_last=True), ScriptedEngine([" yes"], repeat_last=True)
    router = RoleRouter(main, {"judge": judge})
    assert (await router.generate(_request())).text == " London"
    assert (await router.generate(_request("judge"))).text == " yes"
    assert (await router.generate(_request())).text == " London"
    assert [r.role for r in main.requests] == [None, None] and [r.role for r in judge.requests] == ["judge"]
    assert router.name == "scripted +judge:scripted"


async def test_without_routes_there_is_no_router() -> None:
    main = ScriptedEngine([" x"])
    assert with_roles(main, {}) is main
    assert isinstance(with_roles(main, {"judge": ScriptedEngine()}), RoleRouter)


def test_an_unknown_role_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="jugde"):
        RoleRouter(ScriptedEngine(), {"jugde": ScriptedEngine()})  # type: ignore[dict-item]


async def test_close_closes_each_engine_once_even_when_one_fails() -> None:
    main, judge = Closing("main"), Closing("judge", fail=True)
    with pytest.raises(RuntimeError, match="judge would not close"):
        await RoleRouter(main, {"judge": judge}).aclose()
    assert (main.closed, judge.closed) == (1, 1)
    shared = Closing("shared")
    await RoleRouter(shared, {"judge": shared}).aclose()
    assert shared.closed == 1


def test_priority_is_native_only_when_every_engine_orders_by_it() -> None:
    assert RoleRouter(Closing("a", native_priority=True), {"judge": Closing("b", native_priority=True)}).native_priority
    assert not RoleRouter(Closing("a", native_priority=True), {"judge": Closing("b")}).native_priority


def test_an_engine_that_cannot_be_built_closes_the_ones_built_before() -> None:
    judge = Closing("judge")

    def broken() -> Any:
        raise ConfigError("no such model")

    with pytest.raises(ConfigError, match="no such model"):
        build_routed(broken, {"judge": lambda: judge})
    assert judge.closed == 1
    assert isinstance(build_routed(lambda: Closing("main"), {"judge": lambda: judge}), RoleRouter)
