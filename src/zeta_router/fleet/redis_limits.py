"""Per-key limits held across gateway instances (``state.backend: redis``).

A request never waits on Redis for its limit. Each instance keeps, per key, what it has taken
from the key's buckets and not yet refilled (requests, tokens) and its requests in flight, plus
the same figures last published by every other live instance. The fleet's bucket is the limit
minus the sum of everyone's usage; it refills at the limit's rate once, not once per instance:
the refill is shared out in proportion to each instance's usage (:func:`decay`), so every
instance, from the same figures, computes the same fleet bucket. A request is admitted locally
against it with the limiter's own arithmetic (:func:`~zeta_router.routing.limits.take`).

Each instance publishes its usage on the ``limits`` channel (one PUBLISH, not awaited): the
keys requests changed, at the end of the event-loop tick when a key is past half of one of its
limits fleet-wide or after a quiet spell, otherwise at most every 20 ms (a publish costs far
more CPU than the arithmetic: a busy instance far from its keys' limits does not send one per
request); and every key each ``sync_interval_s`` (so an instance that joins, or
comes back, learns the fleet's usage within one interval). An instance not heard from for
``instance_ttl_s`` (dead, or cut off from Redis) stops counting.

Bounded overshoot: what the instances admit before they hear of each other's admissions may
pass the limit, by at most what each instance admits in that time: a Redis hop (about a
millisecond on one network) near the limit; a burst that takes a key from under half its
limit past it within 20 ms, on several instances at once; at most one ``sync_interval_s``'s
worth if a message is lost. While this instance cannot reach Redis, or after the
others' figures expired, it holds the limits on its own (per instance): it fails open to local
limits, never errors and logs nothing per request.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from zeta_router.fleet.periodic import Periodic
from zeta_router.fleet.shared import SharedChannel
from zeta_router.routing.limits import Counters, KeyLimits, KeyUsage, Refused, take

log = logging.getLogger("zeta_router")

Clock = Callable[[], float]

_WINDOW_S = 60.0
#: A busy instance sends its changed keys at most this often (see the module's docstring).
_BATCH_S = 0.02


@dataclass(slots=True)
class Usage:
    """What one instance took from one key's buckets and has not been refilled yet."""

    requests: float = 0.0
    tokens: float = 0.0
    in_flight: int = 0


@dataclass(slots=True)
class KeyState:
    """One key as this instance sees the fleet: its own usage, the others' (by instance id),
    as of ``at``."""

    at: float
    local: Usage = field(default_factory=Usage)
    remote: dict[str, Usage] = field(default_factory=dict)
    #: Past half of one of its limits fleet-wide at the last admission: then every change is
    #: worth telling the others at once (far from its limits, a late word costs nothing).
    tight: bool = False


def _scale(used: float, rate: float, elapsed: float) -> float:
    """The factor every instance's usage keeps after ``elapsed`` seconds of one refill at
    ``rate`` shared in proportion to usage (1.0: nothing to refill)."""
    if used <= 0.0:
        return 1.0
    left = used - elapsed * rate
    return left / used if left > 0.0 else 0.0


def decay(s: KeyState, limits: KeyLimits, now: float) -> None:
    """Refill the fleet's buckets up to ``now``."""
    elapsed = now - s.at
    if elapsed <= 0.0:
        return
    s.at = now
    local, remote = s.local, s.remote.values()
    if limits.rpm is not None:
        used = local.requests + sum(u.requests for u in remote)
        f = _scale(used, limits.rpm / _WINDOW_S, elapsed)
        if f != 1.0:
            local.requests *= f
            for u in remote:
                u.requests *= f
    if limits.tpm is not None:
        used = local.tokens + sum(u.tokens for u in remote)
        f = _scale(used, limits.tpm / _WINDOW_S, elapsed)
        if f != 1.0:
            local.tokens *= f
            for u in remote:
                u.tokens *= f


def admit(s: KeyState, limits: KeyLimits, cost: int, now: float) -> Refused | None:
    """Admit one request against the fleet's buckets (charged to this instance), or say which
    limit refuses it."""
    decay(s, limits, now)
    local, remote = s.local, s.remote.values()
    fleet = Counters(
        float(limits.rpm or 0) - local.requests - sum(u.requests for u in remote),
        float(limits.tpm or 0) - local.tokens - sum(u.tokens for u in remote),
        now,
        local.in_flight + sum(u.in_flight for u in remote),
    )
    refused = take(fleet, limits, cost, now)
    if refused is None:
        local.requests += 1.0
        local.tokens += cost
        local.in_flight += 1
        rpm, tpm, parallel = limits.rpm, limits.tpm, limits.max_parallel
        s.tight = (
            (rpm is not None and fleet.requests * 2 < rpm)
            or (tpm is not None and fleet.tokens * 2 < tpm)
            or (parallel is not None and fleet.in_flight * 2 > parallel)
        )
    return refused


def usage(s: KeyState | None, limits: KeyLimits, now: float) -> KeyUsage:
    """What is left of the fleet's buckets at ``now``, as :func:`decay` would leave them
    (computed aside: a status read changes nothing)."""
    if s is None:
        rpm, tpm = limits.rpm, limits.tpm
        return KeyUsage(None if rpm is None else float(rpm), None if tpm is None else float(tpm),
                        0, 0)
    elapsed = max(0.0, now - s.at)
    local, remote = s.local, list(s.remote.values())

    def left(limit: int | None, used: float) -> float | None:
        if limit is None:
            return None
        return limit - used * _scale(used, limit / _WINDOW_S, elapsed)

    return KeyUsage(
        left(limits.rpm, local.requests + sum(u.requests for u in remote)),
        left(limits.tpm, local.tokens + sum(u.tokens for u in remote)),
        local.in_flight + sum(u.in_flight for u in remote),
        local.in_flight,
    )


def settle(s: KeyState, limits: KeyLimits, charged: int, used: int | None) -> None:
    local = s.local
    local.in_flight = max(0, local.in_flight - 1)
    if limits.tpm is not None and used is not None:
        local.tokens = max(0.0, local.tokens - charged + used)


class RedisLimits:
    """A :class:`~zeta_router.routing.limits.LimitStore` shared through the ``limits``
    channel. Start it (the background publishing) once the loop runs; close it at shutdown."""

    def __init__(
        self,
        channel: SharedChannel,
        clock: Clock,
        interval_s: float,
        ttl_s: float,
    ) -> None:
        self._channel = channel
        self._clock = clock
        self._ttl_s = ttl_s
        self.instance = os.urandom(6).hex()
        #: Our own messages come back on the subscription: known by their first bytes.
        self._own = orjson.dumps({"i": self.instance})[:-1]
        self._keys: dict[str, KeyState] = {}
        self._limits: dict[str, KeyLimits] = {}
        #: Other instances: when each was last heard from.
        self._seen: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._flush: asyncio.Handle | None = None
        self._sent_at = float("-inf")
        #: The pending flush runs at the end of this tick.
        self._soon = False
        #: For status and metrics: messages sent and heard, and when we last sent one.
        self.published = 0
        self.received = 0
        self.published_at: float | None = None
        self._periodic = Periodic(
            "shared-limits", self.sync, lambda: interval_s, asyncio.sleep, log
        )
        channel.subscribe(self._received)

    # -- the request path ---------------------------------------------------------------------

    def state(self, key: str) -> KeyState | None:
        return self._keys.get(key)

    def instances(self) -> int:
        """Live instances whose figures count, this one included."""
        return 1 + len(self._seen)

    def admit_now(self, key: str, limits: KeyLimits, cost: int, now: float) -> Refused | None:
        s = self._keys.get(key)
        if s is None:
            s = self._keys[key] = KeyState(now)
        self._limits[key] = limits
        refused = admit(s, limits, cost, now)
        if refused is None:
            self._changed(key, s.tight)
        return refused

    async def admit(self, key: str, limits: KeyLimits, cost: int, now: float) -> Refused | None:
        return self.admit_now(key, limits, cost, now)

    def settle(self, key: str, limits: KeyLimits, charged: int, used: int | None) -> None:
        s = self._keys.get(key)
        if s is not None:
            settle(s, limits, charged, used)
            self._changed(key, s.tight)

    def usage(self, key: str, limits: KeyLimits, now: float) -> KeyUsage:
        return usage(self._keys.get(key), limits, now)

    @property
    def connected(self) -> bool:
        """Whether this instance can publish (Redis reachable): limits hold fleet-wide; else
        each instance falls back to its own once the others' figures expire."""
        return self._channel.available

    def _changed(self, key: str, tight: bool) -> None:
        self._dirty.add(key)
        if self._soon or not self._channel.available:
            return
        # One message for every key changed meanwhile: at the end of this tick for a key near
        # its limits or after a quiet spell (the others hear of it at once), else _BATCH_S
        # after the last (a busy instance far from its keys' limits publishes at most
        # 1/_BATCH_S times a second, not once per request).
        loop = asyncio.get_running_loop()
        if not tight and self._sent_at + _BATCH_S > loop.time():
            if self._flush is None:
                self._flush = loop.call_at(self._sent_at + _BATCH_S, self._send_dirty)
            return
        if self._flush is not None:
            self._flush.cancel()
        self._flush = loop.call_soon(self._send_dirty)
        self._soon = True

    # -- publishing ---------------------------------------------------------------------------

    def _send_dirty(self) -> None:
        self._flush = None
        self._soon = False
        self._sent_at = asyncio.get_running_loop().time()
        keys, self._dirty = self._dirty, set()
        self._publish(keys)

    def _publish(self, keys: set[str] | list[str]) -> None:
        if not keys or not self._channel.available:
            return
        now = self._clock()
        rows = []
        for key in keys:
            s, limits = self._keys[key], self._limits.get(key)
            if limits is None:  # never used here: nothing of ours to say
                continue
            decay(s, limits, now)
            u = s.local
            rows.append([key, round(u.requests, 4), round(u.tokens, 2), u.in_flight])
        if rows:
            self._channel.publish(orjson.dumps({"i": self.instance, "k": rows}))
            self.published += 1
            self.published_at = now

    async def sync(self) -> None:
        """One background round: forget instances gone quiet, publish every key of ours."""
        now = self._clock()
        for inst, seen in list(self._seen.items()):
            if now - seen > self._ttl_s:
                del self._seen[inst]
                for s in self._keys.values():
                    s.remote.pop(inst, None)
        self._dirty.clear()
        self._publish(list(self._keys))

    def _received(self, message: bytes) -> None:
        if message.startswith(self._own):
            return
        try:
            data = orjson.loads(message)
            inst, rows = data["i"], data["k"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        if not isinstance(inst, str) or inst == self.instance or not isinstance(rows, list):
            return
        now = self._clock()
        self._seen[inst] = now
        self.received += 1
        for row in rows:
            if not (isinstance(row, list) and len(row) == 4 and isinstance(row[0], str)):
                continue
            key, requests, tokens, in_flight = row
            if not (
                isinstance(requests, int | float)
                and isinstance(tokens, int | float)
                and isinstance(in_flight, int)
            ):
                continue
            s = self._keys.get(key)
            if s is None:
                s = self._keys[key] = KeyState(now)
            limits = self._limits.get(key)
            if limits is not None:
                decay(s, limits, now)
            else:
                # Limits unknown until a request of the key comes here, and nothing of ours to
                # refill: the figures heard are as of now.
                s.at = now
            s.remote[inst] = Usage(float(requests), float(tokens), max(0, in_flight))

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._periodic.start()

    async def close(self) -> None:
        await self._periodic.stop()
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        # Our requests are done (or cut) by now: the others stop counting them in flight.
        self._publish(list(self._keys))
