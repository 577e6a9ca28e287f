"""Affinity across two ``zeta-router serve`` processes sharing a real redis-server: a
conversation (or a named session) whose first turn went through one instance has its next turn
routed by the other to the same replica, and with Redis gone each instance keeps its own."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from zeta_router.testing.fake_backend import FakeBackend

from .conversations import document, turns
from .redis_helpers import (
    Gateway,
    fake_pair,
    needs_redis,
    redis_server,
    status,
    two_gateways,
    wait_for,
)

pytestmark = needs_redis

CONVERSATIONS = 6


def fleet_config(redis_url: str, backends: dict[str, FakeBackend]) -> dict[str, Any]:
    return {
        "health": {"enabled": False},
        "analysis": {"analyzer": "heuristic"},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 5.0, "total_s": 30.0},
        # Round-robin spreads the first turns over both replicas, so following them is a choice.
        "balancer": {"strategy": "round-robin", "affinity": {"share_interval_s": 0.05}},
        "state": {
            "backend": "redis",
            "url": redis_url,
            "key_prefix": f"za{os.getpid()}:",
            "sync_interval_s": 0.1,
            "timeout_ms": 250,
            "retry_s": 0.3,
        },
        "models": {
            "m": {
                "endpoints": ["chat", "completions"],
                "replicas": [{"url": b.url, "id": rid} for rid, b in backends.items()],
            }
        },
    }


@pytest.fixture()
async def backends() -> AsyncIterator[dict[str, FakeBackend]]:
    async with fake_pair() as pair:
        yield pair


def sdk(gw: Gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=gw.url + "/v1", api_key="unused", max_retries=0, timeout=20
    )


async def ask(
    c: openai.AsyncOpenAI, messages: list[dict[str, str]], **kw: Any
) -> tuple[str, str]:
    raw = await c.chat.completions.with_raw_response.create(
        model="m", messages=messages, max_tokens=4, **kw  # type: ignore[arg-type]
    )
    raw.parse()
    return raw.headers["x-zeta-replica"], raw.headers["x-zeta-route"]


async def merged(client: httpx.AsyncClient, gw: Gateway, what: str, at_least: int) -> bool:
    return int((await status(client, gw))["affinity"]["shared"][what]) >= at_least


async def connected(client: httpx.AsyncClient, gws: list[Gateway]) -> bool:
    for gw in gws:
        if not (await status(client, gw))["shared_state"]["connected"]:
            return False
    return True


async def test_turns_and_sessions_follow_the_conversation_across_instances(
    tmp_path: Path, backends: dict[str, FakeBackend]
) -> None:
    with redis_server(tmp_path) as redis:
        config = fleet_config(redis.url, backends)
        async with two_gateways(config, tmp_path) as (g1, g2, client):
            await wait_for(lambda: connected(client, [g1, g2]), 5, "both on Redis")
            c1, c2 = sdk(g1), sdk(g2)
            first: dict[int, str] = {}
            for n in range(CONVERSATIONS):
                first[n], _ = await ask(c1, turns(document(n), 1))
            # Every block g1 holds arrived at g2 (one publish interval, give or take). Counted
            # in blocks, not conversations: each first turn is a few blocks, and the turns can
            # go out in more than one publish, so a count of CONVERSATIONS blocks is reached
            # while the last conversations are still on their way.
            blocks = int((await status(client, g1))["affinity"]["blocks"])
            assert blocks >= CONVERSATIONS, blocks
            await wait_for(
                lambda: merged(client, g2, "merged_blocks", blocks),
                5,
                f"g2 to merge g1's {blocks} blocks",
            )
            for n in range(CONVERSATIONS):
                rid, route = await ask(c2, turns(document(n), 2))
                assert rid == first[n], (n, route)
                assert "affinity: prefix" in route, route
            # Both replicas served: the conversations were spread, then followed.
            assert len(set(first.values())) == 2, first

            # A named session whose prompts share nothing: the session table travels too.
            homes: dict[str, str] = {}
            for s in range(CONVERSATIONS):
                name = f"user-{s}"
                homes[name], _ = await ask(
                    c1,
                    [{"role": "user", "content": f"hi {s}"}],
                    extra_headers={"x-zeta-session": name},
                )
            # One merged per session: this count is exact.
            await wait_for(
                lambda: merged(client, g2, "merged_sessions", CONVERSATIONS),
                5,
                "g2 to merge g1's sessions",
            )
            for name, home in homes.items():
                rid, route = await ask(
                    c2,
                    [{"role": "user", "content": f"something else for {name}"}],
                    extra_headers={"x-zeta-session": name},
                )
                assert rid == home, (name, route)
                assert "affinity: session" in route, route
            assert len(set(homes.values())) == 2, homes

            # The same as Prometheus sees it: g1 published what it routed, g2 merged it.
            sent, heard = await metrics(client, g1), await metrics(client, g2)
            assert sent[("zeta_affinity_share_connected", ())] == 1.0
            assert sent[("zeta_affinity_share_batches_total", (("direction", "published"),))] >= 1
            published = (("direction", "published"), ("kind", "prefix"))
            assert sent[("zeta_affinity_share_records_total", published)] >= CONVERSATIONS
            merges = heard[("zeta_affinity_share_batches_total", (("direction", "merged"),))]
            assert merges >= 1
            assert heard[("zeta_affinity_share_merge_seconds_count", ())] == merges
            assert heard[("zeta_affinity_share_merged_blocks_total", ())] >= CONVERSATIONS
            merged_sessions = (("direction", "merged"), ("kind", "session"))
            assert heard[("zeta_affinity_share_records_total", merged_sessions)] >= CONVERSATIONS
            assert 0 <= heard[("zeta_affinity_share_last_merge_age_seconds", ())] < 10
            assert (await status(client, g2))["affinity"]["shared"]["last_merge_age_s"] is not None

            # Redis gone: each instance keeps its own affinity, and no line per request.
            redis.kill()
            await wait_for(lambda: _down(client, g1), 5, "g1 to notice Redis is gone")
            lines = len(_not_access(g1))
            for n in range(100, 100 + CONVERSATIONS):
                there, _ = await ask(c1, turns(document(n), 1))
                rid, route = await ask(c1, turns(document(n), 2))
                assert rid == there and "affinity: prefix" in route, route
            assert len(_not_access(g1)) - lines <= 1, g1.tail()
            assert (await metrics(client, g1))[("zeta_affinity_share_connected", ())] == 0.0
            await c1.close()
            await c2.close()


async def metrics(
    client: httpx.AsyncClient, gw: Gateway
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the gateway's /metrics, by name and sorted labels."""
    text = (await client.get(gw.url + "/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _down(client: httpx.AsyncClient, gw: Gateway) -> bool:
    return not (await status(client, gw))["shared_state"]["connected"]


def _not_access(gw: Gateway) -> list[str]:
    """The log without the access log (one line per request, by design)."""
    return [
        line
        for line in gw.log.read_text().splitlines()
        if not line.startswith('{"event":"request"')
    ]
