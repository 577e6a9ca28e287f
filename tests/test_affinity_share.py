"""The merge of other instances' affinity observations, without sockets: batches round-trip,
merged blocks and sessions steer the local choice, bounds and TTL hold, and the channel being
down drops the outbox without touching decisions."""

from __future__ import annotations

from collections.abc import Callable

from zeta_router.config import AffinitySettings
from zeta_router.fleet.resp import Arg, Reply
from zeta_router.routing.affinity_share import (
    MAX_OUTBOX,
    AffinityShare,
    Batch,
    Observed,
    Placed,
    SharedStores,
    decode,
)

SETTINGS = AffinitySettings(max_blocks_per_replica=8, max_sessions=2, ttl_s=10.0)


def known(rid: str) -> bool:
    return rid in ("r0", "r1")


def test_a_batch_round_trips_and_junk_is_refused() -> None:
    batch = Batch("a", (Observed("r0", (1, 2, (1 << 64) - 1)),), (Placed("m", 7, "r1"),))
    assert decode(batch.encode()) == batch
    for junk in (b"", b"[]", b'{"i": 1}', b'{"i": "a", "o": [["r0", [-1]]]}',
                 b'{"i": "a", "s": [["m", "x", "r0"]]}', b'{"i": "a", "o": [["r0"]]}'):
        assert decode(junk) is None, junk


def test_merged_observations_steer_the_lookup_like_local_ones() -> None:
    a, b = SharedStores(SETTINGS, "a"), SharedStores(SETTINGS, "b")
    a.observe("r1", [10, 11, 12], now=100.0)
    a.put("m", 42, "r1")
    batch = a.take()
    assert batch is not None and a.take() is None  # the outbox starts over
    b.merge(batch, now=5.0, known=known)
    # Stamped with the receiver's clock: a prefix of 2 blocks held by r1, none by r0.
    hits = b.lookup([10, 11, 99], ["r0", "r1"], now=6.0)
    assert set(hits) == {"r1"} and hits["r1"].depth == 2 and hits["r1"].at == 5.0
    assert b.get("m", 42) == "r1" and b.merged_sessions == 1
    # What was merged is not published again (no echo between instances).
    assert b.take() is None
    # The receiver's TTL applies from arrival.
    assert b.lookup([10], ["r1"], now=15.1) == {}


def test_own_batches_and_unknown_replicas_are_ignored_and_bounds_hold() -> None:
    b = SharedStores(SETTINGS, "b")
    b.merge(Batch("b", (Observed("r0", (1,)),)), now=1.0, known=known)
    b.merge(Batch("x", (Observed("elsewhere", (2,)),), (Placed("m", 1, "gone"),)), 1.0, known)
    assert b.sizes() == {} and len(b) == 0
    b.merge(Batch("x", (Observed("r0", tuple(range(20))),)), now=2.0, known=known)
    assert b.sizes() == {"r0": 8}  # the same per-replica LRU bound as local observations
    b.merge(Batch("x", (), tuple(Placed("m", s, "r0") for s in range(5))), 2.0, known)
    assert len(b) == 2 and b.get("m", 4) == "r0" and b.get("m", 0) is None


def test_a_session_that_stays_put_is_published_once() -> None:
    a = SharedStores(SETTINGS, "a")
    for _ in range(3):
        a.put("m", 1, "r0")
    batch = a.take()
    assert batch is not None and batch.placed == (Placed("m", 1, "r0"),)


def test_repeats_are_sent_once_in_their_last_place() -> None:
    a = SharedStores(SETTINGS, "a")
    for rid, hashes in (("r0", [1, 2]), ("r1", [3]), ("r0", [1, 2]), ("r1", [4])):
        a.observe(rid, hashes, now=1.0)
    batch = a.take()
    assert batch is not None
    assert batch.observed == (Observed("r1", (3,)), Observed("r0", (1, 2)), Observed("r1", (4,)))


def test_the_outbox_is_bounded() -> None:
    a = SharedStores(SETTINGS, "a")
    for i in range(MAX_OUTBOX + 10):
        a.observe("r0", [i], now=float(i))
    batch = a.take()
    assert batch is not None and len(batch.observed) == MAX_OUTBOX
    assert batch.observed[-1] == Observed("r0", (MAX_OUTBOX + 9,))


class FakeChannel:
    """The channel seam in memory: ``available`` flips, publishes are collected."""

    def __init__(self) -> None:
        self.available = True
        self.sent: list[bytes] = []
        self.handlers: list[Callable[[bytes], None]] = []

    def key(self, suffix: str) -> str:
        return suffix

    async def call(self, *args: Arg) -> Reply:
        raise AssertionError("affinity makes no round trip")

    def send(self, *args: Arg) -> None:
        raise AssertionError("affinity only publishes")

    def publish(self, message: bytes) -> None:
        self.sent.append(message)

    def subscribe(self, handler: Callable[[bytes], None]) -> None:
        self.handlers.append(handler)


async def never(s: float) -> None:
    raise AssertionError("not started")


def test_flush_publishes_while_available_and_drops_while_down() -> None:
    ch_a, ch_b = FakeChannel(), FakeChannel()
    a, b = SharedStores(SETTINGS, "a"), SharedStores(SETTINGS, "b")
    share_a = AffinityShare(ch_a, "a", lambda: 0.0, never, lambda: a, known)
    share_b = AffinityShare(ch_b, "b", lambda: 3.0, never, lambda: b, known)
    a.observe("r0", [5, 6], now=1.0)
    share_a.flush()
    assert len(ch_a.sent) == 1
    for message in ch_a.sent:
        for handler in ch_b.handlers:
            handler(message)
    assert b.lookup([5, 6], ["r0"], now=3.0)["r0"].depth == 2
    assert share_b.status()["merged_blocks"] == 2
    assert (share_b.merged_batches, share_b.merged, share_b.merged_at) == (1, (1, 2, 0), 3.0)
    assert sum(share_b.merge_counts) == 1 and share_b.merge_seconds >= 0.0
    assert (share_a.published, share_a.published_prefixes, share_a.published_sessions) == (1, 1, 0)
    # Its own batch, heard back on the subscription, is neither decoded nor counted.
    for handler in ch_a.handlers:
        handler(ch_a.sent[0])
    assert share_a.merged_batches == 0 and share_a.merge_age() is None
    ch_a.available = False
    a.observe("r1", [7], now=2.0)
    share_a.flush()
    assert len(ch_a.sent) == 1 and share_a.dropped == 1
    # Decisions never depended on the channel: the local index still has it.
    assert a.lookup([7], ["r1"], now=2.0)["r1"].depth == 1


def test_a_reload_that_changes_affinity_keeps_sharing_into_the_new_stores() -> None:
    from typing import Any

    from zeta_router.config import parse_config
    from zeta_router.router import Router
    from zeta_router.routing.engine import Engine, build_engine

    ch = FakeChannel()
    reps = [{"url": f"http://127.0.0.1:{9000 + i}/v1", "id": f"r{i}"} for i in range(2)]
    base: dict[str, Any] = {"health": {"enabled": False}, "models": {"m": {"replicas": reps}}}
    live = Router(parse_config(base)).engine
    current: list[Engine] = []
    share = AffinityShare(ch, "a", lambda: 1.0, never, lambda: current[-1].affinity.index, known)

    def build(doc: dict[str, Any], prev: Engine | None) -> Engine:
        return build_engine(
            parse_config(doc), clock=lambda: 1.0, transport=live.transport,
            admission=live.admission, rng=live.rng, prev=prev,
            share=share if prev is None else None,
        )

    current.append(build(base, None))
    assert isinstance(current[-1].affinity.index, SharedStores)
    changed = {**base, "balancer": {"affinity": {"share_interval_s": 0.5}}}
    current.append(build(changed, current[-1]))
    new = current[-1]
    assert new.share is share and isinstance(new.affinity.index, SharedStores)
    assert new.affinity.index.interval_s == 0.5
    ch.handlers[0](Batch("b", (Observed("r1", (9,)),)).encode())
    assert new.affinity.index.sizes() == {"r1": 1}
