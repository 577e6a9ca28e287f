"""The seam other features share state through (``SharedState.channel``), against a real
redis-server: keys both instances see, messages between them, and the fail-open bound."""

from __future__ import annotations

import time
from pathlib import Path

from zeta_router.config import parse_config
from zeta_router.fleet.backends import build_shared
from zeta_router.fleet.resp import RedisUnavailable
from zeta_router.fleet.shared import SharedChannel, SharedState
from zeta_router.fleet.state import Fleet
from zeta_router.routing.feedback import Feedback

from .redis_helpers import needs_redis, redis_server, wait_for

pytestmark = needs_redis


def make(url: str, prefix: str) -> tuple[SharedState, Fleet, Feedback]:
    config = parse_config(
        {
            "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]}},
            "state": {"backend": "redis", "url": url, "key_prefix": prefix, "retry_s": 0.2},
        }
    )
    shared = build_shared(config, time.monotonic, lambda model: None)
    return shared, Fleet(config), Feedback(config.feedback, time.monotonic)


async def test_a_feature_shares_keys_and_messages_and_fails_open(tmp_path: Path) -> None:
    with redis_server(tmp_path) as redis:
        a, fa, sa = make(redis.url, "zc:")
        b, fb, sb = make(redis.url, "zc:")
        await a.start(fa, sa)
        await b.start(fb, sb)
        try:
            ch_a, ch_b = a.channel("limits"), b.channel("limits")
            assert ch_a is not None and ch_b is not None
            assert ch_a.available and ch_a.key("k") == "zc:x:limits:k"
            assert await ch_a.call("INCRBY", ch_a.key("k"), 5) == 5
            assert await ch_b.call("INCRBY", ch_b.key("k"), 2) == 7
            got: list[bytes] = []
            ch_b.subscribe(got.append)
            ch_a.publish(b"hello")
            await wait_for(lambda: got == [b"hello"], 2, "the message")
            redis.kill()
            await _fails_open(ch_a)
            assert not ch_a.available and not a.status().connected
            redis.start()
            await wait_for(lambda: ch_a.available and ch_b.available, 5, "the channels back")
            ch_a.publish(b"again")  # the subscription came back with the connection
            await wait_for(lambda: got == [b"hello", b"again"], 5, "the message after")
        finally:
            await a.close()
            await b.close()


async def _fails_open(ch: SharedChannel) -> None:
    start = time.monotonic()
    while ch.available and time.monotonic() - start < 2:
        try:
            await ch.call("PING")
        except RedisUnavailable:
            return
    assert not ch.available


def test_memory_shares_nothing() -> None:
    config = parse_config({"models": {"m": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]}}})
    assert build_shared(config, time.monotonic, lambda model: None).channel("x") is None
