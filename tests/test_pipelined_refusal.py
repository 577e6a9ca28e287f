"""A refusal of a pipelined request comes after the responses ahead of it, never before.

HTTP/1.1 answers requests in order. A client pipelines a second request behind a first one the
upstream is slow to answer, and the second is bad: its body or head never ends, it is garbage,
its head is too large. The gateway refuses it (408, 400, 431: ``HttpProtocol`` in
ops/serve.py) and closes the connection, but only after the first request's full answer: a
refusal written at once would be read as the answer to the first request, whose real answer
would then be lost on the closed connection.

Each case, on a real socket against the real gateway (uvloop and asyncio): the first request
waits at the backend (its one slot taken) when the client sends the second; once the server
holds the second with nothing pending that could answer it (no refusal written, no deadline
armed: a deadline starts only when the request is current), the first is let through. The
client must read the first request's 200, then the refusal, then the end of the connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from tests.conftest import BACKENDS, fleet_template
from tests.test_read_timeout_stall import answer
from zeta_router.testing import Harness

TIMEOUT_S = 0.3
MAX_HEADER_BYTES = 4096

CHAT = orjson.dumps({"model": "small", "messages": [{"role": "user", "content": "hi"}]})
FIRST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(CHAT), CHAT)
)

#: The pipelined second request, the status it must get, and what the server must hold of it
#: (besides nothing pending) before the first is let through.
CASES: dict[str, tuple[bytes, int, Callable[[Any], bool]]] = {
    "late body": (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{",
        408,
        lambda p: p._in_body and bool(p.pipeline),
    ),
    "late head": (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", 408, lambda p: p._in_head),
    "garbage": (b"BL\x00AH / HTTP/1.1\r\n\r\n", 400, lambda p: p._deferred is not None),
    # Its head is in (queued for the app), its body breaks the parser.
    "garbled body": (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
        lambda p: p._deferred is not None,
    ),
    "head too large": (
        b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 100),
        431,
        lambda p: p._deferred is not None,
    ),
}


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def gw(request: pytest.FixtureRequest) -> Iterator[Harness]:
    # The first request waits at the backend longer than the second's timeouts, well within
    # the upstream's.
    t = fleet_template(timeouts={"connect_s": 5.0, "first_byte_s": 30.0, "total_s": 60.0})
    t["server"] = {
        "header_timeout_s": TIMEOUT_S,
        "body_timeout_s": TIMEOUT_S,
        "max_header_bytes": MAX_HEADER_BYTES,
    }
    h = Harness(BACKENDS, t, event_loop=request.param)
    yield h
    h.close()


def wait_on_loop(gw: Harness, ready: Callable[[], bool], what: str) -> None:
    """Poll ``ready`` on the server's loop (where its state changes) until it holds."""

    async def poll() -> None:
        for _ in range(30_000):
            if ready():
                return
            await asyncio.sleep(0.001)
        raise AssertionError(f"never: {what}")

    gw.thread.run(poll())


def split_response(data: bytes) -> tuple[bytes, bytes, bytes]:
    """The first response in ``data`` (head, body by its Content-Length) and what follows."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, data[:300]
    lengths = [
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")[1:]
        if line.lower().startswith(b"content-length:")
    ]
    assert len(lengths) == 1, head
    return head, rest[: lengths[0]], rest[lengths[0] :]


@pytest.mark.parametrize("case", CASES)
def test_refusal_of_a_pipelined_request_follows_the_answer_ahead_of_it(
    gw: Harness, case: str
) -> None:
    second, status, holds = CASES[case]
    backend = gw.backend("s1")
    gw.set("s1", hold=True)  # the first request runs unanswered until released
    try:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as client:
            port = client.getsockname()[1]
            client.sendall(FIRST)
            wait_on_loop(gw, lambda: backend.running == 1, "the first request at the backend")
            client.sendall(second)

            def held() -> bool:
                proto = next((p for p in gw.connections() if p.client[1] == port), None)
                if proto is None or proto.transport.is_closing():
                    return True  # refused already (the bug): the client's read shows it
                pending = proto._deadline, proto._read_timer, proto._verdict
                return holds(proto) and pending == (None, None, None)

            wait_on_loop(gw, held, "the second request read, nothing pending for it")
            gw.set("s1", hold=False)
            out = answer(client)
    finally:
        gw.heal("s1")
    head, body, rest = split_response(out)
    assert head.startswith(b"HTTP/1.1 200"), out[:300]
    assert orjson.loads(body)["choices"]
    head, body, rest = split_response(rest)
    assert head.startswith(b"HTTP/1.1 %d" % status), head
    assert b"connection: close" in head.lower()
    assert orjson.loads(body)["error"]["message"]
    assert rest == b""  # then the end of the connection
