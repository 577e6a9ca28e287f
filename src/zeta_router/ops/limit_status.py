"""Per-key limit state for ``GET /v1/router/status`` (the ``limits`` block) and ``/metrics``:
what is left of each client key's ``rpm`` and ``tpm``, its requests in flight, the 429s each
limit gave, and whether the limits hold fleet-wide (``state.backend: redis``, Redis
reachable) or per instance.

Built when asked for, from the limiter's store (no request pays for it). Keys are named by
their ``name`` only: never a key, nor its digest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from zeta_router.config import Auth, ClientKey
from zeta_router.fleet.redis_limits import RedisLimits
from zeta_router.ops.shared_metrics import gauge
from zeta_router.routing.limits import KeyLimits, KeyUsage, Limit, Limiter


def _limits(key: ClientKey) -> KeyLimits:
    return KeyLimits(key.rpm, key.tpm, key.max_parallel)


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def key_status(limits: KeyLimits, u: KeyUsage, refusals: dict[str, int]) -> dict[str, Any]:
    return {
        "rpm": None if limits.rpm is None else {
            "limit": limits.rpm, "remaining": _round(u.requests_left)
        },
        "tpm": None if limits.tpm is None else {
            "limit": limits.tpm, "remaining": _round(u.tokens_left)
        },
        "max_parallel": None if limits.max_parallel is None else {
            "limit": limits.max_parallel, "in_use": u.in_flight
        },
        "in_flight_here": u.in_flight_here,
        "refusals": refusals,
    }


def sharing(limiter: Limiter, now: float) -> dict[str, Any]:
    """How the limits are held: ``scope`` ``fleet`` (shared through Redis), ``instance``
    (Redis unreachable: each instance on its own once the others' figures expire) or
    ``memory`` (no shared state: per instance by configuration)."""
    store = limiter.store
    if not isinstance(store, RedisLimits):
        return {"store": "memory", "scope": "instance", "connected": None}
    at = store.published_at
    return {
        "store": "redis",
        "scope": "fleet" if store.connected else "instance",
        "connected": store.connected,
        "instances": store.instances(),
        "published": store.published,
        "received": store.received,
        "last_publish_age_s": None if at is None else round(max(0.0, now - at), 3),
    }


def limits_status(limiter: Limiter, auth: Auth, now: float) -> dict[str, Any]:
    """The status page's ``limits`` block: every client key with a limit, by name."""
    refused: dict[str, dict[str, int]] = {}
    for (name, limit), n in limiter.refusals.items():
        refused.setdefault(name, {})[limit.value] = n
    keys = {
        k.name: key_status(lim, limiter.usage(k.name, lim), refused.get(k.name, {}))
        for k in auth.keys
        if (lim := _limits(k)).any
    }
    return {**sharing(limiter, now), "keys": keys}


def limit_metrics(limiter: Limiter, auth: Auth, now: float) -> Iterator[Metric]:
    refusals = CounterMetricFamily(
        "zeta_limit_refusals",
        "Requests refused with 429 by a client key's limit, by key name and limit",
        labels=["key", "limit"],
    )
    for (name, limit), n in sorted(limiter.refusals.items()):
        refusals.add_metric([name, limit.value], n)
    yield refusals
    remaining = GaugeMetricFamily(
        "zeta_limit_remaining",
        "What is left of a client key's rpm or tpm bucket (fleet-wide when shared; below 0: "
        "in debt)",
        labels=["key", "limit"],
    )
    in_flight = GaugeMetricFamily(
        "zeta_limit_in_flight",
        "A client key's requests in flight (fleet-wide when shared), for max_parallel",
        labels=["key"],
    )
    for k in auth.keys:
        lim = _limits(k)
        if not lim.any:
            continue
        u = limiter.usage(k.name, lim)
        for limit, left in ((Limit.RPM, u.requests_left), (Limit.TPM, u.tokens_left)):
            if left is not None:
                remaining.add_metric([k.name, limit.value], left)
        if lim.max_parallel is not None:
            in_flight.add_metric([k.name], u.in_flight)
    yield remaining
    yield in_flight
    store = limiter.store
    if not isinstance(store, RedisLimits):
        return
    yield gauge(
        "zeta_shared_limits_connected",
        "1 while per-key limits are shared through Redis (published and heard); 0 while each "
        "instance falls back to its own",
        store.connected,
    )
    yield gauge(
        "zeta_shared_limits_instances",
        "Gateway instances whose key usage counts, this one too",
        store.instances(),
    )
    at = store.published_at
    yield gauge(
        "zeta_shared_limits_publish_age_seconds",
        "Seconds since this instance last published its key usage (at most sync_interval_s "
        "while healthy)",
        None if at is None else max(0.0, now - at),
    )
    messages = CounterMetricFamily(
        "zeta_shared_limits_messages",
        "Key-usage messages this instance published or heard from others",
        labels=["direction"],
    )
    messages.add_metric(["published"], store.published)
    messages.add_metric(["received"], store.received)
    yield messages
