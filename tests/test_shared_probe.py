"""The fleet-wide half-open probe, at the level of the Lua scripts on a real redis-server: one
instance holds the probe lease; when its probe fails, the next ejection it records keeps every
other instance from probing, even one that has not yet heard the ejection's event."""

from __future__ import annotations

import time
from pathlib import Path

from zeta_router.config import parse_config
from zeta_router.fleet.backends import build_shared
from zeta_router.fleet.redis_scripts import ACQUIRE, BREAKER, Script
from zeta_router.fleet.resp import Arg, Reply
from zeta_router.fleet.shared import SharedChannel
from zeta_router.fleet.state import Fleet
from zeta_router.routing.feedback import Feedback

from .redis_helpers import needs_redis, redis_server

pytestmark = needs_redis

P = "zp:"


async def run(ch: SharedChannel, script: Script, *args: Arg) -> Reply:
    return await ch.call("EVAL", script.source, 0, P, *args)


async def probe(ch: SharedChannel, instance: str) -> Reply:
    # replica r, 1 in flight after this request, sequence, no limit, ttl, take the lease, 3 s
    return await run(ch, ACQUIRE, instance, "r", 1, time.monotonic_ns(), -1, 5000, 1, 3000)


async def test_a_failed_probe_elsewhere_is_not_followed_by_a_second(tmp_path: Path) -> None:
    with redis_server(tmp_path) as redis:
        config = parse_config(
            {
                "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]}},
                "state": {"backend": "redis", "url": redis.url, "key_prefix": "zq:"},
            }
        )
        shared = build_shared(config, time.monotonic, lambda model: None)
        await shared.start(Fleet(config), Feedback(config.feedback, time.monotonic))
        try:
            ch = shared.channel("probe-test")
            assert ch is not None
            assert await probe(ch, "g1") == [1, 0, 0, 0]  # g1 takes the lease
            refused = await probe(ch, "g2")
            assert isinstance(refused, list) and refused[:2] == [0, 0] and refused[3] == 0
            assert isinstance(refused[2], int) and 0 < refused[2] <= 3000  # g1's lease
            # g1's probe failed: it records the next ejection and drops its lease, in one step.
            t = await ch.call("TIME")
            assert isinstance(t, list) and isinstance(t[0], bytes) and isinstance(t[1], bytes)
            until = int(t[0]) * 1000 + int(t[1]) // 1000 + 5000
            await run(ch, BREAKER, "g1", "r", "open", until, 2, "probe failed", b"{}")
            # g2 has not processed the event yet and asks for the lease again: the fleet's
            # ejection answers, not a free lease.
            again = await probe(ch, "g2")
            assert isinstance(again, list) and again[:2] == [0, 0] and again[3] == 1
            assert isinstance(again[2], int) and 4000 < again[2] <= 5000
            # Closed by a successful probe or a ready health check: g2 may probe next time
            # (and sees g1's one request in flight).
            await run(ch, BREAKER, "g1", "r", "closed", 0, 0, "", b"{}")
            assert await probe(ch, "g2") == [1, 1, 0, 0]
        finally:
            await shared.close()
