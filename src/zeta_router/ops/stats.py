"""Per-request counters, fed off the response path (one ``observe`` per finished request by
the telemetry drain task: a few dict increments and bisects). Reason labels are the typed
outcomes' own (:class:`zeta_router.fleet.outcome.Reason`): a fixed vocabulary of enum values,
never text. :mod:`zeta_router.ops.metrics` exports them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from zeta_router.errors import Blame
from zeta_router.fleet.outcome import UNAVAILABLE
from zeta_router.routing.decision import Decision

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

class Histogram:
    """Bucket counts plus a sum; ``observe`` is one bisect and two adds."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left puts a value equal to a bound in that bucket: Prometheus' "le" is inclusive.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            total += n
            out.append((repr(float(bound)), total))
        out.append(("+Inf", total + self.counts[-1]))
        return out

    @property
    def count(self) -> int:
        return sum(self.counts)


class RequestStats:
    """Per-request counters, fed once per finished request by the telemetry drain task."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str, str]] = Counter()
        self.duration: dict[str, Histogram] = {}
        self.ttfb: dict[str, Histogram] = {}
        self.overhead = Histogram(OVERHEAD_BUCKETS)
        self.confidence: dict[str, Histogram] = {}
        self.fallbacks: Counter[tuple[str, str, str]] = Counter()
        self.retries: Counter[str] = Counter()
        self.attempt_failures: Counter[tuple[str, str]] = Counter()
        self.request_faults: Counter[tuple[str, str]] = Counter()
        self.shed: Counter[str] = Counter()
        self.stream_errors: Counter[tuple[str, str]] = Counter()
        #: (replica, state entered): counted by the telemetry's fleet subscriber.
        self.breaker_transitions: Counter[tuple[str, str]] = Counter()
        #: (model, outcome) of cache affinity's choices (routing/affinity.py Outcome values).
        self.affinity: Counter[tuple[str, str]] = Counter()

    def observe(self, d: Decision) -> None:
        model = d.model or "none"
        self.requests[(model, d.task or "none", str(d.status), d.endpoint)] += 1
        if d.duration_s is not None and d.model is not None:
            _hist(self.duration, model, LATENCY_BUCKETS).observe(d.duration_s)
        if d.ttfb_s is not None and d.model is not None:
            _hist(self.ttfb, model, LATENCY_BUCKETS).observe(d.ttfb_s)
        if d.router_overhead_s is not None:
            self.overhead.observe(max(0.0, d.router_overhead_s))
        p = d.profile
        if p is not None and p.source not in ("header", "endpoint"):
            _hist(self.confidence, d.task or "none", CONFIDENCE_BUCKETS).observe(p.confidence)
        for a in d.attempts[1:]:
            self.retries[a.model] += 1
        for a in d.attempts:
            outcome = a.outcome
            if not outcome.ok:
                label = outcome.label.value
                self.attempt_failures[(a.model, label)] += 1
                if a.blame is Blame.REQUEST:
                    self.request_faults[(a.model, label)] += 1
        if d.model is not None and d.preferred is not None and d.model != d.preferred:
            why = dict(d.passed_over).get(d.preferred, UNAVAILABLE)
            self.fallbacks[(d.preferred, d.model, why.label.value)] += 1
        if d.affinity is not None and d.model is not None:
            self.affinity[(d.model, d.affinity.outcome.value)] += 1
        if d.status == 429:
            self.shed[d.preferred or "none"] += 1
        if d.stream_error is not None:
            self.stream_errors[(model, d.stream_error.label.value)] += 1


def _hist(table: dict[str, Histogram], key: str, bounds: Sequence[float]) -> Histogram:
    h = table.get(key)
    if h is None:
        h = table[key] = Histogram(bounds)
    return h
