"""Slow and oversized clients on a real socket: a slowloris (200 connections trickling their
headers at one byte a second) neither starves normal clients nor holds its connections past
the read timeout; a slow body, too many headers and too large a header get clear 4xx answers.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import openai
import pytest

from tests.conftest import BACKENDS, fleet_template
from zeta_router.testing import Harness
from zeta_router.testing.harness import LoopThread

TIMEOUT_S = 1.5
SLOW = 200


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    t = fleet_template()
    t["server"] = {
        "header_timeout_s": TIMEOUT_S,
        "body_timeout_s": TIMEOUT_S,
        "max_headers": 20,
        "max_header_bytes": 4096,
    }
    h = Harness(BACKENDS, t)
    yield h
    h.close()


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def latencies(c: openai.OpenAI, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.chat.completions.create(model="small", messages=[{"role": "user", "content": "hi"}])
        out.append(time.perf_counter() - t0)
    return out


@dataclass
class Trickle:
    """Connections that send a request's head one byte a second, replaced once closed."""

    port: int
    lifetimes: list[float] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)
    open: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def one(self) -> None:
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.open += 1
        start = time.monotonic()
        got = b""
        try:
            for byte in head:
                writer.write(bytes([byte]))
                try:
                    got = await asyncio.wait_for(reader.read(4096), 1.0)
                except TimeoutError:
                    continue
                break  # an answer, or EOF: the server is done with us
            self.lifetimes.append(time.monotonic() - start)
            self.answers.append(got)
        finally:
            self.open -= 1
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def keep(self) -> None:
        async def slot() -> None:
            while not self.stop.is_set():
                await self.one()

        await asyncio.gather(*(slot() for _ in range(SLOW)))


def test_slowloris_neither_starves_clients_nor_holds_connections(gw: Harness) -> None:
    with openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0, timeout=20) as c:
        latencies(c, 30)  # warm-up: pools, caches
        unloaded = latencies(c, 300)
        loop = LoopThread()
        trickle = Trickle(gw.port)
        task = asyncio.run_coroutine_threadsafe(trickle.keep(), loop.loop)
        try:
            for _ in range(500):  # bounded poll until all slow connections are open
                if trickle.open >= SLOW:
                    break
                time.sleep(0.01)
            assert trickle.open >= SLOW
            loaded = latencies(c, 300)
            # Let every slot live through at least one whole timeout.
            deadline = time.monotonic() + 10
            while len(trickle.lifetimes) < SLOW and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            loop.loop.call_soon_threadsafe(trickle.stop.set)
            task.result(15)
            loop.close()
    base, under = p99(unloaded), p99(loaded)
    print(
        f"p99 unloaded {base * 1000:.2f} ms, under slowloris {under * 1000:.2f} ms; "
        f"slow connections closed after at most {max(trickle.lifetimes):.2f} s"
    )
    assert under < 2 * base, f"p99 {under * 1000:.2f} ms under slowloris vs {base * 1000:.2f} ms"
    assert len(trickle.lifetimes) >= SLOW
    # Closed within the read timeout (plus the client's own 1 s read granularity).
    assert max(trickle.lifetimes) < TIMEOUT_S + 1.2, max(trickle.lifetimes)
    assert all(a.startswith(b"HTTP/1.1 408") for a in trickle.answers), set(trickle.answers)
    assert b'"code":"request_timeout"' in trickle.answers[0]


def raw(port: int, data: bytes, then_wait: float = 5.0) -> tuple[bytes, float]:
    """Send ``data``, then read until the server closes; returns what came and how long."""
    with socket.create_connection(("127.0.0.1", port), timeout=then_wait) as s:
        start = time.monotonic()
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out, time.monotonic() - start


def test_slow_body_is_408_within_the_body_timeout(gw: Harness) -> None:
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    out, took = raw(gw.port, head)
    assert out.startswith(b"HTTP/1.1 408"), out
    assert TIMEOUT_S - 0.1 < took < TIMEOUT_S + 1.0


def test_idle_connection_is_closed_within_the_header_timeout(gw: Harness) -> None:
    out, took = raw(gw.port, b"")
    assert out == b"" and took < TIMEOUT_S + 1.0


def test_too_many_or_too_large_headers_are_431(gw: Harness) -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    out, _ = raw(gw.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert out.startswith(b"HTTP/1.1 431"), out
    assert b'"type":"invalid_request_error"' in out
    big = b"X-Big: " + b"a" * 8000 + b"\r\n"
    out, _ = raw(gw.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert out.startswith(b"HTTP/1.1 431"), out
    # A head that never ends is cut at the limit, not buffered.
    out, _ = raw(gw.port, b"GET /health HTTP/1.1\r\nX-Endless: " + b"b" * 100_000)
    assert out.startswith(b"HTTP/1.1 431"), out
    # Within the limits, as before.
    out, _ = raw(gw.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200"), out
