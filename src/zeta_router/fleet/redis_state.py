"""The fleet view shared through Redis (``state: {backend: redis}``).

Which kind of access each piece of state gets, and why:

- **In-flight counts of replicas with ``max_concurrency``**: exact, one round trip per request
  (:meth:`RedisState.acquire`, the ACQUIRE script): the limit is the backend's, so two
  instances must never both take the last slot. Releases are not awaited: they are batched
  into one write per event-loop turn (a late release only makes the fleet look fuller for a
  moment, never over-admits).
- **Half-open probes**: exact, in the same round trip (a probe lease, SET NX PX): one
  instance probes a replica coming back from an ejection, the others wait for its verdict.
- **Ejections (breakers opening and closing)**: pushed as they happen (PUBLISH) and re-read
  every sync round; no request waits for them.
- **Other in-flight counts, latency / decode estimates, scraped backend load, feedback
  scores**: a local view refreshed every ``sync_interval_s`` in one round trip off the request
  path: the balancer and the planner only rank with them, a quarter of a second late is as
  good. Estimates: the freshest sample wins; feedback: each instance's offset from neutral is
  added to the others', so outcomes seen anywhere move the fleet's score once.

When Redis does not answer within ``timeout_ms`` (or the connection is lost), the instance
goes on on local state alone and stops asking for ``retry_s``: one log line, a metric and the
status say so; each replica's ``max_concurrency`` is then split evenly between the instances
last seen alive, so the limit still holds across them. When Redis answers again the instance
writes its own counts and ejections back (its entries expired or Redis restarted empty) and
reads the others', and the exact checks resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from zeta_router.config import StateSettings
from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import SharedClosed, SharedOpen
from zeta_router.fleet.redis_channel import RedisChannel
from zeta_router.fleet.redis_scripts import ACQUIRE, ALL, BREAKER, PUT, SYNC
from zeta_router.fleet.redis_views import (
    estimates,
    merge_estimates,
    seen_elsewhere,
    summed_offsets,
)
from zeta_router.fleet.resp import (
    Arg,
    Connection,
    RedisReplyError,
    RedisUnavailable,
    Reply,
    parse_url,
)
from zeta_router.fleet.shared import Scores, SharedStatus
from zeta_router.fleet.state import Fleet, ReplicaState

log = logging.getLogger("zeta_router")

#: Background round trips (connect, sync) may take this long; requests never wait on them.
_BACKGROUND_TIMEOUT_S = 1.0
#: A slot granted by ACQUIRE whose request never started (an error in between) stops
#: counting after this long.
_GRANT_TTL_S = 2.0
#: Why a replica reads as open when the fleet-wide check refused its probe.
_PROBED_ELSEWHERE = "another gateway instance is probing it"
_EJECTED_ELSEWHERE = "another gateway instance's probe failed: ejected again"


class RedisState:
    def __init__(
        self,
        settings: StateSettings,
        clock: Callable[[], float],
        on_capacity: Callable[[str], None],
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._endpoint = parse_url(settings.url)
        self._prefix = settings.key_prefix
        self._clock = clock
        self._wall = wall
        self._on_capacity = on_capacity
        self.instance = os.urandom(6).hex()
        self._timeout_s = settings.timeout_ms / 1000.0
        self._ttl_ms = int(settings.instance_ttl_s * 1000)
        self._lease_ms = int(settings.probe_lease_s * 1000)
        self._fleet: Fleet | None = None
        self._scores: Scores | None = None
        self._conn: Connection | None = None
        self._sub: Connection | None = None
        self._up = False
        self._ever_up = False
        self._detail = "not connected yet"
        self._down_since = 0.0
        self._retry_at = 0.0
        self._seq = 0
        #: Slots ACQUIRE granted whose request has not started yet: replica id -> count.
        self._granted: dict[str, int] = {}
        self._granted_at: dict[str, float] = {}
        self._dirty: dict[str, ReplicaState] = {}
        self._flush: asyncio.Handle | None = None
        self._task: asyncio.Task[None] | None = None
        self._channels: dict[str, RedisChannel] = {}
        self._topics: dict[bytes, RedisChannel] = {}
        self._events = (self._prefix + "events").encode()
        self._instances = 1
        self._outages = 0
        self._failed_open = 0
        self._acquires = 0
        self._refused = 0

    # -- the request path ---------------------------------------------------------------------

    def gated(self, replica: ReplicaState) -> bool:
        return self._up and (
            replica.max_concurrency is not None or replica.breaker.state is not BreakerState.CLOSED
        )

    async def acquire(self, replica: ReplicaState) -> bool:
        conn = self._conn
        if conn is None or not self._up:
            return True
        if replica.breaker.state is BreakerState.CLOSED:
            return await self._check(conn, replica, probe=False)
        # A probe: its local slot is taken while we ask, so no other request here picks the
        # replica meanwhile; given back after, the attempt itself takes it when it is sent.
        breaker = replica.breaker
        breaker.on_attempt(self._clock())
        try:
            return await self._check(conn, replica, probe=True)
        finally:
            breaker.on_neutral()

    async def _check(self, conn: Connection, replica: ReplicaState, *, probe: bool) -> bool:
        rid = replica.id
        limit = replica.max_concurrency if replica.max_concurrency is not None else -1
        # Reserved before the round trip: requests picking this replica meanwhile count it
        # (locally, as one of ours not yet started) and send the count including it.
        granted = self._granted.get(rid, 0) + 1
        self._granted[rid] = granted
        self._granted_at[rid] = self._clock()
        replica.remote_in_flight += 1
        self._seq += 1
        self._acquires += 1
        try:
            fut = conn.send(
                "EVALSHA",
                ACQUIRE.sha,
                0,
                self._prefix,
                self.instance,
                rid,
                replica.in_flight + granted,
                self._seq,
                limit,
                self._ttl_ms,
                1 if probe else 0,
                self._lease_ms,
            )
            async with asyncio.timeout(self._timeout_s):
                reply = await fut
        except TimeoutError:
            return self._fail_open(f"no answer within {self._settings.timeout_ms:g} ms")
        except RedisUnavailable as exc:
            return self._fail_open(str(exc))
        ok = others = lease_ms = ejected = None
        if isinstance(reply, list) and len(reply) == 4:
            ok, others, lease_ms, ejected = reply
        if not (
            isinstance(ok, int)
            and isinstance(others, int)
            and isinstance(lease_ms, int)
            and isinstance(ejected, int)
        ):
            return self._fail_open(f"unexpected answer to the in-flight check: {reply!r:.80}")
        if not ok:
            self._refused += 1
            left = self._granted.get(rid, 0)
            if left > 0:
                self._granted[rid] = left - 1
        # Everything not in our own in_flight: the other instances', and our reserved slots.
        replica.remote_in_flight = others + self._granted.get(rid, 0)
        if lease_ms > 0:
            # Another instance is probing this replica (wait for its verdict, which arrives as
            # an ejection or a recovery event, at most as long as its lease), or its probe
            # failed and the fleet ejected the replica again before we heard of it.
            replica.record(
                SharedOpen(
                    self._clock() + lease_ms / 1000.0,
                    replica.breaker.ejections,
                    _EJECTED_ELSEWHERE if ejected else _PROBED_ELSEWHERE,
                )
            )
        return bool(ok)

    def started(self, replica: ReplicaState) -> None:
        granted = self._granted.get(replica.id)
        if granted:
            self._granted[replica.id] = granted - 1
            if replica.remote_in_flight > 0:
                replica.remote_in_flight -= 1

    def released(self, replica: ReplicaState) -> None:
        if not self._up or replica.max_concurrency is None:
            return  # counts without a limit travel with the next sync round
        self._dirty[replica.id] = replica
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self._write_released)

    def _write_released(self) -> None:
        self._flush = None
        dirty, self._dirty = self._dirty, {}
        conn = self._conn
        if not dirty or conn is None or not self._up:
            return
        args: list[Arg] = ["EVALSHA", PUT.sha, 0, self._prefix, self.instance, self._ttl_ms]
        for rid, r in dirty.items():
            self._seq += 1
            args += [rid, r.in_flight + self._granted.get(rid, 0), self._seq]
        self._send_unawaited(conn, args)

    def _send_unawaited(self, conn: Connection, args: list[Arg]) -> None:
        try:
            fut = conn.send(*args)
        except RedisUnavailable as exc:
            self._down(str(exc))
            return
        fut.add_done_callback(self._check_reply)

    def _check_reply(self, fut: asyncio.Future[Reply]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            self._down(str(exc))
            return
        reply = fut.result()
        if isinstance(reply, RedisReplyError):
            self._down(f"Redis refused a write: {reply}")

    def _fail_open(self, reason: str) -> bool:
        self._failed_open += 1
        self._down(reason)
        return True

    # -- ejections ----------------------------------------------------------------------------

    def _listen(self, replica: ReplicaState) -> None:
        def changed() -> None:
            self._breaker_changed(replica)

        replica.breaker.listener = changed

    def _breaker_changed(self, replica: ReplicaState) -> None:
        conn = self._conn
        if conn is None or not self._up:
            return  # written back by the re-sync when Redis returns
        self._publish_breaker(conn, replica, self._clock(), self._wall())

    def _publish_breaker(
        self, conn: Connection, replica: ReplicaState, now: float, wall: float
    ) -> None:
        b = replica.breaker
        if b.state is BreakerState.OPEN:
            until_ms = int((wall + max(0.0, b.open_until - now)) * 1000)
            event = {"e": "open", "r": replica.id, "u": until_ms, "j": b.ejections}
            event |= {"w": b.last_reason, "b": self.instance}
            args: list[Arg] = ["EVALSHA", BREAKER.sha, 0, self._prefix, self.instance]
            args += [replica.id, "open", until_ms, b.ejections, b.last_reason]
        elif b.state is BreakerState.CLOSED:
            event = {"e": "closed", "r": replica.id, "b": self.instance}
            args = ["EVALSHA", BREAKER.sha, 0, self._prefix, self.instance, replica.id]
            args += ["closed", 0, 0, ""]
        else:
            return
        self._send_unawaited(conn, [*args, orjson.dumps(event)])

    def channel(self, name: str) -> RedisChannel:
        ch = self._channels.get(name)
        if ch is None:
            ch = RedisChannel(name, self._prefix, self._timeout_s, self._usable, self._down)
            self._channels[name] = ch
            self._topics[ch.topic.encode()] = ch
            if self._sub is not None:
                with contextlib.suppress(RedisUnavailable):
                    self._sub.write("SUBSCRIBE", ch.topic)
        return ch

    def _lost(self) -> None:
        # Noticed at once, not at the next round trip: a dead subscription would miss events.
        if self._up:
            self._down("connection to Redis lost")

    def _usable(self) -> Connection | None:
        return self._conn if self._up else None

    def _on_event(self, reply: Reply) -> None:
        """A pushed message: ["message", channel, payload] (subscription confirmations and
        anything else are not for us)."""
        if not (isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message"):
            return
        topic, payload = reply[1], reply[2]
        fleet = self._fleet
        if not isinstance(payload, bytes) or not isinstance(topic, bytes):
            return
        if topic != self._events:
            ch = self._topics.get(topic)
            if ch is not None:
                ch.deliver(payload)
            return
        if fleet is None:
            return
        try:
            event: dict[str, Any] = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if event.get("b") == self.instance:
            return
        if event.get("e") == "free":
            self._freed(fleet, event.get("r"))
            return
        replica = fleet.replicas.get(str(event.get("r")))
        if replica is None:
            return
        now = self._clock()
        if event.get("e") == "open":
            until = self._local_time(int(event.get("u", 0)), now, self._wall())
            if until > now:
                why = seen_elsewhere(str(event.get("w", "")))
                replica.record(SharedOpen(until, int(event.get("j", 0)), why))
        elif event.get("e") == "closed":
            replica.record(SharedClosed(now))

    def _freed(self, fleet: Fleet, rows: object) -> None:
        """Another instance released slots: our view of its count drops now (the next sync
        says exactly), and requests queued here for those replicas try the exact check."""
        if not isinstance(rows, list):
            return
        for row in rows:
            if not (isinstance(row, list) and len(row) == 2 and isinstance(row[1], int)):
                continue
            r = fleet.replicas.get(str(row[0]))
            if r is None or r.max_concurrency is None:
                continue
            n = min(row[1], r.remote_in_flight)
            r.remote_in_flight -= n
            for _ in range(min(n, r.max_concurrency - r.in_flight - r.remote_in_flight)):
                self._on_capacity(r.model)

    def _local_time(self, epoch_ms: int, now: float, wall: float) -> float:
        return now + (epoch_ms / 1000.0 - wall)

    # -- background: connect, sync, re-sync --------------------------------------------------

    async def start(self, fleet: Fleet, scores: Scores) -> None:
        self._fleet = fleet
        self._scores = scores
        for r in fleet.replicas.values():
            self._listen(r)
        # The first connection is made before the gateway serves, so the first requests
        # already see the fleet; a Redis that is down delays the start by at most the connect
        # timeout, and the gateway then serves on local state.
        await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="shared-state")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        conn = self._conn
        if conn is not None and self._up and self._fleet is not None:
            # Leave nothing counted behind: our requests are done (or cut) by now.
            args: list[Arg] = ["EVALSHA", PUT.sha, 0, self._prefix, self.instance, 1]
            for rid in self._fleet.replicas:
                self._seq += 1
                args += [rid, 0, self._seq]
            with contextlib.suppress(RedisUnavailable, TimeoutError):
                gone = conn.send("ZREM", self._prefix + "instances", self.instance)
                async with asyncio.timeout(0.2):
                    await conn.send(*args)
                    await gone
        self._up = False
        self._close_connections()

    async def _run(self) -> None:
        interval = self._settings.sync_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                if self._up:
                    await self._sync()
                elif self._clock() >= self._retry_at:
                    await self._connect()
            except Exception:  # pragma: no cover - a bug here must not end the sharing
                log.exception("shared state: sync round failed")
                self._down("internal error in the sync round")

    async def _connect(self) -> None:
        conn = sub = None
        try:
            timeout = _BACKGROUND_TIMEOUT_S
            conn = await Connection.open(self._endpoint, timeout, on_lost=self._lost)
            sub = await Connection.open(self._endpoint, timeout, self._on_event, self._lost)
            async with asyncio.timeout(_BACKGROUND_TIMEOUT_S):
                for script in ALL:
                    await conn.call_checked("SCRIPT", "LOAD", script.source)
                topics = [ch.topic for ch in self._channels.values()]
                await sub.call_checked("SUBSCRIBE", self._prefix + "events", *topics)
        except (RedisUnavailable, RedisReplyError, TimeoutError) as exc:
            for c in (conn, sub):
                if c is not None:
                    c.close()
            self._down(str(exc) or "no answer from Redis")
            return
        self._conn, self._sub = conn, sub
        # Re-sync: our ejections go back first (Redis may have restarted empty), then one
        # sync round writes our counts and estimates and reads everyone else's.
        fleet = self._fleet
        if fleet is not None:
            now, wall = self._clock(), self._wall()
            for r in fleet.replicas.values():
                if r.breaker.state is BreakerState.OPEN and r.breaker.open_until > now:
                    self._publish_breaker(conn, r, now, wall)
        if not await self._sync(connecting=True):
            return
        was_down = self._ever_up
        self._up = self._ever_up = True
        self._detail = ""
        if was_down:
            log.warning(
                "shared state: Redis is back after %.1f s; re-synced (%d instance(s))",
                self._clock() - self._down_since,
                self._instances,
            )
        else:
            log.info(
                "shared state: Redis at %s, instance %s (%d instance(s))",
                self._where(),
                self.instance,
                self._instances,
            )

    async def _sync(self, *, connecting: bool = False) -> bool:
        conn, fleet = self._conn, self._fleet
        if conn is None or fleet is None:
            return False
        now, wall = self._clock(), self._wall()
        replicas = list(fleet.replicas.values())
        offsets = self._scores.local_offsets() if self._scores is not None else []
        args: list[Arg] = ["EVALSHA", SYNC.sha, 0, self._prefix, self.instance, self._ttl_ms]
        args.append(orjson.dumps([[m, t, round(v, 5)] for m, t, v in offsets if v]))
        for r in replicas:
            if r.breaker.listener is None:  # new, or its breaker was rebuilt by a reload
                self._listen(r)
            if r.id in self._granted_at and now - self._granted_at[r.id] > _GRANT_TTL_S:
                del self._granted_at[r.id]
                self._granted.pop(r.id, None)
            self._seq += 1
            count = r.in_flight + self._granted.get(r.id, 0)
            args += [r.id, count, self._seq, estimates(r, now, wall)]
        try:
            fut = conn.send(*args)
            async with asyncio.timeout(_BACKGROUND_TIMEOUT_S):
                reply = await fut
        except TimeoutError:
            self._down("no answer to the sync round")
            return False
        except RedisUnavailable as exc:
            self._down(str(exc))
            return False
        if isinstance(reply, RedisReplyError) or not isinstance(reply, list):
            self._down(f"unexpected answer to the sync round: {reply!r:.80}")
            return False
        if len(reply) != 2 + 3 * len(replicas) or not isinstance(reply[0], int):
            if connecting or not self._up:
                self._down("unexpected answer to the sync round")
                return False
            return True  # the fleet changed during the round trip (a reload): next round
        self._instances = max(1, reply[0])
        if self._scores is not None and isinstance(reply[1], list):
            self._scores.set_remote(summed_offsets(reply[1]))
        now, wall = self._clock(), self._wall()
        for i, r in enumerate(replicas):
            others, ests, brk = reply[2 + 3 * i : 5 + 3 * i]
            self._apply(r, others, ests, brk, now, wall)
        return True

    def _apply(
        self, r: ReplicaState, others: Reply, ests: Reply, brk: Reply, now: float, wall: float
    ) -> None:
        if isinstance(others, int):
            before = r.in_flight + r.remote_in_flight
            r.remote_in_flight = others + self._granted.get(r.id, 0)
            limit = r.max_concurrency
            if limit is not None and r.in_flight + r.remote_in_flight < min(before, limit):
                # Another instance freed slots: requests queued here may go now.
                for _ in range(min(before, limit) - r.in_flight - r.remote_in_flight):
                    self._on_capacity(r.model)
        if isinstance(ests, list):
            for e in ests:
                if isinstance(e, bytes):
                    merge_estimates(r, e, now, wall)
        if isinstance(brk, list) and len(brk) == 4 and isinstance(brk[0], bytes):
            if brk[3] == self.instance.encode():
                return
            until = self._local_time(int(brk[0]), now, wall)
            b = r.breaker
            if until > now and (b.state is not BreakerState.OPEN or b.open_until < until - 0.05):
                ej = int(brk[1]) if isinstance(brk[1], bytes) else b.ejections
                why = brk[2].decode("utf-8", "replace") if isinstance(brk[2], bytes) else ""
                r.record(SharedOpen(until, ej, seen_elsewhere(why)))

    def _down(self, reason: str) -> None:
        now = self._clock()
        self._detail = reason
        self._retry_at = now + self._settings.retry_s
        if self._up:
            self._up = False
            self._outages += 1
            self._down_since = now
            log.warning(
                "shared state: Redis unavailable (%s); balancing on local state, each "
                "instance taking its share of max_concurrency, until it answers again",
                reason,
            )
            self._local_shares()
        elif not self._ever_up and self._outages == 0:
            self._outages = 1
            self._down_since = now
            log.warning(
                "shared state: cannot reach Redis at %s (%s); balancing on local state until "
                "it answers",
                self._where(),
                reason,
            )
        self._dirty.clear()
        self._granted.clear()
        self._granted_at.clear()
        self._close_connections()

    def _local_shares(self) -> None:
        """Without Redis, each instance keeps to its share of every replica's limit."""
        fleet = self._fleet
        if fleet is None:
            return
        n = self._instances
        for r in fleet.replicas.values():
            limit = r.max_concurrency
            r.remote_in_flight = 0 if limit is None else limit - max(1, math.ceil(limit / n))

    def _close_connections(self) -> None:
        for c in (self._conn, self._sub):
            if c is not None:
                c.close()
        self._conn = self._sub = None

    def _where(self) -> str:
        e = self._endpoint
        return e.path or f"{e.host}:{e.port}"

    def status(self) -> SharedStatus:
        return SharedStatus(
            backend="redis",
            connected=self._up,
            detail=self._detail,
            instance=self.instance,
            instances=self._instances,
            outages=self._outages,
            failed_open=self._failed_open,
            acquires=self._acquires,
            refused=self._refused,
        )
