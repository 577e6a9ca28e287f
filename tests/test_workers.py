"""``zeta-router serve --workers N``: N processes on one port sharing the fleet view through a
real redis-server; a worker SIGKILLed is replaced; SIGTERM drains them all. Without Redis the
command refuses to start, saying why."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from zeta_router.testing.fake_backend import FakeBackend

from .redis_helpers import gateway, needs_redis, redis_server, wait_for, write_config

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork and /proc")


def config(backend: FakeBackend, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "health": {"enabled": False},
        "analysis": {"analyzer": "heuristic"},
        "server": {"shutdown_timeout_s": 10},
        "state": state,
        "models": {"m": {"replicas": [{"url": backend.url, "id": "m-0", "max_concurrency": 8}]}},
    }


def test_workers_without_redis_are_refused_with_the_reason(tmp_path: Path) -> None:
    cfg = tmp_path / "router.yaml"
    write_config(cfg, config(FakeBackend("x", port=9), {"backend": "memory"}))
    out = subprocess.run(
        [sys.executable, "-m", "zeta_router", "serve", "-c", str(cfg), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--workers 2" in out.stderr and "state: {backend: redis" in out.stderr, out.stderr


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


async def chat(client: httpx.AsyncClient, url: str, i: int) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": f"hi {i}"}]}
    return await client.post(url + "/v1/chat/completions", json=body)


@needs_redis
async def test_two_workers_serve_survive_a_sigkill_and_drain_on_sigterm(tmp_path: Path) -> None:
    backend = await FakeBackend("w").start()
    try:
        with redis_server(tmp_path) as redis:
            state = {"backend": "redis", "url": redis.url, "key_prefix": f"zw{os.getpid()}:"}
            # No keep-alive: each request may land on either worker.
            limits = httpx.Limits(max_keepalive_connections=0)
            async with (
                gateway(config(backend, state), tmp_path, "gw", "--workers", "2") as gw,
                httpx.AsyncClient(timeout=10, limits=limits) as client,
            ):
                master = gw.proc.pid
                await wait_for(lambda: len(children(master)) == 2, 20, "two workers")
                first = children(master)
                assert len(first) == 2, gw.tail()
                # Both workers answer on the one port, each its own instance of the shared state.
                # A forked worker takes connections only once it has started up, which on a
                # busy machine is seconds after the fork: poll until both have answered.
                seen: set[str] = set()

                async def both_answered() -> bool:
                    st = (await client.get(gw.url + "/v1/router/status?decisions=0")).json()
                    seen.add(st["shared_state"]["instance"])
                    return len(seen) == 2

                await wait_for(both_answered, 30, "both workers answering")
                for i in range(20):
                    assert (await chat(client, gw.url, i)).status_code == 200

                victim = min(first)
                os.kill(victim, signal.SIGKILL)
                # The survivor serves meanwhile: nothing refused or lost after the kill.
                for i in range(40):
                    r = await chat(client, gw.url, 100 + i)
                    assert r.status_code == 200, r.text
                took = await wait_for(
                    lambda: len(children(master)) == 2 and victim not in children(master),
                    20,
                    "the dead worker's replacement",
                )
                print(f"worker replaced {took:.2f} s after the kill")
                now = children(master)
                assert len(now) == 2 and victim not in now, (first, now, gw.tail())
                for i in range(20):
                    assert (await chat(client, gw.url, 200 + i)).status_code == 200

                gw.proc.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(gw.proc.wait, 30) == 0, gw.tail()
                assert all(_gone(pid) for pid in now)
                log = gw.log.read_text()
                assert "worker 0" in log or "worker 1" in log
                assert "died (signal 9); restarting" in log, log[-2000:]
    finally:
        await backend.stop()


def _gone(pid: int) -> bool:
    """Exited (or a zombie nobody reaped yet, the master having exited first)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
