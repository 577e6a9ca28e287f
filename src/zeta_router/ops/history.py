"""The fleet over time: one sample per second for the last 15 minutes.

Fed off the request path. Telemetry's drain task hands every finished request to a
:class:`RequestWindow` (a few counter increments and at most two list appends); once a second
the :class:`Sampler` takes that window, reads the live fleet (in-flight, backend queue, breaker
and health per replica, attempt and failure counters) and builds one frozen :class:`Second`,
which the :class:`History` ring keeps as the JSON it is served as. ``GET /v1/router/history``,
the dashboard and ``zeta-router top`` read the ring when they poll.

Latency quantiles are exact up to :data:`RESERVOIR` requests per model per second and a uniform
reservoir sample of them above that, so a busy second costs a bounded sort, not a histogram
per model.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from types import MappingProxyType

import orjson

from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import UNAVAILABLE, Health, Why
from zeta_router.fleet.periodic import Periodic
from zeta_router.fleet.state import ReplicaState
from zeta_router.routing.decision import Decision

log = logging.getLogger("zeta_router.history")

#: Samples kept: 15 minutes at one per second.
HISTORY_SECONDS = 900
#: Latency samples kept per model per second for the quantiles.
RESERVOIR = 256

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class StatusClass(StrEnum):
    OK = "2xx"
    CLIENT = "4xx"
    #: Refused by admission (queue full, deadline cannot be met): load, not a client mistake.
    SHED = "429"
    SERVER = "5xx"
    #: A stream that broke after its first byte (it ended with an SSE error event).
    CUT = "cut"


def status_class(d: Decision) -> StatusClass:
    if d.stream_error is not None and d.stream_error.label is not Why.CLIENT_LEFT:
        return StatusClass.CUT
    return _http_class(d.status)


def _http_class(s: int) -> StatusClass:
    if s == 429:
        return StatusClass.SHED
    if s >= 500:
        return StatusClass.SERVER
    if s >= 400:
        return StatusClass.CLIENT
    return StatusClass.OK


_CLASSES = tuple(StatusClass)
_OK = _CLASSES.index(StatusClass.OK)


class RequestWindow:
    """Per-request aggregates of one open second; one writer, the telemetry drain task."""

    __slots__ = (
        "_rng",
        "_seen",
        "fallbacks",
        "latency",
        "requests",
        "retries",
        "spills",
        "status",
        "ttft",
    )

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.requests: Counter[str] = Counter()
        #: Counts in StatusClass order (a list: hashing an enum member costs a Python call).
        self.status = [0] * len(_CLASSES)
        self.latency: dict[str, list[float]] = {}
        self.ttft: dict[str, list[float]] = {}
        #: Samples offered per (model, ttft) once its reservoir is full.
        self._seen: dict[tuple[str, bool], int] = {}
        self.fallbacks = 0
        self.spills = 0
        self.retries = 0

    def observe(self, d: Decision) -> None:
        model = d.model
        self.requests[model or "none"] += 1
        status = d.status
        if d.stream_error is None and 200 <= status < 300:
            self.status[_OK] += 1
        else:
            self.status[_CLASSES.index(status_class(d))] += 1
        if len(d.attempts) > 1:
            self.retries += len(d.attempts) - 1
        if model is None:
            return
        if d.duration_s is not None:
            self._sample(self.latency, model, False, d.duration_s)
        if d.ttfb_s is not None:
            self._sample(self.ttft, model, True, d.ttfb_s)
        preferred = d.preferred
        if preferred is not None and model != preferred:
            # The same split as zeta_fallbacks_total's reason label: "saturated" is a spill.
            why = dict(d.passed_over).get(preferred, UNAVAILABLE)
            if why.label is Why.SATURATED:
                self.spills += 1
            else:
                self.fallbacks += 1

    def rejected(self, status: int) -> None:
        """A request refused before routing (bad body or headers)."""
        self.requests["none"] += 1
        self.status[_CLASSES.index(_http_class(status))] += 1

    def _sample(self, table: dict[str, list[float]], model: str, ttft: bool, v: float) -> None:
        values = table.get(model)
        if values is None:
            table[model] = [v]
        elif len(values) < RESERVOIR:
            values.append(v)
        else:
            # Algorithm R: a uniform sample of the second's requests, whatever their number.
            key = (model, ttft)
            n = self._seen.get(key, RESERVOIR) + 1
            self._seen[key] = n
            j = int(self._rng.random() * n)
            if j < RESERVOIR:
                values[j] = v


def quantiles(values: list[float] | None) -> tuple[float, float] | None:
    """(p50, p99) by the nearest-rank method, or None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    return ordered[(n - 1) // 2], ordered[max(0, -(-99 * n // 100) - 1)]


@dataclass(frozen=True, slots=True)
class ModelSecond:
    """One model's requests in one second (only models that had any are kept)."""

    model: str
    requests: int
    latency_s: tuple[float, float] | None
    ttft_s: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class ReplicaSecond:
    replica: str
    model: str
    in_flight: int
    #: Requests waiting inside the backend, as last scraped (None: never scraped).
    queue: int | None
    breaker: BreakerState
    health: Health
    attempts: int
    failures: int


@dataclass(frozen=True, slots=True)
class StatusCounts:
    ok: int
    client: int
    shed: int
    server: int
    cut: int


@dataclass(frozen=True, slots=True)
class Second:
    seq: int
    #: Wall-clock time at the end of the sample.
    at: float
    #: How long the sample covers (about a second; longer when the event loop was busy).
    span_s: float
    models: tuple[ModelSecond, ...]
    replicas: tuple[ReplicaSecond, ...]
    status: StatusCounts
    fallbacks: int
    spills: int
    retries: int

    def encode(self) -> bytes:
        """The sample as served: per model and per replica an array in :data:`FIELDS` order
        (a replica's row is a fifth of its size with keys, and a fleet's 15 minutes are
        mostly replica rows)."""
        st = self.status
        return orjson.dumps(
            {
                "seq": self.seq,
                "t": round(self.at, 3),
                "span_s": round(self.span_s, 3),
                "models": {
                    m.model: [m.requests, _ms_pair(m.latency_s), _ms_pair(m.ttft_s)]
                    for m in self.models
                },
                "status": {
                    StatusClass.OK.value: st.ok,
                    StatusClass.CLIENT.value: st.client,
                    StatusClass.SHED.value: st.shed,
                    StatusClass.SERVER.value: st.server,
                    StatusClass.CUT.value: st.cut,
                },
                "replicas": {
                    r.replica: [
                        r.in_flight,
                        r.queue,
                        r.breaker.value,
                        r.health.value,
                        r.attempts,
                        r.failures,
                    ]
                    for r in self.replicas
                },
                "fallbacks": self.fallbacks,
                "spills": self.spills,
                "retries": self.retries,
            }
        )


#: The order of the values in a sample's per-model and per-replica arrays.
FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "models": ("requests", "latency_ms", "ttft_ms"),
        "replicas": ("in_flight", "queue", "breaker", "health", "attempts", "failures"),
    }
)


def _ms_pair(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else [round(pair[0] * 1000, 2), round(pair[1] * 1000, 2)]


class History:
    """The ring of the last ``capacity`` seconds; one writer, the sampler.

    Each second is kept as the JSON it is served as: smaller than the objects, and a
    dashboard's first poll (all 15 minutes) is a join rather than 900 encodes on the event
    loop."""

    def __init__(self, capacity: int = HISTORY_SECONDS) -> None:
        self.capacity = capacity
        self._ring: deque[bytes] = deque(maxlen=capacity)
        self._seq = 0
        # Per replica id: the state object and its attempt and failure counts at the last
        # sample. A reload that replaces a replica brings a new object whose counts start at 0.
        self._last: dict[str, tuple[ReplicaState, int, int]] = {}

    @property
    def seq(self) -> int:
        """The newest sample's sequence number (0 before the first)."""
        return self._seq

    def baseline(self, replicas: Iterable[ReplicaState]) -> None:
        """Start counting from the replicas' current counters."""
        self._last = {r.id: (r, r.requests, r.failures) for r in replicas}

    def record(
        self, window: RequestWindow, replicas: Iterable[ReplicaState], at: float, span_s: float
    ) -> Second:
        models = tuple(
            ModelSecond(
                model,
                n,
                quantiles(window.latency.get(model)),
                quantiles(window.ttft.get(model)),
            )
            for model, n in window.requests.items()
        )
        last = self._last
        now: dict[str, tuple[ReplicaState, int, int]] = {}
        rows: list[ReplicaSecond] = []
        for r in replicas:
            prev = last.get(r.id)
            if prev is not None and prev[0] is r:
                attempts, failures = r.requests - prev[1], r.failures - prev[2]
            else:
                attempts, failures = r.requests, r.failures
            now[r.id] = (r, r.requests, r.failures)
            scraped = r.scraped
            rows.append(
                ReplicaSecond(
                    r.id,
                    r.model,
                    r.in_flight,
                    None if scraped is None else round(scraped.waiting),
                    r.breaker.state,
                    r.health,
                    attempts,
                    failures,
                )
            )
        self._last = now
        st = dict(zip(_CLASSES, window.status, strict=True))
        self._seq += 1
        second = Second(
            self._seq,
            at,
            span_s,
            models,
            tuple(rows),
            StatusCounts(
                st[StatusClass.OK],
                st[StatusClass.CLIENT],
                st[StatusClass.SHED],
                st[StatusClass.SERVER],
                st[StatusClass.CUT],
            ),
            window.fallbacks,
            window.spills,
            window.retries,
        )
        # A copy of exact size: orjson's result keeps its whole (4 KiB) output buffer
        # allocated, which would be most of the ring's memory.
        self._ring.append(bytes(memoryview(second.encode())))
        return second

    def since(self, seq: int) -> list[bytes]:
        """The encoded samples newer than ``seq``, oldest first (all kept ones for 0)."""
        ring = self._ring
        skip = seq - (self._seq - len(ring))
        if skip <= 0:
            return list(ring)
        return list(islice(ring, skip, None))

    def __len__(self) -> int:
        return len(self._ring)


class Sampler:
    """Once a second, on the wall clock's second boundary: one :class:`Second` from the
    telemetry window and the live fleet."""

    def __init__(
        self,
        history: History,
        take_window: Callable[[], RequestWindow],
        replicas: Callable[[], list[ReplicaState]],
        *,
        interval_s: float = 1.0,
        wall: Clock = time.time,
        clock: Clock = time.monotonic,
        sleep: Sleep,
    ) -> None:
        self._history = history
        self._take_window = take_window
        self._replicas = replicas
        self._interval = interval_s
        self._wall = wall
        self._clock = clock
        self._last: float | None = None
        self._periodic = Periodic("history", self._round, self.until_next, sleep, log)

    @property
    def interval_s(self) -> float:
        return self._interval

    @property
    def running(self) -> bool:
        return self._periodic.running

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        self._last = None

    def sample(self) -> Second | None:
        """Close the current second (the first call only sets the baseline)."""
        now = self._clock()
        window = self._take_window()
        replicas = self._replicas()
        if self._last is None:
            self._last = now
            self._history.baseline(replicas)
            return None
        span, self._last = now - self._last, now
        return self._history.record(window, replicas, self._wall(), span)

    async def _round(self) -> None:
        self.sample()

    def until_next(self) -> float:
        """Seconds to the next sample: on a wall-clock boundary at least half a step away, so
        a sleep that ends a little early never yields a sliver of a sample."""
        step = self._interval
        wait = step - self._wall() % step
        return wait + step if wait < step / 2 else wait
