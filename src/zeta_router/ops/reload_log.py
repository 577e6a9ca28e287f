"""What a config reload reports (counts, last error, retired models) and the hook type other
components resync through. Kept apart from :mod:`zeta_router.ops.reload`, which works on the
router, so the router can hold these without importing the reload logic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zeta_router.config import Config

#: Called after a successful swap with (old config, new config): other components resync here.
ReloadHook = Callable[[Config, Config], None]


@dataclass(slots=True)
class ReloadLog:
    """Reload outcomes for status and metrics."""

    ok: int = 0
    failed: int = 0
    last_at: float | None = None
    last_error: str | None = None
    #: Models a reload removed -> when (router clock). They stay in the fleet, with only their
    #: draining replicas, until no request planned before the reload can still reach them.
    retired: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReloadResult:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    rebuilt: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reloaded": True,
            "added": list(self.added),
            "removed": list(self.removed),
            "kept": list(self.kept),
            "rebuilt": list(self.rebuilt),
        }
