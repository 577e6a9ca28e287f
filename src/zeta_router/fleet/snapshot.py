"""Typed, frozen snapshots of a replica's live state, for status pages and the admin API.

A snapshot is taken at one instant (``now`` from the router's clock) and never changes; its
``to_dict`` is the JSON shape ``GET /v1/router/status`` has always served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import Health
from zeta_router.fleet.state import ReplicaState


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: BreakerState
    open_for_s: float
    last_reason: str | None
    ejections: int


@dataclass(frozen=True, slots=True)
class LoadSnapshot:
    """What the backend last reported about itself."""

    waiting: float
    running: float
    kv_usage: float | None
    age_s: float


@dataclass(frozen=True, slots=True)
class ReplicaSnapshot:
    id: str
    model: str
    url: str
    health: Health
    health_detail: str | None
    unavailable_reason: str | None
    breaker: BreakerSnapshot
    in_flight: int
    #: Other gateway instances' requests here (state.backend: redis).
    remote_in_flight: int
    max_concurrency: int | None
    weight: float
    latency_ewma_s: float
    ttfb_p50_s: float | None
    requests: int
    successes: int
    failures: int
    load: LoadSnapshot | None

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    @classmethod
    def of(cls, r: ReplicaState, now: float) -> ReplicaSnapshot:
        b = r.breaker
        s = r.scraped
        load = None
        if s is not None:
            load = LoadSnapshot(s.waiting, s.running, s.kv_usage, max(0.0, now - s.at))
        return cls(
            id=r.id,
            model=r.model,
            url=r.safe_url,
            health=r.health,
            health_detail=r.health_detail or None,
            unavailable_reason=r.unavailable_reason(now),
            breaker=BreakerSnapshot(
                b.state,
                max(0.0, b.open_until - now) if b.open_until > now else 0.0,
                b.last_reason or None,
                b.ejections,
            ),
            in_flight=r.in_flight,
            remote_in_flight=r.remote_in_flight,
            max_concurrency=r.max_concurrency,
            weight=r.weight,
            latency_ewma_s=r.latency.value,
            ttfb_p50_s=r.ttfb_quantile(0.5),
            requests=r.requests,
            successes=r.successes,
            failures=r.failures,
            load=load,
        )

    def to_dict(self) -> dict[str, Any]:
        b, load, p50 = self.breaker, self.load, self.ttfb_p50_s
        return {
            "id": self.id,
            "model": self.model,
            "url": self.url,
            "health": self.health.value,
            "health_detail": self.health_detail,
            "available": self.available,
            "unavailable_reason": self.unavailable_reason,
            "breaker": {
                "state": b.state.value,
                "open_for_s": round(b.open_for_s, 3),
                "last_reason": b.last_reason,
                "ejections": b.ejections,
            },
            "in_flight": self.in_flight,
            "remote_in_flight": self.remote_in_flight,
            "max_concurrency": self.max_concurrency,
            "weight": self.weight,
            "latency_ewma_ms": round(self.latency_ewma_s * 1000, 2),
            "ttfb_p50_ms": None if p50 is None else round(p50 * 1000, 2),
            "requests": self.requests,
            "successes": self.successes,
            "failures": self.failures,
            "load": None
            if load is None
            else {
                "waiting": load.waiting,
                "running": load.running,
                "kv_usage": load.kv_usage,
                "age_s": round(load.age_s, 3),
            },
        }
