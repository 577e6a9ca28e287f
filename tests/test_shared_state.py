"""Two ``zeta-router serve`` processes sharing one fleet view through a real redis-server:
ejections, fleet-wide ``max_concurrency``, and Redis dying and coming back mid-run.

The fake backends run in this test's event loop (so faults flip at once and their peak
concurrency is read directly); the gateways are real processes on their own ports."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from zeta_router.testing.fake_backend import FakeBackend

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


def fleet_config(
    redis_url: str,
    backends: dict[str, FakeBackend],
    max_concurrency: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    limit = {} if max_concurrency is None else {"max_concurrency": max_concurrency}
    config: dict[str, Any] = {
        "health": {"enabled": False},
        "analysis": {"analyzer": "heuristic"},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "budget_min_per_s": 100},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 5.0, "total_s": 30.0},
        "state": {
            "backend": "redis",
            "url": redis_url,
            "key_prefix": f"zt{os.getpid()}:",
            "sync_interval_s": 0.1,
            # Not the 30 ms default: on a loaded 2-core test machine the event loop alone can
            # stall that long, and a fail-open would blur what these tests look at.
            "timeout_ms": 250,
            "retry_s": 0.3,
        },
        "models": {
            "m": {"replicas": [{"url": b.url, "id": rid, **limit} for rid, b in backends.items()]}
        },
    }
    config.update(extra)
    return config


@pytest.fixture()
async def backends() -> AsyncIterator[dict[str, FakeBackend]]:
    async with fake_pair() as pair:
        yield pair


def body(i: int) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": f"hello {i}"}]}


async def replica(client: httpx.AsyncClient, gw: Gateway, rid: str) -> dict[str, Any]:
    return next(x for x in (await status(client, gw))["replicas"] if x["id"] == rid)


async def shared(client: httpx.AsyncClient, gw: Gateway) -> dict[str, Any]:
    data: dict[str, Any] = (await status(client, gw))["shared_state"]
    return data


async def test_an_ejection_through_one_instance_is_honoured_by_the_other(
    tmp_path: Path, backends: dict[str, FakeBackend]
) -> None:
    with redis_server(tmp_path) as redis:
        # Round-robin: p2c would shun the failing replica before its breaker opened.
        config = fleet_config(
            redis.url,
            backends,
            breaker={"consecutive_failures": 3, "eject_base_s": 30},
            balancer={"strategy": "round-robin"},
        )
        async with two_gateways(config, tmp_path) as (g1, g2, client):
            await wait_for(lambda: _connected(client, g2), 5, "g2 on Redis")
            await backends["m-a"].stop()  # refuses connections from here on
            # Through g1 only, until g1 ejects m-a (every request is still answered by m-b).
            i = 0
            while (await replica(client, g1, "m-a"))["breaker"]["state"] != "open":
                r = await client.post(g1.url + "/v1/chat/completions", json=body(i))
                assert r.status_code == 200, r.text
                i += 1
                assert i < 100, "g1 never ejected m-a"
            # How fast it spreads is a benchmark figure (BENCHMARKS.md, issue 18); here only that
            # it does, with room for a loaded machine.
            await wait_for(
                lambda: _breaker_open(client, g2, "m-a"), 10.0, "g2 to honour the ejection"
            )
            # g2 sends m-a nothing now, though round-robin would give it half of 40 requests.
            for j in range(40):
                r = await client.post(g2.url + "/v1/chat/completions", json=body(1000 + j))
                assert r.status_code == 200, r.text
            a = await replica(client, g2, "m-a")
            assert a["failures"] <= 1, a
            assert "another gateway instance" in a["breaker"]["last_reason"]


async def _connected(client: httpx.AsyncClient, gw: Gateway) -> bool:
    return bool((await shared(client, gw))["connected"])


async def _breaker_open(client: httpx.AsyncClient, gw: Gateway, rid: str) -> bool:
    return (await replica(client, gw, rid))["breaker"]["state"] == "open"


async def _load(
    client: httpx.AsyncClient,
    gateways: list[Gateway],
    workers: int,
    seconds: float,
    done: asyncio.Event | None = None,
) -> tuple[int, list[str]]:
    """``workers`` concurrent clients per gateway for ``seconds``, or until ``done`` is set
    when one is given; returns (answered, failures)."""
    ok = 0
    failures: list[str] = []
    stop_at = time.monotonic() + seconds

    def going() -> bool:
        return not done.is_set() if done is not None else time.monotonic() < stop_at

    async def worker(gw: Gateway, w: int) -> None:
        nonlocal ok
        i = w * 100_000
        while going():
            i += 1
            try:
                r = await client.post(gw.url + "/v1/chat/completions", json=body(i))
            except httpx.HTTPError as exc:
                failures.append(f"{gw.url}: {exc!r}")
                continue
            if r.status_code == 200:
                ok += 1
            else:
                failures.append(f"{gw.url}: {r.status_code} {r.text[:200]}")

    await asyncio.gather(*(worker(gw, w) for gw in gateways for w in range(workers)))
    return ok, failures


async def test_max_concurrency_holds_fleet_wide_through_two_instances(
    tmp_path: Path, backends: dict[str, FakeBackend]
) -> None:
    for b in backends.values():
        b.set(delay_s=0.03)
    with redis_server(tmp_path) as redis:
        config = fleet_config(
            redis.url,
            backends,
            max_concurrency=2,
        )
        limits = httpx.Limits(max_connections=64)
        async with two_gateways(config, tmp_path, timeout=30, limits=limits) as (g1, g2, client):
            for gw in (g1, g2):
                await wait_for(lambda gw=gw: _connected(client, gw), 5, "on Redis")
            ok, failures = await _load(client, [g1, g2], workers=6, seconds=3.0)
            assert not failures, failures[:5]
            peaks = {rid: b.peak_running for rid, b in backends.items()}
            print(f"answered {ok}; backend peak concurrency {peaks}")
            assert ok > 50
            assert max(peaks.values()) == 2, peaks  # reached, and never more
            for gw in (g1, g2):
                st = await shared(client, gw)
                assert st["connected"] and st["instances"] == 2, st
                assert st["acquires"] > 0 and st["failed_open"] == 0, st  # the exact path
                print(f"{gw.url}: {st['acquires']} fleet-wide checks, {st['refused']} refused")


async def test_redis_killed_mid_run_loses_nothing_and_sharing_resumes(
    tmp_path: Path, backends: dict[str, FakeBackend]
) -> None:
    for b in backends.values():
        b.set(delay_s=0.02)
    with redis_server(tmp_path) as redis:
        config = fleet_config(
            redis.url,
            backends,
            max_concurrency=2,
        )
        async with two_gateways(config, tmp_path, timeout=30) as (g1, g2, client):
            for gw in (g1, g2):
                await wait_for(lambda gw=gw: _connected(client, gw), 5, "on Redis")
            load = asyncio.create_task(_load(client, [g1, g2], workers=4, seconds=5.0))
            await asyncio.sleep(1.0)
            redis.kill()
            await wait_for(lambda: _disconnected(client, g1), 2, "g1 to notice")
            await asyncio.sleep(1.0)
            redis.start()  # empty: no persistence
            took = await wait_for(
                lambda: _all_connected(client, [g1, g2]), 5, "both instances to re-sync"
            )
            print(f"both instances re-synced {took:.2f} s after Redis restarted")
            assert not load.done(), "the re-sync happened under load"
            ok, failures = await load
            assert not failures, failures[:5]
            assert ok > 50
            for gw in (g1, g2):
                st = await shared(client, gw)
                assert st["connected"] and st["outages"] == 1 and st["instances"] == 2, st
            # Sharing works again: the limit holds fleet-wide under a second burst.
            for b in backends.values():
                b.peak_running = 0
            ok, failures = await _load(client, [g1, g2], workers=6, seconds=1.5)
            assert not failures, failures[:5]
            assert max(b.peak_running for b in backends.values()) <= 2
            # One warning line for the outage, one for the return: not one per request.
            for gw in (g1, g2):
                log = gw.log.read_text()
                assert log.count("Redis unavailable") == 1, log[-2000:]
                assert log.count("Redis is back") == 1, log[-2000:]


async def _all_connected(client: httpx.AsyncClient, gateways: list[Gateway]) -> bool:
    return all([await _connected(client, gw) for gw in gateways])


async def _disconnected(client: httpx.AsyncClient, gw: Gateway) -> bool:
    return not (await shared(client, gw))["connected"]


async def test_feedback_rated_through_one_instance_moves_the_score_the_other_uses(
    tmp_path: Path, backends: dict[str, FakeBackend]
) -> None:
    with redis_server(tmp_path) as redis:
        config = fleet_config(redis.url, {})
        config["models"] = {
            "first": {"replicas": [{"url": backends["m-a"].url}]},
            "second": {"replicas": [{"url": backends["m-b"].url}]},
        }
        config["routes"] = {"simple": ["first", "second"]}
        async with two_gateways(config, tmp_path) as (g1, g2, client):
            await wait_for(lambda: _all_connected(client, [g1, g2]), 5, "both on Redis")
            chat = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
            for i in range(3):  # three ratings of 1: the score's floor, past the swap margin
                chat["messages"][0]["content"] = f"hi {i}"
                r = await client.post(g1.url + "/v1/chat/completions", json=chat)
                assert r.headers["x-zeta-model"] == "first"
                rating = {"request_id": r.headers["x-zeta-request-id"], "rating": 1}
                assert (await client.post(g1.url + "/v1/feedback", json=rating)).status_code == 200

            async def g2_demoted() -> bool:
                r = await client.post(g2.url + "/v1/chat/completions", json=chat)
                return r.headers["x-zeta-model"] == "second"

            r = await client.post(g1.url + "/v1/chat/completions", json=chat)
            assert r.headers["x-zeta-model"] == "second"
            # g2 served nothing rated, yet it now prefers the second model as g1 does.
            await wait_for(g2_demoted, 2, "g2 to use g1's feedback")
            scores = (await client.get(g2.url + "/v1/feedback")).json()
            first = next(s for s in scores["scores"] if s["model"] == "first")
            assert first["score"] < 0.6 and first["ratings"] == 0, scores


async def test_one_instance_probes_a_replica_back_from_its_ejection(
    tmp_path: Path, backends: dict[str, FakeBackend]
) -> None:
    bad = backends["m-a"]
    bad.set(mode="reset")  # every request reaches it (and is counted) and fails
    with redis_server(tmp_path) as redis:
        config = fleet_config(
            redis.url,
            backends,
            breaker={"consecutive_failures": 2, "eject_base_s": 1.5},
            balancer={"strategy": "round-robin"},
        )
        async with two_gateways(config, tmp_path) as (g1, g2, client):
            await wait_for(lambda: _all_connected(client, [g1, g2]), 5, "both on Redis")
            i = 0
            while not await _breaker_open(client, g1, "m-a"):
                r = await client.post(g1.url + "/v1/chat/completions", json=body(i))
                assert r.status_code == 200, r.text
                i += 1
                assert i < 50, "g1 never ejected m-a"
            await wait_for(lambda: _breaker_open(client, g2, "m-a"), 1.0, "g2 to honour it")
            before = bad.requests
            # Both instances busy from before the ejection ends (1.5 s) until both have the
            # verdict of its half-open probe (the probe fails: a second ejection, 3 s). Every
            # request meanwhile could have been a probe, at either instance; the probe lease
            # lets one through, so one in all is the count. Stopped by what the instances say,
            # not by the wall clock: on a loaded machine the probe comes when it comes.
            verdict = asyncio.Event()
            load = asyncio.create_task(
                _load(client, [g1, g2], workers=3, seconds=math.inf, done=verdict)
            )
            try:
                await wait_for(
                    lambda: _ejected_again(client, [g1, g2], "m-a"), 20, "the probe's verdict"
                )
            finally:
                verdict.set()
                ok, failures = await load
            assert not failures, failures[:5]
            assert ok > 20
            st = [await replica(client, gw, "m-a") for gw in (g1, g2)]
            assert bad.requests - before == 1, (f"{bad.requests - before} probes", st)
            assert all(s["breaker"]["state"] == "open" for s in st), st


async def _ejected_again(client: httpx.AsyncClient, gateways: list[Gateway], rid: str) -> bool:
    """Whether every instance has the replica out for its second ejection."""
    for gw in gateways:
        b = (await replica(client, gw, rid))["breaker"]
        if b["state"] != "open" or b["ejections"] < 2:
            return False
    return True
