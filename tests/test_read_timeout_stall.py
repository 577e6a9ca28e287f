"""A stalled event loop does not turn a client that was on time into a 408.

The gateway bounds how long a request's head and body may take to arrive (``HttpProtocol`` in
ops/serve.py), with a timer. When the server's loop stalls past the deadline (the GIL held by
other work, a slow callback, a paused VM), that timer is due the moment the loop wakes, while the
bytes that arrived during the stall still sit unread in the socket's buffer: the verdict must
not be given before the loop has read them.

Each case, on a real socket against the real gateway, on uvloop (the gateway's loop) and on
asyncio's: the request is incomplete and its deadline pending when a callback on the server's
loop stalls it; the client sends the rest during the stall (before the deadline, as the test
checks), the stall lasts past the deadline; the client must get its normal answer. The stall
is a plain callback or an I/O callback (a slow ``data_received`` elsewhere): the two loops run
due timers at different points after each. A client that really stops still gets its 408 and
its close (tests/test_slowloris.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from tests.conftest import BACKENDS, fleet_template
from zeta_router.testing import Harness

TIMEOUT_S = 0.5

CHAT = orjson.dumps({"model": "small", "messages": [{"role": "user", "content": "hi"}]})
REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(CHAT), CHAT)
)


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def gw(request: pytest.FixtureRequest) -> Iterator[Harness]:
    t = fleet_template()
    t["server"] = {"header_timeout_s": TIMEOUT_S, "body_timeout_s": TIMEOUT_S}
    h = Harness(BACKENDS, t, event_loop=request.param)
    yield h
    h.close()


#: How much of the request the client sends before the stall, and what the server must have
#: made of it when the stall begins (the deadline it is waiting on).
CASES: dict[str, tuple[int, Callable[[Any], bool]]] = {
    # The head's deadline counts from the connection.
    "nothing sent": (0, lambda p: p._deadline is not None and p._what == "headers"),
    "half the head": (40, lambda p: p._deadline is not None and p._in_head),
    "half the body": (len(REQUEST) - 10, lambda p: p._deadline is not None and p._in_body),
}


def stall_through_deadline(
    gw: Harness, client: socket.socket, rest: bytes, pending: Callable[[Any], bool], kind: str
) -> bool:
    """Once the server holds ``client``'s connection in the ``pending`` state, stall its loop
    in a callback of ``kind``: send ``rest`` from inside the stall, then hold the loop until
    past the deadline. Returns whether ``rest`` was sent before the deadline."""
    loop = gw.thread.loop
    port = client.getsockname()[1]
    rsock, wsock = socket.socketpair()
    stalled = threading.Event()
    on_time: list[bool] = []

    def stall(proto: Any) -> None:
        if kind == "I/O callback":
            loop.remove_reader(rsock)
        deadline = proto._deadline
        client.sendall(rest)  # the client is done: the rest is in the server's socket buffer
        on_time.append(loop.time() < deadline)
        time.sleep(max(0.0, deadline - loop.time()) + TIMEOUT_S / 2)  # the stall itself
        stalled.set()

    def poll(tries: int) -> None:
        proto = next((p for p in gw.connections() if p.client and p.client[1] == port), None)
        if proto is None or not pending(proto):
            if tries:
                loop.call_later(0.001, poll, tries - 1)
            return
        if kind == "callback":
            loop.call_soon(stall, proto)
        else:
            loop.add_reader(rsock, stall, proto)
            wsock.send(b"!")

    try:
        loop.call_soon_threadsafe(poll, 10_000)
        assert stalled.wait(30), "the connection never reached the state to stall in"
    finally:
        rsock.close()
        wsock.close()
    return on_time == [True]


def answer(client: socket.socket) -> bytes:
    """All the server sends until it closes (a reset, for a close with the request unread)."""
    out = b""
    try:
        while chunk := client.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return out


@pytest.mark.parametrize("kind", ["callback", "I/O callback"])
@pytest.mark.parametrize("case", CASES)
def test_request_on_time_is_answered_after_a_stall_past_its_deadline(
    gw: Harness, case: str, kind: str
) -> None:
    sent, pending = CASES[case]
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as client:
        client.sendall(REQUEST[:sent])
        on_time = stall_through_deadline(gw, client, REQUEST[sent:], pending, kind)
        assert on_time, "setup: the request was not complete before its deadline"
        out = answer(client)
    assert out.startswith(b"HTTP/1.1 200"), out[:300]
    assert orjson.loads(out.partition(b"\r\n\r\n")[2])["choices"]
