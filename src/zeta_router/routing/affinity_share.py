"""Affinity across router instances (``state.backend: redis``), with no round trip on the
request path.

Each instance keeps deciding on its own :class:`~zeta_router.routing.affinity.LocalIndex` and
:class:`~zeta_router.routing.affinity.SessionTable`. :class:`SharedStores` wraps them: what the
request path records also goes to a bounded outbox, which a background task publishes on the
``affinity`` channel every ``share_interval_s``; what the other instances publish is merged into
the local stores (same bounds, LRU and TTL), stamped with the time it arrived, so the index keeps
its order of last use. The others are therefore about one interval behind. While Redis is down
the outbox is dropped at each flush and each instance keeps its own affinity.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from zeta_router.config import AffinitySettings
from zeta_router.fleet.shared import SharedChannel
from zeta_router.routing.affinity import Hit, LocalIndex, PrefixIndex, SessionTable

#: What the router's current affinity indexes with (shared or not).
AffinityIndex = PrefixIndex

#: Observations kept for the next publish; past it the oldest are dropped (a burst between two
#: flushes only loses what later turns of the same conversations will repeat).
MAX_OUTBOX = 2048
#: Block hashes per observation that are published (the head of the prompt: a prefix).
MAX_HASHES = 256
#: Upper bounds (seconds) of the merge-time histogram: a full outbox took ~19 ms to merge.
MERGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


@dataclass(frozen=True, slots=True)
class Observed:
    replica: str
    hashes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Placed:
    model: str
    session: int
    replica: str


class Merged(NamedTuple):
    """What one batch added here: prompt heads (with their blocks) and sessions."""

    prefixes: int = 0
    blocks: int = 0
    sessions: int = 0


@dataclass(frozen=True, slots=True)
class Batch:
    """One instance's observations since its last publish."""

    sender: str
    observed: tuple[Observed, ...] = ()
    placed: tuple[Placed, ...] = ()

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "i": self.sender,
                "o": [[o.replica, list(o.hashes)] for o in self.observed],
                "s": [[p.model, p.session, p.replica] for p in self.placed],
            }
        )


def _u64(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64


def decode(message: bytes) -> Batch | None:
    """A batch, or None for anything malformed (another version, a stray publisher)."""
    try:
        data = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    sender, obs, placed = data.get("i"), data.get("o", []), data.get("s", [])
    if not isinstance(sender, str) or not isinstance(obs, list) or not isinstance(placed, list):
        return None
    observed: list[Observed] = []
    for o in obs[:MAX_OUTBOX]:
        if not (isinstance(o, list) and len(o) == 2 and isinstance(o[0], str)):
            return None
        hashes = o[1]
        if not isinstance(hashes, list) or not all(_u64(h) for h in hashes[:MAX_HASHES]):
            return None
        observed.append(Observed(o[0], tuple(hashes[:MAX_HASHES])))
    out: list[Placed] = []
    for p in placed[:MAX_OUTBOX]:
        if not (
            isinstance(p, list)
            and len(p) == 3
            and isinstance(p[0], str)
            and _u64(p[1])
            and isinstance(p[2], str)
        ):
            return None
        out.append(Placed(p[0], p[1], p[2]))
    return Batch(sender, tuple(observed), tuple(out))


class SharedStores:
    """A :class:`~zeta_router.routing.affinity.PrefixIndex` and a
    :class:`~zeta_router.routing.affinity.SessionStore` in one: the local stores, plus the outbox
    of what to publish and :meth:`merge` for what the others published. The event loop is the
    one writer: the request path and the channel's message handler both run on it."""

    def __init__(self, settings: AffinitySettings, sender: str) -> None:
        self.sender = sender
        self.interval_s = settings.share_interval_s
        self.local = LocalIndex(settings.max_blocks_per_replica, settings.ttl_s)
        self.table = SessionTable(settings.max_sessions)
        self._observed: deque[Observed] = deque(maxlen=MAX_OUTBOX)
        self._placed: deque[Placed] = deque(maxlen=MAX_OUTBOX)
        #: Observations and sessions merged from other instances.
        self.merged_blocks = 0
        self.merged_sessions = 0

    # -- PrefixIndex ---------------------------------------------------------------------------

    def observe(self, replica: str, hashes: Sequence[int], now: float) -> None:
        self.local.observe(replica, hashes, now)
        self._observed.append(Observed(replica, tuple(hashes[:MAX_HASHES])))

    def lookup(self, hashes: Sequence[int], replicas: Sequence[str], now: float) -> dict[str, Hit]:
        return self.local.lookup(hashes, replicas, now)

    def evict_until(self, replica: str, at: float) -> int:
        # Local only: the clocks of other instances are not ours, and each corrects its own
        # index from the reports it gets.
        return self.local.evict_until(replica, at)

    def forget(self, replica: str) -> None:
        self.local.forget(replica)

    def sizes(self) -> dict[str, int]:
        return self.local.sizes()

    # -- SessionStore --------------------------------------------------------------------------

    def get(self, model: str, session: int) -> str | None:
        return self.table.get(model, session)

    def put(self, model: str, session: int, replica: str) -> None:
        if self.table.get(model, session) != replica:
            self._placed.append(Placed(model, session, replica))
        self.table.put(model, session, replica)

    def __len__(self) -> int:
        return len(self.table)

    # -- sharing -------------------------------------------------------------------------------

    def take(self) -> Batch | None:
        """What to publish now (None: nothing new); the outbox starts over."""
        if not self._observed and not self._placed:
            return None
        # The same prompt head routed again (a shared system prompt, a retried turn) is sent
        # once, where it was last seen: the receiver's merge is the costly half.
        observed = dict.fromkeys(reversed(self._observed))
        placed = dict.fromkeys(reversed(self._placed))
        batch = Batch(self.sender, tuple(reversed(observed)), tuple(reversed(placed)))
        self._observed.clear()
        self._placed.clear()
        return batch

    def merge(self, batch: Batch, now: float, known: Callable[[str], bool]) -> Merged:
        """Another instance's observations, as if routed here at ``now`` (its clock is not
        ours); replicas this instance does not have are ignored, so memory stays bounded."""
        if batch.sender == self.sender:
            return Merged()
        prefixes = blocks = sessions = 0
        for o in batch.observed:
            if o.hashes and known(o.replica):
                self.local.observe(o.replica, o.hashes, now)
                prefixes += 1
                blocks += len(o.hashes)
        for p in batch.placed:
            if known(p.replica):
                self.table.put(p.model, p.session, p.replica)
                sessions += 1
        self.merged_blocks += blocks
        self.merged_sessions += sessions
        return Merged(prefixes, blocks, sessions)


class AffinityShare:
    """The background half, one per router: merges what the other instances publish into the
    router's current stores (``current()``, which follows reloads) and publishes this
    instance's outbox every ``share_interval_s`` while Redis is available."""

    def __init__(
        self,
        channel: SharedChannel,
        sender: str,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        current: Callable[[], AffinityIndex],
        known: Callable[[str], bool],
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._channel = channel
        self.sender = sender
        self._clock = clock
        self._sleep = sleep
        self._current = current
        self._known = known
        #: Our own batches come back on the subscription: known by their first bytes.
        self._own = orjson.dumps({"i": sender})[:-1]
        #: Times a merge on the loop (a real timer: the router's clock may be virtual).
        self._timer = timer
        #: Batches published, and what they held; entries dropped while Redis was down.
        self.published = 0
        self.published_prefixes = 0
        self.published_sessions = 0
        self.dropped = 0
        #: Batches heard from other instances and what merging them added here (across
        #: reloads, which rebuild the stores), merge times (MERGE_BUCKETS counts and their sum)
        #: and when (router clock) the last one was merged.
        self.merged_batches = 0
        self.merged = Merged()
        self.merge_counts = [0] * (len(MERGE_BUCKETS) + 1)
        self.merge_seconds = 0.0
        self.merged_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        channel.subscribe(self._on_message)

    def _stores(self) -> SharedStores | None:
        stores = self._current()
        return stores if isinstance(stores, SharedStores) else None

    def _on_message(self, message: bytes) -> None:
        stores = self._stores()
        if stores is None:
            return
        if message.startswith(self._own):
            return
        start = self._timer()
        batch = decode(message)
        if batch is None or batch.sender == stores.sender:
            return
        now = self._clock()
        got = stores.merge(batch, now, self._known)
        took = self._timer() - start  # decoding included: both run on the loop
        self.merge_counts[bisect_left(MERGE_BUCKETS, took)] += 1
        self.merge_seconds += took
        self.merged_batches += 1
        total = self.merged
        self.merged = Merged(
            total.prefixes + got.prefixes, total.blocks + got.blocks, total.sessions + got.sessions
        )
        self.merged_at = now

    def flush(self) -> None:
        stores = self._stores()
        if stores is None:
            return
        batch = stores.take()
        if batch is None:
            return
        if not self._channel.available:
            # Redis is down: nobody to tell, and the request path never noticed.
            self.dropped += len(batch.observed) + len(batch.placed)
            return
        self._channel.publish(batch.encode())
        self.published += 1
        self.published_prefixes += len(batch.observed)
        self.published_sessions += len(batch.placed)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="affinity-share")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.flush()

    async def _run(self) -> None:
        while True:
            stores = self._stores()
            await self._sleep(stores.interval_s if stores is not None else 1.0)
            self.flush()

    @property
    def connected(self) -> bool:
        return self._channel.available

    def merge_age(self) -> float | None:
        """Seconds since a batch from another instance was last merged (None: never)."""
        at = self.merged_at
        return None if at is None else max(0.0, self._clock() - at)

    def status(self) -> dict[str, object]:
        s = self._stores()
        age = self.merge_age()
        return {
            "connected": self._channel.available,
            "interval_s": s.interval_s if s is not None else None,
            "published": self.published,
            "dropped": self.dropped,
            "merged_batches": self.merged_batches,
            "merged_blocks": self.merged.blocks,
            "merged_sessions": self.merged.sessions,
            "last_merge_age_s": None if age is None else round(age, 3),
        }
