"""Slow and oversized clients on a real socket: a slowloris (200 connections trickling their
headers at one byte a second) neither starves normal clients nor holds its connections past
the read timeout; a slow body, too many headers and too large a header get clear 4xx answers.
"""

from __future__ import annotations

import json
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import BACKENDS, fleet_template
from zeta_router.testing import Harness

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


def quartile(samples: list[float]) -> float:
    """The lower quartile: a client's own service time, above which a shared machine's noise
    (load from elsewhere, GIL hand-offs between the client and the gateway's threads) piles up,
    while a starved server delays every request, its fastest too."""
    return statistics.quantiles(samples, n=4, method="inclusive")[0]


def latencies(c: openai.OpenAI, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.chat.completions.create(model="small", messages=[{"role": "user", "content": "hi"}])
        out.append(time.perf_counter() - t0)
    return out


class Slowloris:
    """``slowloris_client.py`` against the gateway, turned on and off between measurements."""

    def __init__(self, port: int, n: int) -> None:
        script = str(Path(__file__).with_name("slowloris_client.py"))
        self.proc = subprocess.Popen(
            [sys.executable, script, str(port), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _line(self, timeout_s: float = 60.0) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        assert ready, f"no word from the slowloris client in {timeout_s} s"
        return self.proc.stdout.readline().strip()

    def _say(self, command: str, answer: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        assert self._line() == answer

    def go(self) -> None:
        """Returns once every slow connection has been closed by the server and replaced."""
        self._say("go", "ready")

    def pause(self) -> None:
        self._say("pause", "paused")

    def finish(self) -> dict[str, list[Any]]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        result: dict[str, list[Any]] = json.loads(self._line())
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(15)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


#: Turns of (unattacked, attacked) measurement, and requests in each half of a turn.
TURNS = 5
PER_TURN = 120
#: How much slower the attacked half of a turn may be than the unattacked one, by the median
#: over turns of their lower quartiles' ratio. Measured on the shared 2-core dev machine (load
#: 5 to 6): 0.99x to 1.11x as the gateway is; 13.6x when each slow read blocks the loop 5 ms,
#: all of its time at 200 reads a second; 1.65x at 2 ms (40% of it: slowed, not starved, and
#: not caught). p99 or the median, by contrast, moved up to 2.5x between runs of the gateway
#: as it is, with the machine's load.
STARVED = 3.0


def test_slowloris_neither_starves_clients_nor_holds_connections(gw: Harness) -> None:
    #: Per turn, the lower quartile of the normal client's latencies without and with the attack.
    turns: list[tuple[float, float]] = []
    attack = Slowloris(gw.port, SLOW)
    try:
        with openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0, timeout=20) as c:
            latencies(c, 30)  # warm-up: pools, caches
            # Side by side, turn by turn: the machine is shared, and its own load (which comes
            # and goes over seconds) must fall on both halves alike, not pass for a slowloris.
            # Every request of an attacked half is answered (the SDK raises otherwise) while
            # the slow connections are all open: ``go`` returns once the attack is steady.
            for _ in range(TURNS):
                unattacked = quartile(latencies(c, PER_TURN))
                attack.go()
                attacked = quartile(latencies(c, PER_TURN))
                attack.pause()
                turns.append((unattacked, attacked))
        result = attack.finish()
    finally:
        attack.close()
    lifetimes, answers = result["lifetimes"], result["answers"]
    # Against the same client in the same run, not against a number of milliseconds; the
    # median over turns, so one turn that the machine's load fell on unevenly moves it a place.
    slowdown = statistics.median(under / base for base, under in turns)
    print(
        "lower-quartile latency unattacked/under slowloris, per turn: "
        + ", ".join(f"{b * 1000:.2f}/{u * 1000:.2f} ms" for b, u in turns)
        + f"; slowdown {slowdown:.2f}x; {len(lifetimes)} slow connections closed after at most "
        f"{max(lifetimes):.2f} s"
    )
    assert slowdown < STARVED, turns
    # Every connection of every turn lived through a whole timeout.
    assert len(lifetimes) >= TURNS * SLOW
    # Closed within the read timeout (plus the slow client's own 1 s read granularity).
    assert max(lifetimes) < TIMEOUT_S + 1.2, max(lifetimes)
    assert all(a.startswith("HTTP/1.1 408") for a in answers), set(answers)
    assert '"code":"request_timeout"' in answers[0]


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
