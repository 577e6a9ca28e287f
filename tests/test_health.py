"""Active health probes against real sockets, stepped one round at a time with a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from zeta_router.config import parse_config
from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.health import probe_url, server_root
from zeta_router.fleet.outcome import Health, Outcome, Ready, Unready
from zeta_router.fleet.state import ReplicaState
from zeta_router.router import Router
from zeta_router.testing import FakeBackend
from zeta_router.testing.clock import ManualClock


class Recorder:
    """A bare server that records the paths it was asked for; /health can be switched off."""

    def __init__(self, *, has_health: bool = True) -> None:
        self.paths: list[str] = []
        self.has_health = has_health
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _any(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        if request.path == "/health" and not self.has_health:
            return web.Response(status=404, text="404 page not found")
        return web.json_response({"object": "list", "data": []})

    async def start(self) -> Recorder:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def router_for(urls: dict[str, tuple[str, str]], clock: ManualClock, **health: Any) -> Router:
    """One model per entry: name -> (replica url, health kind)."""
    cfg = parse_config(
        {
            "health": {"timeout_s": 0.3, "unhealthy_after": 2, **health},
            "analysis": {"analyzer": "heuristic"},
            "models": {
                name: {"replicas": [{"url": url}], "health": kind}
                for name, (url, kind) in urls.items()
            },
        }
    )
    return Router(cfg, clock=clock)


@pytest.fixture()
async def backend() -> AsyncIterator[FakeBackend]:
    b = await FakeBackend("llama", flavor="llamacpp").start()
    yield b
    await b.stop()


def only(router: Router) -> ReplicaState:
    (replica,) = router.fleet.replicas.values()
    return replica


def test_probe_urls() -> None:
    assert server_root("http://h:8080/v1") == "http://h:8080"
    assert server_root("http://h:8080/api") == "http://h:8080/api"
    assert probe_url("llamacpp", "http://h:8080/v1") == "http://h:8080/health"
    assert probe_url("vllm", "http://h:8000/v1") == "http://h:8000/health"
    assert probe_url("ollama", "http://h:11434/v1") == "http://h:11434/"
    assert probe_url("openai", "http://h/api/v1") == "http://h/api/v1/models"
    assert probe_url("none", "http://h/v1") is None


async def test_loading_replica_is_not_used_until_a_probe_sees_it_ready(
    backend: FakeBackend,
) -> None:
    clock = ManualClock()
    router = router_for({"m": (backend.url, "llamacpp")}, clock)
    replica = only(router)
    try:
        backend.set(mode="loading")
        await router.prober.probe_once()
        assert replica.health is Health.LOADING
        assert replica.unavailable_reason(clock.now) == "model loading"
        assert not replica.available(clock.now)

        # Failures seen while it loaded must not keep it out once it is ready.
        for _ in range(5):
            replica.breaker.on_failure(clock.now, "model loading")
        assert replica.breaker.state is BreakerState.OPEN

        backend.heal()
        clock.now += 5.0
        await router.prober.probe_once()
        assert replica.health is Health.READY
        assert replica.breaker.state is BreakerState.CLOSED
        assert replica.ready_since == clock.now, "slow start begins at recovery"
        assert replica.available(clock.now)
    finally:
        await router.close()


async def test_down_after_consecutive_failed_probes_then_back(backend: FakeBackend) -> None:
    clock = ManualClock()
    router = router_for({"m": (backend.url, "auto")}, clock)
    replica = only(router)
    # Health is written through ReplicaState.record like every other replica state, so the
    # fleet's subscribers hear of each change.
    heard: list[Outcome] = []
    router.fleet.subscribers.append(lambda rid, o, before, after: heard.append(o))
    try:
        await router.prober.probe_once()
        assert replica.health is Health.READY
        assert replica.ready_since == 0.0, "the first ready probe is not a recovery"

        await backend.stop()
        await router.prober.probe_once()
        assert replica.health is Health.READY, "one failed probe is a blip"
        await router.prober.probe_once()
        assert replica.health is Health.DOWN
        assert "connect failed" in replica.health_detail
        assert not replica.available(clock.now)

        await backend.start()
        clock.now += 10.0
        await router.prober.probe_once()
        assert replica.health is Health.READY
        assert replica.ready_since == clock.now
        kinds = [type(o) for o in heard if isinstance(o, Ready | Unready)]
        assert kinds == [Ready, Unready, Ready]
    finally:
        await router.close()


async def test_a_server_restarted_while_serving_comes_back_on_probation(
    backend: FakeBackend,
) -> None:
    """Ready, then loading again: the server was restarted (it crashed, or its supervisor
    restarted it). It is not trusted with its full share the moment it says ready: it waits
    out an ejection that doubles with each such restart, then half-open probes decide."""
    clock = ManualClock()
    router = router_for({"m": (backend.url, "llamacpp")}, clock)
    replica = only(router)
    eject = router.config.breaker.eject_base_s
    try:
        await router.prober.probe_once()
        assert replica.health is Health.READY
        for n in range(3):
            backend.set(mode="loading")
            await router.prober.probe_once()
            assert replica.health is Health.LOADING
            backend.heal()
            clock.now += 0.5
            await router.prober.probe_once()
            assert replica.health is Health.READY
            assert not replica.available(clock.now), "ready, but still ejected"
            assert replica.breaker.last_reason == "server restarted while serving (loading again)"
            assert replica.breaker.open_until - (clock.now - 0.5) == eject * 2**n
            clock.now = replica.breaker.open_until
            assert replica.available(clock.now)
            replica.breaker.on_attempt(clock.now)  # the probe request: it restarts again
            assert replica.breaker.state is BreakerState.HALF_OPEN
        replica.breaker.on_success(clock.now)
        assert replica.breaker.state is BreakerState.CLOSED
    finally:
        await router.close()


async def test_a_success_between_failures_resets_the_count(backend: FakeBackend) -> None:
    clock = ManualClock()
    router = router_for({"m": (backend.url, "vllm")}, clock, unhealthy_after=2)
    replica = only(router)
    try:
        for _ in range(3):
            backend.set(mode="500")
            await router.prober.probe_once()
            backend.heal()
            await router.prober.probe_once()
        assert replica.health is Health.READY
    finally:
        await router.close()


async def test_hung_health_endpoint_times_out_and_marks_down(backend: FakeBackend) -> None:
    clock = ManualClock()
    router = router_for({"m": (backend.url, "llamacpp")}, clock, timeout_s=0.1)
    replica = only(router)
    try:
        backend.set(mode="hang")
        await router.prober.probe_once()
        await router.prober.probe_once()
        assert replica.health is Health.DOWN
        assert "timeout" in replica.health_detail
    finally:
        backend.release_hung()
        await router.close()


async def test_auto_falls_back_to_models_when_there_is_no_health_endpoint() -> None:
    server = await Recorder(has_health=False).start()
    clock = ManualClock()
    router = router_for({"m": (server.url, "auto")}, clock)
    try:
        await router.prober.probe_once()
        assert only(router).health is Health.READY
        assert server.paths == ["/health", "/v1/models"]
        await router.prober.probe_once()
        assert server.paths[2:] == ["/v1/models"], "remembers that /health is missing"
    finally:
        await router.close()
        await server.stop()


async def test_each_kind_asks_its_own_path() -> None:
    servers = {k: await Recorder().start() for k in ("ollama", "openai", "vllm", "none")}
    clock = ManualClock()
    router = router_for({k: (s.url, k) for k, s in servers.items()}, clock)
    try:
        await router.prober.probe_once()
        assert servers["ollama"].paths == ["/"]
        assert servers["openai"].paths == ["/v1/models"]
        assert servers["vllm"].paths == ["/health"]
        assert servers["none"].paths == []
        health = {r.model: r.health for r in router.fleet.replicas.values()}
        assert health == {
            "ollama": Health.READY,
            "openai": Health.READY,
            "vllm": Health.READY,
            "none": Health.UNKNOWN,  # never probed, never changed by the prober
        }
    finally:
        await router.close()
        for s in servers.values():
            await s.stop()


async def test_probes_leave_supervised_and_draining_replicas_alone(backend: FakeBackend) -> None:
    clock = ManualClock()
    router = router_for({"a": (backend.url, "vllm"), "b": (backend.url + "/", "vllm")}, clock)
    a, b = router.fleet.replicas.values()
    a.health = Health.STARTING
    b.health = Health.DRAINING
    try:
        await router.prober.probe_once()
        assert (a.health, b.health) == (Health.STARTING, Health.DRAINING)
    finally:
        await router.close()


async def test_router_start_runs_probe_rounds_on_its_sleep_and_close_stops_them(
    backend: FakeBackend,
) -> None:
    rounds: asyncio.Queue[float] = asyncio.Queue()
    go = asyncio.Event()

    async def sleep(seconds: float) -> None:
        if seconds != 7.0:
            # Some other background loop of the router: park it, this test is about probes.
            await asyncio.Event().wait()
        # One probe round finished; wait for the test to let the next one run.
        rounds.put_nowait(seconds)
        await go.wait()
        go.clear()

    cfg = parse_config(
        {
            "health": {"interval_s": 7.0, "timeout_s": 0.5},
            "analysis": {"analyzer": "heuristic"},
            "models": {"m": {"replicas": [{"url": backend.url}], "health": "llamacpp"}},
        }
    )
    router = Router(cfg, clock=ManualClock(), sleep=sleep)
    assert router.prober.retry_at(only(router), 1000.0) == 1000.0, "not running: no probe wait"
    replica = only(router)
    backend.set(mode="loading")
    await router.start()
    try:
        assert await asyncio.wait_for(rounds.get(), 5) == 7.0
        assert replica.health is Health.LOADING
        assert router.prober.running
        # A 503 from the router now says: come back after the next probe round.
        assert router.prober.retry_at(replica, 1000.0) == 1007.0
        backend.heal()
        go.set()
        await asyncio.wait_for(rounds.get(), 5)
        assert replica.health is Health.READY
    finally:
        await router.close()
    assert not router.prober.running
