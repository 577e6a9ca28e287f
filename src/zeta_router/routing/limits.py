"""Per-key limits: requests per minute, tokens per minute, requests at once.

Each key has two token buckets that refill continuously (a full minute's worth at most, so a
quiet key may burst up to its limit) and a count of requests in flight. A request is charged
one request and an estimate of its tokens (prompt plus max tokens) when it is admitted; when it
ends, the estimate is replaced by what the upstream reported it used (:meth:`Limiter.settle`).
A stream whose client leaves early, having reported nothing, is settled to its prompt
estimate plus a token per block of events relayed (:func:`left_early`): the router closes the
upstream, which stops generating there. A request larger than a whole minute's tokens is
admitted once the bucket is full, and leaves it in debt: it is never refused for good.

The arithmetic is pure (:func:`take`, :func:`settle`: counters in, counters out); they live in
a :class:`LimitStore`. :class:`MemoryStore` keeps them in this process, so limits hold per
router instance; :class:`~zeta_router.fleet.redis_limits.RedisLimits` (``state.backend:
redis``) holds them across instances with the same arithmetic over the fleet's usage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol, runtime_checkable

from zeta_router.errors import RateLimited

Clock = Callable[[], float]

#: Buckets refill over this many seconds (per-*minute* limits).
_WINDOW_S = 60.0
#: When a request slot frees is unknown: this is a polite guess, not a promise.
_PARALLEL_RETRY_S = 1.0


class Limit(StrEnum):
    RPM = "rpm"
    TPM = "tpm"
    MAX_PARALLEL = "max_parallel"


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """One key's limits (None: unlimited)."""

    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None

    @property
    def any(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.max_parallel is not None


@dataclass(frozen=True, slots=True)
class Refused:
    limit: Limit
    retry_after_s: float


@dataclass(slots=True)
class Counters:
    """One key's state: bucket levels as of ``at``, and requests in flight."""

    requests: float
    tokens: float
    at: float
    in_flight: int = 0


def fresh(limits: KeyLimits, now: float) -> Counters:
    return Counters(float(limits.rpm or 0), float(limits.tpm or 0), now)


def take(c: Counters, limits: KeyLimits, cost: int, now: float) -> Refused | None:
    """Admit one request costing ``cost`` tokens, or say which limit refuses it (then nothing
    is charged). One pass: this runs once per request."""
    elapsed = now - c.at
    if elapsed < 0.0:
        elapsed = 0.0
    parallel = limits.max_parallel
    if parallel is not None and c.in_flight >= parallel:
        return Refused(Limit.MAX_PARALLEL, _PARALLEL_RETRY_S)
    rpm = limits.rpm
    requests = c.requests
    if rpm is not None:
        requests = min(float(rpm), requests + elapsed * rpm / _WINDOW_S)
        if requests < 1.0:
            return Refused(Limit.RPM, (1.0 - requests) * _WINDOW_S / rpm)
    tpm = limits.tpm
    tokens = c.tokens
    if tpm is not None:
        tokens = min(float(tpm), tokens + elapsed * tpm / _WINDOW_S)
        need = cost if cost < tpm else tpm
        if tokens < need:
            return Refused(Limit.TPM, (need - tokens) * _WINDOW_S / tpm)
    c.requests = requests - 1.0
    c.tokens = tokens - cost
    if now > c.at:
        c.at = now
    c.in_flight += 1
    return None


@dataclass(frozen=True, slots=True)
class KeyUsage:
    """What is left of one key's limits now (for status and metrics, never the request path):
    bucket levels (None: no such limit; below 0: in debt) and requests in flight, fleet-wide
    when the store is shared, and here."""

    requests_left: float | None
    tokens_left: float | None
    in_flight: int
    in_flight_here: int


def refilled(level: float, limit: int | None, elapsed: float) -> float | None:
    """A bucket's level ``elapsed`` seconds later (None for no limit)."""
    if limit is None:
        return None
    return min(float(limit), level + max(0.0, elapsed) * limit / _WINDOW_S)


def usage(c: Counters | None, limits: KeyLimits, now: float) -> KeyUsage:
    if c is None:
        c = fresh(limits, now)
    elapsed = now - c.at
    return KeyUsage(
        refilled(c.requests, limits.rpm, elapsed),
        refilled(c.tokens, limits.tpm, elapsed),
        c.in_flight,
        c.in_flight,
    )


def settle(c: Counters, limits: KeyLimits, charged: int, used: int | None) -> None:
    """A request ended: its slot frees, and its token estimate becomes what it used."""
    c.in_flight = max(0, c.in_flight - 1)
    if limits.tpm is not None and used is not None:
        c.tokens = min(float(limits.tpm), c.tokens + charged - used)


class LimitStore(Protocol):
    """Where the counters live. ``admit`` may wait on a remote store; ``settle`` may not (it
    runs as a request ends, cancelled or not): a remote store sends it in the background."""

    async def admit(self, key: str, limits: KeyLimits, cost: int, now: float) -> Refused | None: ...

    def settle(self, key: str, limits: KeyLimits, charged: int, used: int | None) -> None: ...

    def usage(self, key: str, limits: KeyLimits, now: float) -> KeyUsage:
        """What is left of the key's limits (status and metrics; it changes nothing)."""
        ...


@runtime_checkable
class ImmediateStore(LimitStore, Protocol):
    """A store that answers at once (its sharing, if any, happens in the background)."""

    def admit_now(self, key: str, limits: KeyLimits, cost: int, now: float) -> Refused | None: ...


class MemoryStore:
    """Counters in this process (limits per router instance). Bounded by the key names the
    config ever held."""

    def __init__(self) -> None:
        self._keys: dict[str, Counters] = {}

    def counters(self, key: str) -> Counters | None:
        return self._keys.get(key)

    def admit_now(self, key: str, limits: KeyLimits, cost: int, now: float) -> Refused | None:
        c = self._keys.get(key)
        if c is None:
            c = self._keys[key] = fresh(limits, now)
        return take(c, limits, cost, now)

    async def admit(self, key: str, limits: KeyLimits, cost: int, now: float) -> Refused | None:
        return self.admit_now(key, limits, cost, now)

    def settle(self, key: str, limits: KeyLimits, charged: int, used: int | None) -> None:
        c = self._keys.get(key)
        if c is not None:
            settle(c, limits, charged, used)

    def usage(self, key: str, limits: KeyLimits, now: float) -> KeyUsage:
        return usage(self._keys.get(key), limits, now)


class Ticket(NamedTuple):
    """An admitted request, to be settled once when it ends (a tuple: built per request)."""

    key: str
    limits: KeyLimits
    charged: int
    #: The part of ``charged`` estimated for the prompt (the rest: tokens it may generate).
    prompt: int = 0


def left_early(ticket: Ticket, relayed: int) -> int:
    """What a stream whose client left after ``relayed`` blocks of events, reporting no usage,
    used: its prompt as estimated at admission, and a token per block (each holds an event or
    more, and a server streams a token or more per event; it stops once the router closes the
    stream), never more than was charged."""
    used = ticket.prompt + relayed
    return used if used < ticket.charged else ticket.charged


_UNITS = {
    Limit.RPM: "requests per minute",
    Limit.TPM: "tokens per minute",
    Limit.MAX_PARALLEL: "requests at once",
}


def refusal(key: str, limits: KeyLimits, refused: Refused) -> RateLimited:
    value = getattr(limits, refused.limit.value)
    return RateLimited(
        f"The key '{key}' is over its {refused.limit.value} limit ({value} "
        f"{_UNITS[refused.limit]}); retry after the Retry-After header's seconds",
        code=f"{refused.limit.value}_exceeded",
        retry_after_s=refused.retry_after_s,
    )


class Limiter:
    """Admits and settles requests of keys against one store."""

    def __init__(self, store: LimitStore, clock: Clock) -> None:
        self.store = store
        self._clock = clock
        # A store that answers at once costs no coroutine per request on the hot path.
        self._now = store.admit_now if isinstance(store, ImmediateStore) else None
        #: Requests refused, by key name and limit (a 429 is rare: a dict increment each).
        self.refusals: Counter[tuple[str, Limit]] = Counter()

    async def admit(self, key: str, limits: KeyLimits, cost: int, *, prompt: int = 0) -> Ticket:
        """A ticket for the request, or :class:`RateLimited` (429 with Retry-After); ``prompt``:
        the part of ``cost`` that is the prompt's."""
        now = self._clock()
        if self._now is not None:
            refused = self._now(key, limits, cost, now)
        else:
            refused = await self.store.admit(key, limits, cost, now)
        if refused is not None:
            self.refusals[(key, refused.limit)] += 1
            raise refusal(key, limits, refused)
        return Ticket(key, limits, cost, prompt)

    def settle(self, ticket: Ticket, used: int | None) -> None:
        self.store.settle(ticket.key, ticket.limits, ticket.charged, used)

    def usage(self, key: str, limits: KeyLimits) -> KeyUsage:
        return self.store.usage(key, limits, self._clock())
