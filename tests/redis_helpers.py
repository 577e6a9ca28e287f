"""A real ``redis-server`` per test, and ``zeta-router serve`` processes sharing it.

The Redis tests skip, saying why, where the binary is missing (CI installs Debian's
``redis-server``; the README's test command still passes without it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from zeta_router.testing.fake_backend import FakeBackend

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
)

needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (Debian/Ubuntu: apt-get install redis-server); "
    "the shared-state tests run against a real one",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """One redis-server in a temp dir: no persistence, so a restart comes back empty, as a
    Redis without persistence (or a new one) does."""

    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 10
        while not _ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.dir / "redis.log").read_text()[-2000:])
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def status(self) -> dict[str, Any]:
        r = httpx.get(self.url + "/v1/router/status", params={"decisions": 0}, timeout=5)
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def replica(self, rid: str) -> dict[str, Any]:
        return next(r for r in self.status()["replicas"] if r["id"] == rid)

    def tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""


def write_config(path: Path, config: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(config))


def spawn(config: dict[str, Any], tmp: Path, name: str, *args: str) -> Gateway:
    """Start ``zeta-router serve`` on a free port (not waiting for it)."""
    cfg = tmp / f"{name}.yaml"
    write_config(cfg, config)
    port = free_port()
    log = tmp / f"{name}.log"
    cmd = [sys.executable, "-m", "zeta_router", "serve", "-c", str(cfg), "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    return Gateway(proc, f"http://127.0.0.1:{port}", log)


@contextlib.asynccontextmanager
async def gateway(
    config: dict[str, Any], tmp: Path, name: str, *args: str
) -> AsyncIterator[Gateway]:
    """``zeta-router serve`` on a free port, ready when /health answers."""
    gw = spawn(config, tmp, name, *args)
    proc = gw.proc
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited: {gw.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(gw.url + "/health")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} not ready: {gw.tail()}")
                await asyncio.sleep(0.05)
        yield gw
    finally:
        stop(proc)


@contextlib.asynccontextmanager
async def two_gateways(
    config: dict[str, Any], tmp: Path, **client: Any
) -> AsyncIterator[tuple[Gateway, Gateway, httpx.AsyncClient]]:
    """Two instances of one config, ``g1`` and ``g2``, and one client for both (``client``:
    httpx.AsyncClient's arguments, a 10 s timeout unless given)."""
    async with (
        gateway(config, tmp, "g1") as g1,
        gateway(config, tmp, "g2") as g2,
        httpx.AsyncClient(**{"timeout": 10, **client}) as http,
    ):
        yield g1, g2, http


@contextlib.asynccontextmanager
async def fake_pair() -> AsyncIterator[dict[str, FakeBackend]]:
    """Fake backends for replicas ``m-a`` and ``m-b``, in the test's event loop (so faults flip
    at once and what they saw is read directly)."""
    pair = {"m-a": FakeBackend("a"), "m-b": FakeBackend("b")}
    for b in pair.values():
        await b.start()
    try:
        yield pair
    finally:
        for b in pair.values():
            await b.stop()


async def status(client: httpx.AsyncClient, gw: Gateway) -> dict[str, Any]:
    """The instance's status API, without its decisions log."""
    r = await client.get(gw.url + "/v1/router/status", params={"decisions": 0})
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data


async def wait_for(check: Any, timeout_s: float, what: str) -> float:
    """Poll ``check()`` (sync or async) until true; returns the seconds it took."""
    start = time.monotonic()
    while True:
        ok = check()
        if asyncio.iscoroutine(ok):
            ok = await ok
        if ok:
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
