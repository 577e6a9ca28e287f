"""A replica's latency estimate: Finagle's peak-sensitive moving average, with the penalties
and lower bounds the request path feeds it (through :meth:`ReplicaState.record
<zeta_router.fleet.state.ReplicaState.record>`)."""

from __future__ import annotations

import math

#: A failed attempt counts as an answer this many times slower than the estimate so far.
FAILURE_PENALTY = 2.0
#: ... but never as worse than this (the default first-byte timeout): consecutive failures
#: double the estimate, and one flapping replica should not be shunned for hours.
MAX_PENALTY_S = 60.0


class PeakEwma:
    """Peak-sensitive moving average (Finagle's peak EWMA): jumps up to a slow sample at once,
    decays back with time constant ``tau_s``. Reacting fast to slowness and slowly to recovery
    keeps a degrading replica from being chosen while its average still looks good."""

    __slots__ = ("_last", "_tau", "value")

    def __init__(self, tau_s: float, initial: float = 0.0) -> None:
        self._tau = tau_s
        self._last = 0.0
        self.value = initial

    def observe(self, sample: float, now: float) -> None:
        if sample >= self.value or self._last == 0.0:
            self.value = sample
        else:
            w = math.exp(-(now - self._last) / self._tau)
            self.value = self.value * w + sample * (1.0 - w)
        self._last = now

    def observe_at_least(self, bound: float, now: float) -> None:
        """An attempt given up on (lost a hedge, the client left) after ``bound`` seconds
        without an answer: the true latency is at least that. Raises the estimate when it was
        lower; a higher estimate is not contradicted, so it keeps decaying as before."""
        if bound > self.decayed(now):
            self.value = bound
            self._last = now

    def penalize(self, elapsed: float, now: float) -> None:
        """A failed attempt: a 503 in a millisecond is no fast answer. It counts as a sample
        ``FAILURE_PENALTY`` times the estimate (and at least the time it took), so a replica
        that keeps failing fast looks ever slower instead of the fastest."""
        doubled = min(FAILURE_PENALTY * max(self.decayed(now), 1e-3), MAX_PENALTY_S)
        self.observe(max(elapsed, doubled), now)

    @property
    def sampled_at(self) -> float:
        """When the last sample came (0: never)."""
        return self._last

    def adopt(self, value: float, at: float) -> None:
        """Another gateway instance's estimate, when fresher than this one's (shared fleet
        state): its latest sample is the best knowledge of the replica now."""
        if at > self._last:
            self.value = value
            self._last = at

    def stale(self, now: float) -> bool:
        """No sample for half the decay time: by now the estimate is mostly assumption."""
        return now - self._last > 0.5 * self._tau

    def forget(self) -> None:
        """Nothing is known any more (a restarted process): the estimate reads as ``prior``
        until the first new sample."""
        self.value = 0.0
        self._last = -math.inf

    def decayed(self, now: float, prior: float = 0.0) -> float:
        """The estimate read at ``now``. Without new samples it decays towards ``prior``, what
        is assumed of a replica nothing is known about (the balancer passes its peers' typical
        latency): an avoided replica gets a trial request again after a while, but silence
        never makes it look faster than its peers. With prior 0 this is Finagle's decay."""
        if self._last == 0.0 or now <= self._last:
            return self.value
        return prior + (self.value - prior) * math.exp(-(now - self._last) / self._tau)
