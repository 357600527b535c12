"""One engine made of several: each call goes to the engine of its role.

A small model can draft and take notes while a stronger one verifies: EvidenceLoop marks its
judge's requests ``role="judge"``, and ``RoleRouter(small, {"judge": strong})`` sends those to
``strong`` and everything else to ``small``. The router is itself an :class:`LLMEngine`, so the
scheduler, the eval runner's metering and every graph see one engine, and a graph needs no
change to use it.

Priorities pass through: the router orders requests by ``priority`` natively only when every
engine behind it does (vLLM); otherwise Sleuth's own scheduler queues them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sleuth.engines.base import GenerationRequest, GenerationResponse, LLMEngine
from sleuth.errors import ConfigError
from sleuth.types import ENGINE_ROLES, EngineRole


class RoleRouter:
    """Sends a request to ``routes[request.role]``, or to ``default`` when its role has none.

    :meth:`aclose` closes every engine once, the default last, even when one fails to close.
    """

    def __init__(self, default: LLMEngine, routes: Mapping[EngineRole, LLMEngine]) -> None:
        unknown = [role for role in routes if role not in ENGINE_ROLES]
        if unknown:
            raise ConfigError(f"Unknown engine role(s): {', '.join(map(repr, unknown))}.",
                              hint=f"roles: {', '.join(ENGINE_ROLES)}")
        self.default = default
        self.routes: dict[EngineRole, LLMEngine] = dict(routes)
        self.name = default.name + "".join(f" +{role}:{engine.name}" for role, engine in self.routes.items())
        engines = [default, *self.routes.values()]
        self.native_priority = all(getattr(e, "native_priority", False) for e in engines)

    def engine_for(self, request: GenerationRequest) -> LLMEngine:
        """The engine that serves ``request``."""
        return self.routes.get(request.role, self.default) if request.role else self.default

    async def generate(self, request: GenerationRequest) -> GenerationResponse:
        return await self.engine_for(request).generate(request)

    async def aclose(self) -> None:
        engines = list({id(e): e for e in [*self.routes.values(), self.default]}.values())
        failure: BaseException | None = None
        for engine in engines:
            try:
                await engine.aclose()
            except Exception as exc:  # noqa: BLE001 - close the rest, then raise the first failure
                failure = failure or exc
        if failure is not None:
            raise failure


def with_roles(default: LLMEngine, routes: Mapping[EngineRole, LLMEngine]) -> LLMEngine:
    """``default`` itself when ``routes`` is empty, else a :class:`RoleRouter`."""
    return RoleRouter(default, routes) if routes else default


def build_routed(
    build_default: Callable[[], LLMEngine], builders: Mapping[EngineRole, Callable[[], LLMEngine]]
) -> LLMEngine:
    """Build each role's engine, then the default one, and route between them (:func:`with_roles`).

    If one cannot be built, those built before it are closed: they may hold a loaded model.
    """
    routes: dict[EngineRole, LLMEngine] = {}
    try:
        for role, build in builders.items():
            routes[role] = build()
        return with_roles(build_default(), routes)
    except BaseException:
        for engine in routes.values():  # in-process engines; an HTTP client holds nothing yet
            if (close := getattr(engine, "close", None)) is not None:
                close()
        raise


__all__ = ["RoleRouter", "build_routed", "with_roles"]
