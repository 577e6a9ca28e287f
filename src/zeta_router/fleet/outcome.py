"""Typed outcomes: what became of an attempt, why a model was passed over, what a replica's
state is told.

- :class:`Reason` is a fixed-vocabulary ``label`` (an enum member: a
  :class:`~zeta_router.errors.FailureKind`, a :class:`Why`, or a
  :class:`~zeta_router.fleet.state.Health`) plus the text people read. Metrics and logs use the
  label; nothing parses the text.
- The replica outcomes (:class:`Served`, :class:`Failed`, ...; named tuples: immutable and
  cheap to build on the request path) are what
  :meth:`ReplicaState.record <zeta_router.fleet.state.ReplicaState.record>` takes, the one
  writer of a replica's breaker and latency state. Its subscribers (:class:`Subscriber`) see
  each outcome and each breaker transition it caused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.breaker import BreakerState


class Why(StrEnum):
    """Labels of outcomes that are no upstream failure."""

    OK = "ok"
    CLIENT_LEFT = "client disconnected"
    CIRCUIT_OPEN = "circuit open"
    SATURATED = "saturated"
    COOLING_DOWN = "cooling down"
    RETRY_BUDGET = "retry budget exhausted"
    NO_REPLICA_LEFT = "no replica left"
    MAX_COMPLEXITY = "max_complexity"
    UNAVAILABLE = "unavailable"
    #: A stream ended by an error event of the upstream's own API.
    UPSTREAM_EVENT = "upstream error event"
    INTERNAL = "internal error"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True, slots=True)
class Reason:
    """A fixed-vocabulary label (an enum member) and the text shown to people."""

    label: StrEnum
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def ok(self) -> bool:
        return self.label is Why.OK

    @classmethod
    def of(cls, err: UpstreamError) -> Reason:
        return cls(err.kind, err.reason)


SERVED = Reason(Why.OK, "ok")
CANCELLED = Reason(FailureKind.CANCELLED, "cancelled")
LOST_HEDGE = Reason(FailureKind.CANCELLED, "cancelled: lost the hedge race")
CLIENT_LEFT = Reason(Why.CLIENT_LEFT, "client disconnected")
UNAVAILABLE = Reason(Why.UNAVAILABLE, "unavailable")
NO_REPLICA_LEFT = Reason(Why.NO_REPLICA_LEFT, "no replica left")
RETRY_BUDGET = Reason(Why.RETRY_BUDGET, "retry budget exhausted")
COOLING_DOWN = Reason(Why.COOLING_DOWN, "cooling down (Retry-After)")
AT_MAX_CONCURRENCY = Reason(Why.SATURATED, "at max concurrency")
UPSTREAM_EVENT = Reason(Why.UPSTREAM_EVENT, "upstream error event")
INTERNAL_ERROR = Reason(Why.INTERNAL, "internal error")
SHUTDOWN = Reason(Why.SHUTDOWN, "shutdown")


def saturated_by(text: str) -> Reason:
    """A model or replica that should take no more work now, and why."""
    return Reason(Why.SATURATED, text)


# -- what a replica's state is told ------------------------------------------------------------


class Sent(NamedTuple):
    """An attempt went out (in half-open, it takes a probe slot)."""

    now: float


class Released(NamedTuple):
    """An attempt no longer holds its slot on the replica (answered, failed or abandoned)."""


class Served(NamedTuple):
    """A complete answer. ``ttfb`` when it is also a latency sample; ``stream`` when it was a
    stream that reached its end; ``tokens`` generated, for a non-stream answer whose usage
    says (its ``ttfb`` is then also a decode-time sample)."""

    now: float
    ttfb: float | None = None
    stream: bool = False
    tokens: int = 0


class Failed(NamedTuple):
    """An attempt failed after ``elapsed`` seconds (a request at fault is neutral)."""

    error: UpstreamError
    now: float
    elapsed: float = 0.0


class Held(NamedTuple):
    """A failure whose blame is not known yet (``attribution.Verdict`` decides later): no
    verdict for the breaker now."""

    error: UpstreamError
    now: float


class Neutral(NamedTuple):
    """The attempt says nothing about the replica (the client left mid-stream)."""

    now: float


class GivenUp(NamedTuple):
    """Cancelled before its first byte (a hedge won, the client left) after ``elapsed``
    seconds: a lower bound on the replica's latency, no verdict."""

    now: float
    elapsed: float


class Overdue(NamedTuple):
    """An attempt still without a first byte after ``waited`` seconds (a hedge beat it): a
    lower bound on the latency; its own verdict comes later."""

    now: float
    waited: float


class FirstByte(NamedTuple):
    """A stream's first event came after ``ttfb`` seconds; ``verdict`` False when whether it
    would have finished will never be known (a late hedge's stream, discarded)."""

    now: float
    ttfb: float
    verdict: bool = True


class Decoded(NamedTuple):
    """A non-stream answer of ``tokens`` generated tokens took ``elapsed`` seconds in all."""

    elapsed: float
    tokens: int


class StreamBroke(NamedTuple):
    """A stream failed after its first event."""

    error: UpstreamError
    now: float


class Health(StrEnum):
    UNKNOWN = "unknown"  # not probed yet: usable, the first requests tell
    READY = "ready"
    LOADING = "loading"  # llama.cpp's 503 while the model loads
    DOWN = "down"  # the health probe failed
    STARTING = "starting"  # a managed process is starting
    # A managed process is not running: restarting, or given up (launch.max_restarts).
    EXITED = "exited"
    DRAINING = "draining"  # removed by a reload; finishing in-flight work


class Ready(NamedTuple):
    """A probe or the supervisor says the server is ready (again); ``new_process`` when it is
    a fresh process, of which nothing measured before says anything; ``first`` when it was
    never seen before (not probed yet), so there is no outage to forget or ramp up from."""

    now: float
    new_process: bool = False
    first: bool = False


class Unready(NamedTuple):
    """A probe or the supervisor says the server cannot serve now: loading, down, starting
    or exited, and why."""

    now: float
    health: Health
    detail: str


class Ejected(NamedTuple):
    """The replica died while it served (a crash, a restart, a failed probe): out for the
    next, longer, ejection."""

    now: float
    reason: str


class SharedOpen(NamedTuple):
    """The fleet's verdict (shared state): another gateway instance ejected this replica, or
    probes it, until ``until``. The breaker's own listener is not told: the news came from the
    fleet, and telling it would echo it back."""

    until: float
    ejections: int
    reason: str


class SharedClosed(NamedTuple):
    """Another gateway instance's probe closed this replica's breaker: back, on slow start."""

    now: float


class SharedLatency(NamedTuple):
    """Another gateway instance's latency estimate, sampled at ``at`` (this instance's clock);
    adopted when fresher than this instance's own."""

    value: float
    at: float


RELEASED = Released()

Outcome = (
    Sent
    | Released
    | Served
    | Failed
    | Held
    | Neutral
    | GivenUp
    | Overdue
    | FirstByte
    | Decoded
    | StreamBroke
    | Ready
    | Unready
    | Ejected
    | SharedOpen
    | SharedClosed
    | SharedLatency
)


class Subscriber(Protocol):
    """Told of every outcome recorded on any replica of a fleet, after the replica's state was
    updated, with the breaker state before and after (equal when nothing changed).

    Runs on the request path: it must take microseconds and do no I/O (queue work for a
    background task instead). Register with :meth:`Fleet.subscribe
    <zeta_router.fleet.state.Fleet.subscribe>`; a subscriber lives as long as the router, across
    reloads. Shared-state backends (Redis) hook breaker transitions and in-flight counts
    here."""

    def __call__(
        self, replica_id: str, outcome: Outcome, before: BreakerState, after: BreakerState
    ) -> None: ...
