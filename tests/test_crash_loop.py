"""Crash-looping replicas are contained: a model server that dies on every request it gets is
ejected for ever longer, while the rest of the fleet serves every request.

The servers are real processes (the fake backend run as its own process, with a fault mode in
which it SIGSEGVs itself on an inference request) launched and restarted by the router's
supervisor; the client is the official openai SDK over real sockets.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from zeta_router.config import parse_config
from zeta_router.fleet.breaker import BreakerState
from zeta_router.localfleet import (
    Gateway,
    LocalModelError,
    fleet_dict,
    free_ports,
    locate_models,
    running_gateway,
)

from .test_managed import Recorder


def fake(rid: str, port: int, mode: str, log_dir: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "zeta_router.testing.fake_backend", "--port", "{port}"]
    cmd += ["--name", rid, "--mode", mode]
    return {
        "url": f"http://127.0.0.1:{port}/v1",
        "id": rid,
        "launch": {
            "command": cmd,
            "port": port,
            "ready_path": "/health",
            "start_timeout_s": 20.0,
            "restart_backoff_s": 0.05,
            "restart_backoff_max_s": 0.2,
            "max_restarts": None,
            "log_dir": str(log_dir),
        },
    }


def config(modes: dict[str, list[str]], log_dir: Path) -> Any:
    ports = free_ports(1 + sum(len(m) for m in modes.values()))
    models = {
        name: {
            "endpoints": ["chat"],
            "health": "none",
            "replicas": [
                fake(f"{name}-{i}", ports.pop(), mode, log_dir) for i, mode in enumerate(ms)
            ],
        }
        for name, ms in modes.items()
    }
    return parse_config(
        {
            "listen": {"port": ports.pop()},
            "models": models,
            "routes": {"simple": list(modes)},
            "analysis": {"analyzer": "heuristic"},
            "health": {"enabled": False, "scrape_metrics": False, "slow_start_s": 0.0},
            "breaker": {"consecutive_failures": 2, "eject_base_s": 0.5, "eject_max_s": 8.0},
            "retry": {"max_attempts": 4, "budget_min_per_s": 50.0, "backoff_base_s": 0.01},
            "timeouts": {"connect_s": 1.0, "first_byte_s": 5.0, "total_s": 10.0},
        },
        "<test>",
    )


@pytest.fixture
async def gateway(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, Recorder]]:
    rec = Recorder()
    async with running_gateway(config(request.param, tmp_path), on_state=rec) as gw:
        assert await gw.supervisor.wait_ready(30), gw.supervisor.not_ready()
        yield gw, rec


def client(gw: Gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)


def crashes(rec: Recorder, rid: str) -> int:
    return sum(1 for r, state in rec.events if r == rid and state == "exited")


@pytest.mark.parametrize("gateway", [{"m": ["ok", "crash"]}], indirect=True)
async def test_a_replica_that_crashes_on_every_request_settles_as_ejected(
    gateway: tuple[Gateway, Recorder],
) -> None:
    gw, rec = gateway
    crashing = gw.router.fleet.replicas["m-1"]
    # Requests that had reached it by each of its crashes (a failed start, say a port taken
    # by another process, is not a crash).
    at_crash: list[int] = []

    def on_state(rid: str, state: str) -> None:
        if (
            rid == "m-1"
            and state == "exited"
            and gw.supervisor[rid].last_exit == "killed by SIGSEGV"
        ):
            at_crash.append(crashing.requests)

    gw.supervisor.add_listener(on_state)
    sdk = client(gw)
    failures: list[str] = []
    sent = 0
    # At least 500 requests, and long enough for a few probations (0.5, 1, 2, 4 s ejections)
    # and, without containment, a dozen restarts: a fast machine serves 500 in a second.
    # Then on until the third crash: on a loaded machine each restart (a new Python process)
    # can take seconds, and the test is about the crashes, not about how fast they come.
    until = time.monotonic() + 8.0
    give_up = time.monotonic() + 90.0

    def going() -> bool:
        now = time.monotonic()
        return (sent < 500 or now < until or len(at_crash) < 3) and now < give_up

    async def worker() -> None:
        nonlocal sent
        while going():
            sent += 1
            try:
                await sdk.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"hello {sent}"}], max_tokens=4
                )
            except openai.APIError as exc:
                failures.append(repr(exc))

    try:
        await asyncio.gather(*(worker() for _ in range(8)))
    finally:
        await sdk.close()
    after_second = at_crash[1:2]
    assert failures == []
    assert len(at_crash) >= 3, (at_crash, rec.events)
    assert crashing.requests - after_second[0] <= 5, (at_crash, crashing.requests)
    # It says why it is out, in the status API as well.
    assert crashing.breaker.crashed
    assert "killed by SIGSEGV" in crashing.breaker.last_reason
    assert gw.router.fleet.replicas["m-0"].breaker.state is BreakerState.CLOSED
    import httpx

    async with httpx.AsyncClient() as http:
        status = (await http.get(gw.base_url + "/v1/router/status")).json()
    text = str(status)
    assert "process died while serving (killed by SIGSEGV)" in text


@pytest.mark.parametrize("gateway", [{"a": ["crash", "crash"], "b": ["crash"]}], indirect=True)
async def test_when_every_capable_replica_crashes_clients_get_an_honest_503_in_time(
    gateway: tuple[Gateway, Recorder],
) -> None:
    gw, rec = gateway
    sdk = client(gw)
    statuses: list[int] = []
    late = 0
    try:
        for i in range(40):
            start = time.monotonic()
            try:
                await sdk.chat.completions.create(
                    model="auto",
                    messages=[{"role": "user", "content": f"hi {i}"}],
                    max_tokens=4,
                    extra_headers={"x-zeta-timeout-ms": "3000"},
                )
                statuses.append(200)
            except openai.APIStatusError as exc:
                statuses.append(exc.status_code)
                assert exc.response.headers.get("retry-after")
            late += time.monotonic() - start > 3.5
            await asyncio.sleep(0.05)
    finally:
        await sdk.close()
    assert late == 0
    assert set(statuses) == {503}
    # Not replayed into each restart: after the first round of crashes, each replica gets only
    # its probation probes, far fewer than the 40 requests.
    replicas = gw.router.fleet.replicas.values()
    assert all(r.breaker.crashed or r.breaker.state is not BreakerState.CLOSED for r in replicas)
    assert sum(r.requests for r in replicas) <= 3 + 3 * 4, [(r.id, r.requests) for r in replicas]
    assert all(crashes(rec, r.id) >= 1 for r in replicas)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)
async def test_a_real_llama_cpp_server_that_crashes_on_every_request_is_contained(
    tmp_path: Path,
) -> None:
    try:
        models = locate_models()
    except LocalModelError as exc:
        pytest.skip(f"packaged models missing: {exc}")
    doc = fleet_dict(models, log_dir=str(tmp_path), restart_backoff_s=0.05)
    small = doc["models"]["small"]
    crashing = small["replicas"][1]["launch"]
    # Same server, same model, same arguments: only its completions SIGSEGV the process.
    argv = crashing["command"]
    crashing["command"] = [sys.executable, str(Path(__file__).with_name("llama_crash_server.py"))]
    crashing["command"] += argv[argv.index("serve-python") + 1 :]
    crashing["max_restarts"] = None
    doc["routes"] = {"simple": ["small"]}
    doc["analysis"] = {"analyzer": "heuristic"}
    doc["breaker"] = {"consecutive_failures": 2, "eject_base_s": 2.0, "eject_max_s": 30.0}
    rec = Recorder()
    async with running_gateway(parse_config(doc, "<test>"), on_state=rec) as gw:
        assert await gw.supervisor.wait_ready(120), gw.supervisor.not_ready()
        bad = gw.router.fleet.replicas["small-1"]
        after_second: list[int] = []

        def on_state(rid: str, state: str) -> None:
            if rid == "small-1" and state == "exited" and crashes(rec, "small-1") == 2:
                after_second.append(bad.requests)

        gw.supervisor.add_listener(on_state)
        sdk = client(gw)
        failures: list[str] = []

        # Long enough for several restarts (each reloads the model): without containment every
        # one of them got its share of traffic and crashed on it. Then on until the second
        # crash: on a loaded machine a model load alone can take most of that time.
        until = time.monotonic() + 16.0
        give_up = time.monotonic() + 180.0

        def going() -> bool:
            now = time.monotonic()
            return (now < until or not after_second) and now < give_up

        async def worker(w: int) -> None:
            i = 0
            while going():
                i += 1
                try:
                    await sdk.chat.completions.create(
                        model="small",
                        messages=[{"role": "user", "content": f"Say {w}.{i}."}],
                        max_tokens=2,
                    )
                except openai.APIError as exc:
                    failures.append(repr(exc))

        try:
            await asyncio.gather(*(worker(w) for w in range(4)))
        finally:
            await sdk.close()
        assert failures == []
        assert crashes(rec, "small-1") >= 2 and after_second, rec.events
        assert bad.requests - after_second[0] <= 5, (bad.requests, after_second, rec.events)
        assert bad.breaker.last_reason == "process died while serving (killed by SIGSEGV)"
