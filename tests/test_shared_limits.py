"""Per-key limits across instances (``fleet/redis_limits.py``): the merge arithmetic on a fake
clock, and two ``zeta-router serve`` processes sharing one real redis-server, where one key's
``rpm`` and ``max_parallel`` hold for the pair, not for each."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from zeta_router.fleet.redis_limits import KeyState, RedisLimits, Usage, admit, decay, settle
from zeta_router.fleet.resp import Arg, Reply
from zeta_router.routing.limits import KeyLimits, Limit
from zeta_router.testing.fake_backend import FakeBackend

from .leak_search import Seen
from .redis_helpers import Gateway, gateway, needs_redis, redis_server, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def share(a: KeyState, b: KeyState) -> None:
    """What the channel carries: each side's own usage becomes the other's view of it."""
    a.remote["b"] = Usage(b.local.requests, b.local.tokens, b.local.in_flight)
    b.remote["a"] = Usage(a.local.requests, a.local.tokens, a.local.in_flight)


def test_two_instances_share_one_bucket_and_one_refill() -> None:
    limits = KeyLimits(rpm=6)
    a, b = KeyState(0.0), KeyState(0.0)
    for _ in range(3):
        assert admit(a, limits, 0, 0.0) is None
    assert not a.tight  # half left: a late word from a costs nothing yet
    share(a, b)
    assert admit(b, limits, 0, 0.0) is None
    assert b.tight  # past half fleet-wide: b's changes go out at once
    for _ in range(2):
        assert admit(b, limits, 0, 0.0) is None
    share(a, b)
    for s in (a, b):
        refused = admit(s, limits, 0, 0.0)
        assert refused is not None and refused.limit is Limit.RPM
        assert refused.retry_after_s == pytest.approx(10.0)  # one request per 10 s, fleet-wide
    # 10 s refill one request for the fleet, shared out by usage: each instance gives back half.
    for s in (a, b):
        decay(s, limits, 10.0)
        assert s.local.requests == pytest.approx(2.5)
        assert sum(u.requests for u in s.remote.values()) == pytest.approx(2.5)
    assert admit(a, limits, 0, 10.0) is None
    share(a, b)
    assert admit(b, limits, 0, 10.0) is not None  # not one refill per instance
    # A minute refills everything, however it was spread.
    assert admit(b, limits, 0, 70.0) is None


def test_tokens_settle_to_usage_and_parallel_counts_the_fleet() -> None:
    limits = KeyLimits(tpm=600, max_parallel=2)
    a, b = KeyState(0.0), KeyState(0.0)
    assert admit(a, limits, 500, 0.0) is None
    share(a, b)
    refused = admit(b, limits, 200, 0.0)
    assert refused is not None and refused.limit is Limit.TPM
    assert refused.retry_after_s == pytest.approx(10.0)  # 100 tokens short at 10 per second
    settle(a, limits, 500, 50)  # it used 50: 450 back for the fleet
    share(a, b)
    assert admit(b, limits, 200, 0.0) is None
    assert admit(a, limits, 10, 0.0) is None
    share(a, b)
    refused = admit(b, limits, 10, 0.0)
    assert refused is not None and refused.limit is Limit.MAX_PARALLEL  # one here, one there
    settle(a, limits, 10, None)
    share(a, b)
    assert admit(b, limits, 10, 0.0) is None


class Bus:
    """Channels of stores in this process, for the store's bookkeeping on a fake clock (the
    real channel is tested against redis-server below)."""

    def __init__(self) -> None:
        self.up = True
        self.handlers: list[Callable[[bytes], None]] = []

    def channel(self) -> BusChannel:
        return BusChannel(self)


class BusChannel:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    @property
    def available(self) -> bool:
        return self._bus.up

    def key(self, suffix: str) -> str:
        return suffix

    async def call(self, *args: Arg) -> Reply:
        raise NotImplementedError

    def send(self, *args: Arg) -> None:
        raise NotImplementedError

    def publish(self, message: bytes) -> None:
        for handler in self._bus.handlers:
            handler(message)

    def subscribe(self, handler: Callable[[bytes], None]) -> None:
        self._bus.handlers.append(handler)


async def test_the_store_publishes_merges_and_forgets_instances_gone_quiet() -> None:
    clock, bus = Clock(), Bus()
    a = RedisLimits(bus.channel(), clock, 0.25, ttl_s=5.0)
    b = RedisLimits(bus.channel(), clock, 0.25, ttl_s=5.0)
    limits = KeyLimits(rpm=4)
    assert a.admit_now("k", limits, 0, clock.now) is None
    assert a.admit_now("k", limits, 0, clock.now) is None
    await asyncio.sleep(0)  # the end of the tick: one message for both
    sb = b.state("k")
    assert sb is not None and sb.remote[a.instance].requests == 2.0 and b.instances() == 2
    assert b.admit_now("k", limits, 0, clock.now) is None
    assert b.admit_now("k", limits, 0, clock.now) is None
    await asyncio.sleep(0)
    refused = a.admit_now("k", limits, 0, clock.now)
    assert refused is not None and refused.limit is Limit.RPM
    # Redis down for both: nothing more is heard, and past the TTL each holds the limit alone.
    bus.up = False
    clock.now += 5.1
    await a.sync()
    assert a.instances() == 1
    sa = a.state("k")
    assert sa is not None and not sa.remote
    assert a.admit_now("k", limits, 0, clock.now) is None  # its own 2, refilled a little


ALICE = "sk-alice-shared-limits"


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def config(redis_url: str, backend: FakeBackend, **key: Any) -> dict[str, Any]:
    return {
        "health": {"enabled": False},
        "analysis": {"analyzer": "heuristic"},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 10.0, "total_s": 30.0},
        "state": {
            "backend": "redis",
            "url": redis_url,
            "key_prefix": f"zl{os.getpid()}:",
            "sync_interval_s": 0.1,
            "timeout_ms": 250,
            "retry_s": 0.3,
        },
        "auth": {"keys": [{"name": "alice", "key_sha256": sha(ALICE), **key}]},
        "models": {"m": {"replicas": [{"url": backend.url, "id": "m-0"}]}},
    }


@pytest.fixture()
async def backend() -> AsyncIterator[FakeBackend]:
    b = FakeBackend("a")
    await b.start()
    yield b
    await b.stop()


async def ask(client: httpx.AsyncClient, gw: Gateway, i: int = 0) -> httpx.Response:
    return await client.post(
        gw.url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": f"hi {i}"}]},
        headers={"authorization": f"Bearer {ALICE}"},
    )


async def _connected(client: httpx.AsyncClient, gw: Gateway) -> bool:
    r = await client.get(gw.url + "/v1/router/status", params={"decisions": 0})
    return bool(r.json()["shared_state"]["connected"])


@contextlib.asynccontextmanager
async def on_redis(
    cfg: dict[str, Any], tmp_path: Path
) -> AsyncIterator[tuple[Gateway, Gateway, httpx.AsyncClient]]:
    """Two gateways of ``cfg``, both connected to Redis, and a client."""
    async with (
        gateway(cfg, tmp_path, "g1") as g1,
        gateway(cfg, tmp_path, "g2") as g2,
        httpx.AsyncClient(timeout=10) as client,
    ):
        for gw in (g1, g2):
            await wait_for(lambda gw=gw: _connected(client, gw), 5, "on Redis")
        yield g1, g2, client


@needs_redis
async def test_rpm_holds_across_two_instances(tmp_path: Path, backend: FakeBackend) -> None:
    with redis_server(tmp_path) as redis:
        cfg = config(redis.url, backend, rpm=6)
        async with on_redis(cfg, tmp_path) as (g1, g2, client):
            codes: list[int] = []
            for i in range(20):
                r = await ask(client, (g1, g2)[i % 2], i)
                codes.append(r.status_code)
                if r.status_code == 429:
                    assert r.json()["error"]["code"] == "rpm_exceeded", r.text
                    assert int(r.headers["retry-after"]) >= 1
                else:
                    assert r.status_code == 200, r.text
            # Per instance this would be 12; the refill adds one request per 10 s.
            assert 6 <= codes.count(200) <= 7, codes
            assert codes[:6] == [200] * 6, codes


@needs_redis
async def test_max_parallel_holds_across_two_instances(
    tmp_path: Path, backend: FakeBackend
) -> None:
    # Held: what the backend admits stays in flight until released, however slow the machine
    # (and the gateways and the held requests' client wait as long as that takes).
    backend.set(hold=True)
    with redis_server(tmp_path) as redis:
        cfg = config(redis.url, backend, max_parallel=2)
        cfg["timeouts"] |= {"first_byte_s": 60.0, "total_s": 60.0}
        async with (
            on_redis(cfg, tmp_path) as (g1, g2, client),
            httpx.AsyncClient(timeout=60) as patient,
        ):
            try:
                held = [asyncio.create_task(ask(patient, g1, 1))]
                await wait_for(lambda: backend.running == 1, 10, "the first request upstream")
                held.append(asyncio.create_task(ask(patient, g2, 2)))
                await wait_for(lambda: backend.running == 2, 10, "the second request upstream")
                # Each instance counts the other's request through Redis (the limit is
                # eventually consistent: requests arriving together could all pass).
                for name, gw in (("g1", g1), ("g2", g2)):
                    await wait_for(
                        lambda gw=gw: _in_use(client, gw, 2), 10, f"{name} counting 2 in flight"
                    )
                over = [
                    asyncio.create_task(ask(patient, gw, 3 + i))
                    for i, gw in enumerate((g1, g2, g1, g2))
                ]
                await wait_for(
                    lambda: all(t.done() for t in over), 10, "the requests over the limit answered"
                )
                for t in over:
                    r = t.result()
                    assert r.status_code == 429, r.text
                    assert r.json()["error"]["code"] == "max_parallel_exceeded", r.text
                    assert "retry-after" in r.headers
                assert backend.running == 2 and not any(t.done() for t in held)
            finally:
                backend.set(hold=False)
            for r in await asyncio.gather(*held):
                assert r.status_code == 200, r.text
            # The slots free once each answer is sent (the settle follows the last byte), and
            # fleet-wide: requests go again through either instance.
            for gw in (g2, g1):
                await wait_for(lambda gw=gw: _answered(client, gw), 5, "a slot free again")
            assert backend.peak_running == 2


async def stream(gw: Gateway, usage: bool) -> int:
    """One streamed chat answer through ``gw`` asking for 200 tokens (an estimate of about
    210), with the backend's usage chunk or without; the HTTP status."""
    c = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=ALICE, max_retries=0, timeout=10)
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if usage else {}
    try:
        chunks = await c.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "Say hi."}],
            max_tokens=200,
            stream=True,
            **extra,
        )
        async for _ in chunks:
            pass
        return 200
    except openai.RateLimitError as err:
        assert err.code == "tpm_exceeded", err
        return 429
    finally:
        await c.close()


async def limits_of(client: httpx.AsyncClient, gw: Gateway) -> dict[str, Any]:
    r = await client.get(gw.url + "/v1/router/status", params={"decisions": 0})
    limits: dict[str, Any] = r.json()["limits"]
    return limits


@needs_redis
async def test_tpm_settles_streams_to_their_usage_across_two_instances(
    tmp_path: Path, backend: FakeBackend
) -> None:
    with redis_server(tmp_path) as redis:
        cfg = config(redis.url, backend, tpm=600)
        async with on_redis(cfg, tmp_path) as (g1, g2, client):
            # Ten streams of about 210 estimated tokens each fit in 600 a minute only because
            # each settles to the 18 its usage chunk reports, wherever it went.
            codes = [await stream((g1, g2)[i % 2], usage=True) for i in range(10)]
            assert codes == [200] * 10, codes
            for gw in (g1, g2):
                view = await limits_of(client, gw)
                assert view["store"] == "redis" and view["scope"] == "fleet", view
                assert view["connected"] is True and view["instances"] == 2, view
                assert view["published"] >= 1 and view["received"] >= 1, view
            # Streams that report nothing keep their estimates: the fleet's 600 holds two or
            # three of them (the refill is 10 tokens a second), not two or three per instance.
            codes = [await stream((g1, g2)[i % 2], usage=False) for i in range(6)]
            assert 2 <= codes.count(200) <= 3 and codes[-1] == 429, codes
            seen = Seen([ALICE, sha(ALICE)])
            for gw in (g1, g2):
                r = seen.add(await client.get(gw.url + "/v1/router/status"))
                tpm = r.json()["limits"]["keys"]["alice"]["tpm"]
                assert tpm["limit"] == 600 and tpm["remaining"] < 210, tpm
                text = seen.add(await client.get(gw.url + "/metrics")).text
                assert "zeta_shared_limits_connected 1.0" in text
                assert "zeta_shared_limits_instances 2.0" in text
                assert 'zeta_shared_limits_messages_total{direction="received"}' in text
            refusals = [
                line
                for text in seen.texts
                for line in text.splitlines()
                if line.startswith('zeta_limit_refusals_total{key="alice",limit="tpm"}')
            ]
            assert refusals, "no refusal counted"
            assert not seen.leaks([g1.log.read_text(), g2.log.read_text()])


async def _answered(client: httpx.AsyncClient, gw: Gateway) -> bool:
    return (await ask(client, gw, 4)).status_code == 200


async def _in_use(client: httpx.AsyncClient, gw: Gateway, n: int) -> bool:
    """Whether ``gw`` counts ``n`` of the key's requests in flight, fleet-wide."""
    return bool((await limits_of(client, gw))["keys"]["alice"]["max_parallel"]["in_use"] == n)


@needs_redis
async def test_redis_down_each_instance_holds_the_limits_alone(
    tmp_path: Path, backend: FakeBackend
) -> None:
    with redis_server(tmp_path) as redis:
        cfg = config(redis.url, backend, rpm=4)
        cfg["state"]["instance_ttl_s"] = 1
        async with on_redis(cfg, tmp_path) as (g1, g2, client):
            codes = [(await ask(client, (g1, g2)[i % 2], i)).status_code for i in range(5)]
            assert codes == [200, 200, 200, 200, 429], codes  # the fleet's 4
            redis.kill()
            for gw in (g1, g2):
                await wait_for(lambda gw=gw: _disconnected(client, gw), 5, "off Redis")
            # The other's figures expire after instance_ttl_s: each then admits up to its own
            # limit (it took 2 of 4; the refill alone would take 15 s to give one back).
            took = await wait_for(lambda: _answered(client, g1), 5, "local limits on g1")
            assert took < 3.0
            statuses = [(await ask(client, g1, i)).status_code for i in range(3)]
            assert statuses == [200, 429, 429], statuses
            assert (await ask(client, g2, 9)).status_code in (200, 429)
        for gw in (g1, g2):
            noisy = [line for line in gw.tail().splitlines() if "Redis" in line]
            assert len(noisy) <= 3, noisy  # one line per outage, none per request


async def _disconnected(client: httpx.AsyncClient, gw: Gateway) -> bool:
    return not await _connected(client, gw)


async def test_an_instance_new_to_a_key_takes_the_figures_heard_as_current() -> None:
    clock, bus = Clock(), Bus()
    a = RedisLimits(bus.channel(), clock, 0.25, ttl_s=60.0)
    b = RedisLimits(bus.channel(), clock, 0.25, ttl_s=60.0)
    limits = KeyLimits(rpm=4)
    for _ in range(4):
        assert a.admit_now("k", limits, 0, clock.now) is None
    await asyncio.sleep(0)  # b hears of the key (its limits still unknown to b)
    clock.now += 30.0
    await a.sync()  # half a minute refilled 2: a now says it holds 2
    admitted = sum(b.admit_now("k", limits, 0, clock.now) is None for _ in range(4))
    assert admitted == 2  # not 4: the 30 s before b heard the last figures are not refilled twice
