"""Which replica of a model takes a request. Small strategies behind one protocol.

Strategies see only replicas that are usable right now (health, breaker, cool-down and
max_concurrency already checked) and never do I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from zeta_router.config import BalancerSettings
from zeta_router.errors import ConfigError
from zeta_router.fleet.state import ReplicaState


class Strategy(Protocol):
    name: str

    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState: ...


#: Cost factor for a replica whose scraped load is stale: chosen only over other such replicas.
STALE_PENALTY = 1000.0


def load_cost(
    r: ReplicaState,
    now: float,
    slow_start_s: float,
    stale_after_s: float = math.inf,
    prior: float = 0.0,
) -> float:
    """Expected wait if this replica takes one more request: its expected latency (peak EWMA
    decaying towards ``prior``, at least the wait of its oldest unanswered attempt) scaled by
    the work ahead of it (our in-flight plus the backend's own queue when it reports one)."""
    ours = r.in_flight + r.remote_in_flight
    queued = ours + 1.0
    scraped = r.scraped
    stale = False
    if scraped is not None:
        if now - scraped.at > stale_after_s:
            # The backend stopped reporting (often: too busy to answer /metrics). Its load is
            # unknown, so it counts as saturated.
            stale = True
        else:
            # The backend's queue includes our in-flight requests; count only the excess.
            queued += max(0.0, scraped.waiting + scraped.running - ours)
    cost = r.expected_latency(now, prior) * queued / r.weight
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
    choosing the single best replica causes when the estimates are stale.

    Latency outliers (estimate above ``outlier_ratio`` x the best usable replica's) are left
    out of the draw. The cost's in-flight factor models a server that works one request at a
    time; LLM servers batch, so a replica ten times slower than its peers would otherwise win
    whenever a peer has a few requests in flight. The estimate of an avoided replica decays
    towards the model's typical latency (the fastest replica's median time to first byte), not
    towards zero: it gets a trial request again after a while, never a head start, and one at
    a time until that trial has answered (:meth:`ReplicaState.probing`)."""

    name = "p2c-ewma"

    def __init__(
        self,
        rng: random.Random,
        slow_start_s: float = 0.0,
        stale_after_s: float = math.inf,
        outlier_ratio: float = 0.0,
    ) -> None:
        self._rng = rng
        self._slow_start_s = slow_start_s
        self._stale_after_s = stale_after_s
        self._outlier_ratio = outlier_ratio
        #: model -> (computed at, typical latency of its fastest replica), see _reference.
        self._refs: dict[str, tuple[float, float]] = {}

    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState:
        n = len(replicas)
        if n == 1:
            return replicas[0]
        ref = self._reference(replicas, now)
        prior = 0.0 if ref == math.inf else ref
        for r in replicas:
            if r.pending and r.latency.stale(now):
                # Checked inline: this loop runs on every pick, the filter almost never.
                probed = [q for q in replicas if not q.probing(now)]
                if probed:
                    replicas = probed
                    n = len(replicas)
                    if n == 1:
                        return replicas[0]
                break
        if self._outlier_ratio:
            replicas = self._without_outliers(replicas, now, ref, prior)
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
        return a if load_cost(a, now, s, st, prior) <= load_cost(b, now, s, st, prior) else b

    def prior(self, replicas: Sequence[ReplicaState], now: float) -> float:
        """What is assumed of a replica without recent samples: the model's typical latency
        (0 until some replica has enough samples to say)."""
        ref = self._reference(replicas, now)
        return 0.0 if ref == math.inf else ref

    def _without_outliers(
        self, replicas: Sequence[ReplicaState], now: float, ref: float, prior: float
    ) -> Sequence[ReplicaState]:
        lats = [r.expected_latency(now, prior) for r in replicas]
        limit = min(min(lats), ref) * self._outlier_ratio
        if max(lats) <= limit:
            return replicas  # the common case: no allocation
        kept = [r for r, lat in zip(replicas, lats, strict=True) if lat <= limit]
        return kept or replicas

    def _reference(self, replicas: Sequence[ReplicaState], now: float) -> float:
        """The median recent latency of the model's fastest replica, refreshed every 100 ms.
        A median, unlike the peak-sensitive estimate, does not jump with one slow answer of a
        healthy replica, which would let the real outlier back into the draw."""
        model = replicas[0].model
        cached = self._refs.get(model)
        if cached is not None and now - cached[0] < 0.1:
            return cached[1]
        ref = typical_latency(replicas)
        self._refs[model] = (now, ref)
        return ref


def typical_latency(replicas: Sequence[ReplicaState]) -> float:
    """The median time to first byte of the fastest of ``replicas`` (inf until one has enough
    samples): what a replica of this model is assumed to take when nothing recent is known."""
    medians = [m for r in replicas if (m := r.ttfb_quantile(0.5)) is not None]
    return min(medians) if medians else math.inf


class LeastRequest:
    """Fewest in-flight requests relative to weight; ties go to the lower EWMA."""

    name = "least-request"

    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState:
        return min(
            replicas,
            key=lambda r: ((r.in_flight + r.remote_in_flight + 1) / r.weight, r.latency.value),
        )


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
    "p2c-ewma": lambda s, rng, slow, stale: P2CEwma(rng, slow, stale, s.outlier_ratio),
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
