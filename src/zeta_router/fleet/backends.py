"""The shared-state backend the config asks for (``state.backend``)."""

from __future__ import annotations

from collections.abc import Callable

from zeta_router.config import Config
from zeta_router.errors import ConfigError
from zeta_router.fleet.redis_state import RedisState
from zeta_router.fleet.shared import MemoryState, SharedState


def build_shared(
    config: Config, clock: Callable[[], float], on_capacity: Callable[[str], None]
) -> SharedState:
    """The shared state the config asks for. ``on_capacity(model)`` is called when another
    instance freed a slot of one of ``model``'s replicas (a queued request may go now)."""
    settings = config.state
    if settings.backend == "memory":
        return MemoryState()
    if settings.backend == "redis":
        return RedisState(settings, clock, on_capacity)
    raise ConfigError(f"state.backend: unknown backend {settings.backend!r}")  # pragma: no cover
