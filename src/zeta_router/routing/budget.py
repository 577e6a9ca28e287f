"""Retry budget: retries may add only a bounded share of load, so an outage does not turn into a
retry storm (the same idea as Envoy's and Finagle's retry budgets)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from zeta_router.config import RetrySettings


class RetryBudget:
    """A token bucket: each request deposits ``budget_ratio`` tokens, time deposits
    ``budget_min_per_s`` per second, each retry withdraws one."""

    __slots__ = ("_cap", "_clock", "_last", "_min_per_s", "_ratio", "denied", "tokens")

    def __init__(self, settings: RetrySettings, clock: Callable[[], float]) -> None:
        self._ratio = settings.budget_ratio
        self._min_per_s = settings.budget_min_per_s
        # Enough headroom for a burst of failures after a quiet spell, bounded so a long calm
        # period cannot bank an unlimited storm.
        self._cap = max(10.0, 10.0 * self._min_per_s)
        self._clock = clock
        self._last = clock()
        self.tokens = self._cap
        self.denied = 0

    def _refill(self) -> None:
        now = self._clock()
        if now > self._last:
            self.tokens = min(self._cap, self.tokens + (now - self._last) * self._min_per_s)
            self._last = now

    def on_request(self) -> None:
        self.tokens = min(self._cap, self.tokens + self._ratio)

    def try_spend(self) -> bool:
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.denied += 1
        return False


def backoff_s(settings: RetrySettings, hinted: Iterable[float | None], draw: float) -> float:
    """The pause before a second pass over replicas that failed transiently: the shortest
    Retry-After they sent, else a jittered base (``draw`` in [0, 1)), capped."""
    hint = min((h for h in hinted if h), default=0.0)
    jittered = settings.backoff_base_s * (0.5 + draw)
    return min(max(hint, jittered), settings.backoff_max_s)
