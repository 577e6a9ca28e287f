"""Live state of every model and replica: load, latency estimates, breaker, health.

This is plain data plus small, allocation-free updates; decisions read it. What requests do to
a replica arrives through one door, :meth:`ReplicaState.record`, with a typed outcome
(:mod:`zeta_router.fleet.outcome`): it is the only writer of the breaker, latency and
in-flight state on the request path, and it tells the fleet's subscribers (metrics, logs, a
shared-state backend) what happened. All times come from the router's clock.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlsplit, urlunsplit

from zeta_router.config import Config, Model, Replica, replica_id
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.breaker import Breaker, BreakerState
from zeta_router.fleet.latency import PeakEwma
from zeta_router.fleet.outcome import (
    AT_MAX_CONCURRENCY,
    COOLING_DOWN,
    NO_REPLICA_LEFT,
    Decoded,
    Ejected,
    Failed,
    FirstByte,
    GivenUp,
    Health,
    Held,
    Neutral,
    Outcome,
    Overdue,
    Ready,
    Reason,
    Released,
    Sent,
    Served,
    SharedClosed,
    SharedLatency,
    SharedOpen,
    StreamBroke,
    Subscriber,
    Unready,
    Why,
)

#: How long a replica answering llama.cpp's 503 "Loading model" is left alone.
LOADING_PAUSE_S = 2.0
#: Answers shorter than this say little about decode speed; the weight of a new sample.
DECODE_MIN_TOKENS = 4
DECODE_EWMA = 0.2


USABLE_HEALTH = frozenset({Health.UNKNOWN, Health.READY})


@dataclass(slots=True)
class ScrapedLoad:
    """What the backend reports about itself (vLLM, llama.cpp, SGLang metrics)."""

    waiting: float = 0.0
    running: float = 0.0
    kv_usage: float | None = None
    at: float = 0.0


class ReplicaState:
    __slots__ = (
        "_seq",
        "auth_header",
        "base_url",
        "breaker",
        "cooldown_until",
        "decode_s_per_token",
        "failures",
        "health",
        "health_detail",
        "id",
        "in_flight",
        "index",
        "last_failure_at",
        "last_success_at",
        "latency",
        "max_concurrency",
        "model",
        "pending",
        "ready_since",
        "remote_in_flight",
        "request_faults",
        "requests",
        "scraped",
        "subscribers",
        "successes",
        "ttfb_samples",
        "upstream_model",
        "watchers",
        "weight",
    )

    def __init__(
        self,
        model: str,
        index: int,
        cfg: Replica,
        config: Config,
        *,
        initial_latency_s: float,
        subscribers: list[Subscriber] | None = None,
        watchers: list[Subscriber] | None = None,
    ) -> None:
        #: The fleet's subscribers (lists shared by every replica of the fleet): of every
        #: outcome, and of breaker transitions only.
        self.subscribers: list[Subscriber] = subscribers if subscribers is not None else []
        self.watchers: list[Subscriber] = watchers if watchers is not None else []
        self.model = model
        self.index = index
        self.id = replica_id(model, index, cfg)
        self.upstream_model = cfg.upstream_model or model
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        # Kept only as the header value sent upstream; never logged or shown in status.
        self.auth_header = f"Bearer {key}" if key else None
        # The key wins over credentials in the URL: one Authorization header goes out, and a
        # password nobody sends is not kept.
        userinfo = urlsplit(cfg.url).username is not None
        self.base_url = redact_url(cfg.url) if key and userinfo else cfg.url
        self.max_concurrency = cfg.max_concurrency
        self.weight = cfg.weight
        self.breaker = Breaker(config.breaker)
        self.latency = PeakEwma(config.balancer.ewma_decay_s, initial_latency_s)
        self.ttfb_samples: deque[float] = deque(maxlen=128)
        self.in_flight = 0
        #: Requests other gateway instances have in flight here (written only by the shared
        #: state, fleet/shared.py; always 0 with the memory backend). Capacity checks and
        #: load estimates read ``in_flight + remote_in_flight``.
        self.remote_in_flight = 0
        #: Attempts still waiting for their first byte: token -> start, oldest first.
        self.pending: dict[int, float] = {}
        self._seq = 0
        self.health = Health.STARTING if cfg.launch else Health.UNKNOWN
        self.health_detail = ""
        self.cooldown_until = 0.0
        self.ready_since = 0.0
        self.scraped: ScrapedLoad | None = None
        self.requests = 0
        self.successes = 0
        self.failures = 0
        #: Measured seconds per generated token of non-stream answers (0: not measured yet).
        self.decode_s_per_token = 0.0
        self.last_success_at: float | None = None
        self.last_failure_at: float | None = None
        #: Bare 5xx/404s blamed on their requests since this replica last served one.
        self.request_faults = 0

    def adopt(self, fresh: ReplicaState, old: Config, new: Config) -> None:
        """A reload keeps this replica: take the new config's view of it (``fresh``), keeping
        the live state (breaker, estimates, counters, in-flight)."""
        self.model = fresh.model
        self.index = fresh.index
        self.upstream_model = fresh.upstream_model
        self.auth_header = fresh.auth_header
        self.max_concurrency = fresh.max_concurrency
        self.weight = fresh.weight
        if self.health is Health.DRAINING:
            self.health, self.health_detail = Health.UNKNOWN, ""
        if new.breaker != old.breaker:
            # New thresholds apply from here on; an ejection in progress keeps its end time.
            breaker = Breaker(new.breaker)
            prev = self.breaker
            if prev.state is not BreakerState.CLOSED:
                breaker.force_open(0.0, prev.last_reason, 0.0)
                breaker.open_until = prev.open_until
            self.breaker = breaker
        if new.balancer.ewma_decay_s != old.balancer.ewma_decay_s:
            self.latency = PeakEwma(new.balancer.ewma_decay_s, self.latency.value)

    def drain(self) -> None:
        """A reload removed this replica: no new requests; in-flight ones finish."""
        self.health = Health.DRAINING
        self.health_detail = "removed by reload"

    def unavailable(self, now: float) -> Reason | None:
        """Why this replica cannot take a request now, or None when it can."""
        if self.health not in USABLE_HEALTH:
            return Reason(self.health, self.health_detail or self.health.value)
        if not self.breaker.can_try(now):
            return Reason(Why.CIRCUIT_OPEN, f"circuit {self.breaker.state.value}")
        if now < self.cooldown_until:
            return COOLING_DOWN
        limit = self.max_concurrency
        if limit is not None and self.in_flight + self.remote_in_flight >= limit:
            return AT_MAX_CONCURRENCY
        return None

    def unavailable_reason(self, now: float) -> str | None:
        """:meth:`unavailable`'s text (status pages)."""
        why = self.unavailable(now)
        return None if why is None else why.text

    def available(self, now: float) -> bool:
        return (
            self.health in USABLE_HEALTH
            and self.breaker.can_try(now)
            and now >= self.cooldown_until
            and (
                self.max_concurrency is None
                or self.in_flight + self.remote_in_flight < self.max_concurrency
            )
        )

    # -- outcomes of requests sent here: the only writer of breaker and latency state --------

    def record(self, outcome: Outcome) -> None:
        """Apply what an attempt on this replica did, then tell the subscribers."""
        breaker = self.breaker
        before = breaker.state
        _APPLY[type(outcome)](self, outcome)
        if self.subscribers:
            after = self.breaker.state
            for sub in self.subscribers:
                sub(self.id, outcome, before, after)
        if self.watchers and self.breaker.state is not before:
            after = self.breaker.state
            for sub in self.watchers:
                sub(self.id, outcome, before, after)

    def on_failure(self, err: UpstreamError, now: float, elapsed: float = 0.0) -> None:
        """A failed attempt that took ``elapsed`` seconds."""
        if not err.retryable:
            # The request was at fault, not the replica: give back a half-open probe slot.
            self.breaker.on_neutral()
            return
        self.failures += 1
        self.last_failure_at = now
        pause = err.retry_after_s
        if err.kind is FailureKind.LOADING:
            # Health state belongs to the active probes; the passive path only steps aside
            # for a moment, so a router without probes still comes back to a loaded replica.
            pause = max(pause or 0.0, LOADING_PAUSE_S)
        if pause:
            self.cooldown_until = max(self.cooldown_until, now + pause)
        self.latency.penalize(elapsed, now)
        self.breaker.on_failure(now, err.reason)

    def on_success(self, now: float, ttfb: float | None = None, *, stream: bool = False) -> None:
        """A complete answer; ``ttfb`` is given when this success is also a latency sample,
        ``stream`` when it was a stream that reached its end."""
        self.successes += 1
        self.last_success_at = now
        self.request_faults = 0
        if self.breaker.state is BreakerState.HALF_OPEN:
            # Back from an ejection: the balancer's slow start ramps its share up again.
            self.ready_since = now
        self.breaker.on_success(now, stream=stream)
        if ttfb is not None:
            self.observe_ttfb(ttfb, now)

    def observe_decode(self, elapsed_s: float, tokens: int) -> None:
        """A non-stream answer of ``tokens`` generated tokens took ``elapsed_s`` in all."""
        if tokens < DECODE_MIN_TOKENS:
            return  # too short: the prompt's processing would pass for decode time
        sample = elapsed_s / tokens
        old = self.decode_s_per_token
        self.decode_s_per_token = sample if old == 0.0 else old + DECODE_EWMA * (sample - old)

    def on_given_up(self, elapsed: float, now: float) -> None:
        """An attempt cancelled before its first byte (a hedge won, the client left): no
        verdict for the breaker, but the wait so far is a lower bound on its latency."""
        self.breaker.on_neutral()
        self.latency.observe_at_least(elapsed, now)

    def begin_wait(self, now: float) -> int:
        """An attempt was sent; returns the token for :meth:`end_wait`."""
        self._seq += 1
        self.pending[self._seq] = now
        return self._seq

    def end_wait(self, token: int) -> None:
        """The attempt's first byte (or its failure, or its cancellation) arrived."""
        self.pending.pop(token, None)

    def expected_latency(self, now: float, prior: float = 0.0) -> float:
        """What the balancer expects of the next request here: the estimate (decaying towards
        ``prior``), and never less than the wait of the oldest attempt still without a first
        byte. A replica that went silent looks slower by the second, before any timeout."""
        est = self.latency.decayed(now, prior)
        pending = self.pending
        if pending:
            waited = now - next(iter(pending.values()))
            if waited > est:
                return waited
        return est

    def probing(self, now: float) -> bool:
        """Whether an attempt is out to learn what this replica is like now: its estimate is
        stale and an attempt is still waiting for its first byte. Until that answer comes,
        one request at a time is its share (a replica returning from being avoided must not
        take a burst on an old, decayed estimate)."""
        return bool(self.pending) and self.latency.stale(now)

    def observe_ttfb(self, ttfb: float, now: float) -> None:
        self.latency.observe(ttfb, now)
        self.ttfb_samples.append(ttfb)

    def retry_at(self, now: float) -> float:
        """Earliest time this replica may be tried again (for Retry-After on a 503)."""
        at = max(self.cooldown_until, now)
        if self.breaker.state is BreakerState.OPEN:
            at = max(at, self.breaker.open_until)
        return at

    def ttfb_quantile(self, q: float) -> float | None:
        if len(self.ttfb_samples) < 8:
            return None
        ordered = sorted(self.ttfb_samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def safe_url(self) -> str:
        """The URL without credentials, for status and explain output."""
        return redact_url(self.base_url)


# -- how each outcome changes a replica: one function per kind, looked up by type ------------


def _sent(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, Sent)
    r.breaker.on_attempt(o.now)
    r.in_flight += 1
    r.requests += 1


def _released(r: ReplicaState, o: Outcome) -> None:
    r.in_flight -= 1


def _served(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, Served)
    r.on_success(o.now, o.ttfb, stream=o.stream)
    if o.tokens and o.ttfb is not None:
        r.observe_decode(o.ttfb, o.tokens)


def _first_byte(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, FirstByte)
    r.observe_ttfb(o.ttfb, o.now)
    if not o.verdict:
        r.breaker.on_neutral()


def _failed(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, Failed)
    r.on_failure(o.error, o.now, o.elapsed)


def _neutral(r: ReplicaState, o: Outcome) -> None:
    r.breaker.on_neutral()


def _given_up(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, GivenUp)
    r.on_given_up(o.elapsed, o.now)


def _overdue(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, Overdue)
    r.latency.observe_at_least(o.waited, o.now)


def _decoded(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, Decoded)
    r.observe_decode(o.elapsed, o.tokens)


def _stream_broke(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, StreamBroke)
    r.failures += 1
    r.breaker.on_failure(o.now, o.error.reason, stream_break=True)


def _ready(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, Ready)
    r.health = Health.READY
    r.health_detail = ""
    if o.first:
        return  # never seen otherwise: nothing to forget, nothing to ramp up from
    r.ready_since = o.now
    r.breaker.on_ready(o.now)
    if o.new_process:
        r.latency.forget()


def _unready(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, Unready)
    r.health = o.health
    r.health_detail = o.detail


def _ejected(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, Ejected)
    r.breaker.eject(o.now, o.reason)


def _shared_open(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, SharedOpen)
    r.breaker.adopt_open(o.until, o.ejections, o.reason)


def _shared_closed(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, SharedClosed)
    if r.breaker.state is not BreakerState.CLOSED:
        r.breaker.adopt_closed(o.now)
        r.ready_since = o.now  # back from an ejection: slow start, as after our own probe


def _shared_latency(r: ReplicaState, o: Outcome) -> None:
    assert isinstance(o, SharedLatency)
    r.latency.adopt(o.value, o.at)


_APPLY: Mapping[type, Callable[[ReplicaState, Outcome], None]] = MappingProxyType(
    {
        Sent: _sent,
        Released: _released,
        Served: _served,
        FirstByte: _first_byte,
        Failed: _failed,
        Held: _neutral,
        Neutral: _neutral,
        GivenUp: _given_up,
        Overdue: _overdue,
        Decoded: _decoded,
        StreamBroke: _stream_broke,
        Ready: _ready,
        Unready: _unready,
        Ejected: _ejected,
        SharedOpen: _shared_open,
        SharedClosed: _shared_closed,
        SharedLatency: _shared_latency,
    }
)


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None and not parts.query:
            return url
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        # "http://[bad" or a port that is no number: nothing here can be shown safely.
        return "<unparseable URL hidden>"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class ModelState:
    __slots__ = ("config", "name", "replicas")

    def __init__(self, name: str, config: Model, replicas: tuple[ReplicaState, ...]) -> None:
        self.name = name
        self.config = config
        self.replicas = replicas

    def unavailable(self, now: float) -> Reason | None:
        """Why no replica of this model can take a request now (every distinct reason, the
        first one's label), or None when one can."""
        reasons: dict[str, Reason] = {}
        for r in self.replicas:
            why = r.unavailable(now)
            if why is None:
                return None
            reasons.setdefault(why.text, why)
        if not reasons:
            return NO_REPLICA_LEFT
        texts = sorted(reasons)
        return Reason(reasons[texts[0]].label, "; ".join(t for t in texts if t))

    def unavailable_reason(self, now: float) -> str | None:
        if not self.replicas:
            return ""
        why = self.unavailable(now)
        return None if why is None else why.text

    def in_flight(self) -> int:
        return sum(r.in_flight + r.remote_in_flight for r in self.replicas)


class Fleet:
    """Every model's live state, built from a config; keeps replica state across reloads."""

    def __init__(
        self,
        config: Config,
        *,
        initial_latency_s: float = 0.05,
        subscribers: list[Subscriber] | None = None,
        watchers: list[Subscriber] | None = None,
    ) -> None:
        #: Told of every replica outcome (``watchers``: of breaker transitions only); shared
        #: with a reload's fresh replicas.
        self.subscribers: list[Subscriber] = subscribers if subscribers is not None else []
        self.watchers: list[Subscriber] = watchers if watchers is not None else []
        self.models: dict[str, ModelState] = {}
        self.replicas: dict[str, ReplicaState] = {}
        for name, model in config.models.items():
            states = tuple(
                ReplicaState(
                    name,
                    i,
                    rep,
                    config,
                    initial_latency_s=initial_latency_s,
                    subscribers=self.subscribers,
                    watchers=self.watchers,
                )
                for i, rep in enumerate(model.replicas)
            )
            self.models[name] = ModelState(name, model, states)
            for st in states:
                self.replicas[st.id] = st

    def subscribe(self, subscriber: Subscriber, *, transitions_only: bool = False) -> None:
        """Tell ``subscriber`` of every outcome on every replica (or, ``transitions_only``, of
        those that changed a breaker's state), now and after reloads."""
        (self.watchers if transitions_only else self.subscribers).append(subscriber)
