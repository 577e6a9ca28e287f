"""Which replica of a model takes a request. Small strategies behind one protocol.

Strategies see only replicas that are usable right now (health, breaker, cool-down and
max_concurrency already checked) and never do I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from .config import BalancerSettings
from .errors import ConfigError
from .fleet import ReplicaState


class Strategy(Protocol):
    name: str

    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState: ...


#: Cost factor for a replica whose scraped load is stale: chosen only over other such replicas.
STALE_PENALTY = 1000.0


def load_cost(
    r: ReplicaState, now: float, slow_start_s: float, stale_after_s: float = math.inf
) -> float:
    """Expected wait if this replica takes one more request: peak-EWMA latency scaled by the
    work ahead of it (our in-flight plus the backend's own queue when it reports one)."""
    queued = r.in_flight + 1.0
    scraped = r.scraped
    stale = False
    if scraped is not None:
        if now - scraped.at > stale_after_s:
            # The backend stopped reporting (often: too busy to answer /metrics). Its load is
            # unknown, so it counts as saturated.
            stale = True
        else:
            # The backend's queue includes our in-flight requests; count only the excess.
            queued += max(0.0, scraped.waiting + scraped.running - r.in_flight)
    cost = r.latency.value * queued / r.weight
    if stale:
        cost *= STALE_PENALTY
    if slow_start_s > 0 and r.ready_since:
        age = now - r.ready_since
        if age < slow_start_s:
            # Freshly recovered: look more expensive, ramping to normal over slow_start_s.
            cost *= slow_start_s / max(age, slow_start_s * 0.1)
    return cost


class P2CEwma:
    """Power of two choices over :func:`load_cost`. Cheap and avoids the herd that always
    choosing the single best replica causes when the estimates are stale."""

    name = "p2c-ewma"

    def __init__(
        self, rng: random.Random, slow_start_s: float = 0.0, stale_after_s: float = math.inf
    ) -> None:
        self._rng = rng
        self._slow_start_s = slow_start_s
        self._stale_after_s = stale_after_s

    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState:
        n = len(replicas)
        if n == 1:
            return replicas[0]
        if n == 2:
            a, b = replicas
        else:
            i = self._rng.randrange(n)
            j = self._rng.randrange(n - 1)
            if j >= i:
                j += 1
            a, b = replicas[i], replicas[j]
        s, st = self._slow_start_s, self._stale_after_s
        return a if load_cost(a, now, s, st) <= load_cost(b, now, s, st) else b


class LeastRequest:
    """Fewest in-flight requests relative to weight; ties go to the lower EWMA."""

    name = "least-request"

    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState:
        return min(replicas, key=lambda r: ((r.in_flight + 1) / r.weight, r.latency.value))


class RoundRobin:
    """Baseline: ignores load. Kept for the balance benchmark."""

    name = "round-robin"

    def __init__(self) -> None:
        self._next = 0

    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState:
        self._next += 1
        return replicas[self._next % len(replicas)]


class Random:
    """Baseline: uniform by weight. Kept for the balance benchmark."""

    name = "random"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState:
        return self._rng.choices(replicas, weights=[r.weight for r in replicas])[0]


#: (settings, rng, slow_start_s, stale_after_s) -> strategy
StrategyFactory = Callable[[BalancerSettings, random.Random, float, float], Strategy]

STRATEGIES: dict[str, StrategyFactory] = {
    "p2c-ewma": lambda _s, rng, slow, stale: P2CEwma(rng, slow, stale),
    "least-request": lambda _s, _rng, _slow, _stale: LeastRequest(),
    "round-robin": lambda _s, _rng, _slow, _stale: RoundRobin(),
    "random": lambda _s, rng, _slow, _stale: Random(rng),
}


def build_strategy(
    settings: BalancerSettings,
    rng: random.Random,
    slow_start_s: float = 0.0,
    stale_after_s: float = math.inf,
) -> Strategy:
    try:
        factory = STRATEGIES[settings.strategy]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigError(
            f"balancer.strategy: unknown strategy {settings.strategy!r} (known: {known})"
        ) from None
    return factory(settings, rng, slow_start_s, stale_after_s)
